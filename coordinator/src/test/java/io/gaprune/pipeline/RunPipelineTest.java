package io.gaprune.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonParser;
import io.gaprune.eval.BeirReader;
import io.gaprune.eval.RetrievalEvaluator;
import io.gaprune.model.LayerType;
import io.gaprune.model.ModelLoader;
import io.gaprune.model.safetensors.SafetensorsFile;
import io.gaprune.planner.MethodSpec;
import io.gaprune.progress.Progress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job end to end on the real MiniLM and real data, kept small: 48 + 48 representative triplets, a
 * 40-query slice of the chemistry dev set, 50% of the MLP, two retraining steps.
 */
@Tag("slow")
class RunPipelineTest {

  @Test
  void prunesEvaluatesRetrainsAndWritesALoadableModel(@TempDir Path dir) throws Exception {
    var root = Path.of(System.getProperty("gaprune.root", "."));
    var sample = root.resolve("data/sample");
    var beir = SmallBeir.slice(sample.resolve("chem-dev"), dir.resolve("chem-small"), 40, 300);
    var out = dir.resolve("out");
    var options = new PipelineOptions("minilm", sample.resolve("general-train.json"),
        sample.resolve("chem-train.json"), 0.5, "mlp", "dai", "global", 1, 48, List.of(beir), 2, 7, 64, 16, out);

    var report = new PruningPipeline(options, Progress.SILENT, System.err).run();

    for (var file : List.of("model/config.json", "model/model.safetensors", "model/tokenizer.json",
        "model/tokenizer_config.json", "model/README.md", "model/modules.json", "masks.safetensors", "report.json", "report.md", "report.html",
        "calibration/general.json", "calibration/domain.json")) {
      assertTrue(Files.isRegularFile(out.resolve(file)), file + " missing");
    }
    // Exactly k = floor(0.5 × candidates) weights pruned, and exactly those are zero in the written model.
    assertEquals(report.candidates() / 2, report.pruned());
    assertEquals(0.5, report.sparsityActual(), 1e-12);
    long zeros = 0;
    long candidates = 0;
    try (var weights = SafetensorsFile.open(out.resolve("model/model.safetensors"))) {
      for (var tensor : weights.tensors()) {
        if (LayerType.isCandidate(LayerType.parse("mlp"), tensor.name(), tensor.shape())) {
          float[] values = new float[Math.toIntExact(tensor.elementCount())];
          weights.readFloats(tensor.name(), 0, values, 0, values.length);
          candidates += values.length;
          for (float v : values) {
            if (v == 0f) {
              zeros++;
            }
          }
        }
      }
    }
    assertEquals(report.candidates(), candidates);
    assertEquals(report.pruned(), zeros, "zeros in the retrained checkpoint's candidate tensors");

    // dense, pruned and retrained rows; the report's JSON says the same.
    var variants = report.evaluations().stream().map(e -> e.variant()).toList();
    assertEquals(List.of("dense", "dai", "dai+retrain"), variants);
    var json = JsonParser.parseString(Files.readString(out.resolve("report.json"))).getAsJsonObject();
    assertEquals(3, json.getAsJsonArray("evaluations").size());
    assertEquals(6, json.getAsJsonArray("layers").size());

    // The written folder loads through --model PATH and scores what the report says of the final variant.
    double reported = report.evaluations().get(2).metrics().get("ndcg@10");
    try (var manager = NDManager.newBaseManager();
        var reloaded = ModelLoader.load(out.resolve("model").toString(), manager, DataType.FLOAT32, 64)) {
      var result = new RetrievalEvaluator(32, Progress.SILENT).evaluate(reloaded, BeirReader.read(beir, System.err));
      assertEquals(reported, result.ndcg10(), 1e-6);
    }
    assertTrue(report.evaluations().get(0).metrics().get("ndcg@10") > 0.2, "dense MiniLM should retrieve");

    // What other tools read: tokenizer_config.json as all-MiniLM-L6-v2 ships it, a card that states this run.
    var tokenizerConfig = JsonParser.parseString(Files.readString(out.resolve("model/tokenizer_config.json")))
        .getAsJsonObject();
    assertEquals("BertTokenizer", tokenizerConfig.get("tokenizer_class").getAsString());
    assertEquals(512, tokenizerConfig.get("model_max_length").getAsInt());
    assertTrue(tokenizerConfig.get("do_lower_case").getAsBoolean());
    assertEquals("[PAD]", tokenizerConfig.get("pad_token").getAsString());
    var card = Files.readString(out.resolve("model/README.md"));
    assertTrue(card.startsWith("---\nbase_model: sentence-transformers/all-MiniLM-L6-v2\nlibrary_name: "
        + "sentence-transformers\npipeline_tag: sentence-similarity\n"), card);
    assertTrue(card.contains(String.format(java.util.Locale.ROOT, "with %,d of its %,d candidate weights",
        report.pruned(), report.candidates())), card);
    assertTrue(card.contains(String.format(java.util.Locale.ROOT, "| mlp | %,d | %,d | 0.5000 |", report.candidates(),
        report.pruned())), card);
    assertTrue(card.contains("| domain | `" + sample.resolve("chem-train.json") + "` | 48 |"), card);
    assertTrue(card.contains("then retrained for 2 steps"), card);
    for (var e : report.evaluations()) {
      assertTrue(card.contains(String.format(java.util.Locale.ROOT, "| %s | %.4f |", e.variant(),
          e.metrics().get("ndcg@10"))), e.variant() + " missing from the card's evaluation:\n" + card);
    }
    var markdown = Files.readString(out.resolve("report.md"));
    assertTrue(markdown.contains("| model | minilm |") && markdown.indexOf("| model | minilm |")
        < markdown.indexOf("| variant |"), markdown);
  }

  /**
   * compare: one session, each method applied to the dense weights (not on top of the previous method's
   * pruning): the second method's masks applied to a freshly loaded model reproduce its reported score.
   */
  @Test
  void compareScoresEachMethodFromTheDenseModel(@TempDir Path dir) throws Exception {
    var root = Path.of(System.getProperty("gaprune.root", "."));
    var sample = root.resolve("data/sample");
    var beir = SmallBeir.slice(sample.resolve("chem-dev"), dir.resolve("chem-small"), 30, 200);
    var out = dir.resolve("out");
    var options = new PipelineOptions("minilm", sample.resolve("general-train.json"),
        sample.resolve("chem-train.json"), 0.6, "mlp", "dai", "global", 1, 32, List.of(beir), 0, 3, 48, 16, out);

    var report = new PruningPipeline(options, Progress.SILENT, System.err)
        .compare(List.of(io.gaprune.planner.ScoringMethod.DAI, io.gaprune.planner.ScoringMethod.MAGNITUDE,
            io.gaprune.planner.ScoringMethod.RANDOM));

    assertEquals(List.of("dense", "dai", "magnitude", "random"),
        report.evaluations().stream().map(e -> e.variant()).toList());
    for (var method : List.of("dai", "magnitude", "random")) {
      assertTrue(Files.isRegularFile(out.resolve("masks/" + method + ".safetensors")), method);
    }
    double reported = report.evaluations().get(2).metrics().get("ndcg@10");
    try (var manager = NDManager.newBaseManager();
        var fresh = ModelLoader.load("minilm", manager, DataType.FLOAT32, 48)) {
      Masks.apply(fresh.encoder(), Masks.read(out.resolve("masks/magnitude.safetensors")), manager);
      var result = new RetrievalEvaluator(32, Progress.SILENT).evaluate(fresh, BeirReader.read(beir, System.err));
      assertEquals(reported, result.ndcg10(), 1e-6);
    }
    var markdown = Files.readString(out.resolve("report.md"));
    assertTrue(markdown.contains("| magnitude |") && markdown.contains("| random |"), markdown);
    // the page draws each method against sparsity (from dense at 0) and the chosen plan's tensors
    var html = Files.readString(out.resolve("report.html"));
    assertEquals(3, html.split("class=\"method-line\"", -1).length - 1, "one line per method");
    assertEquals(12, html.split("class=\"cell\"", -1).length - 1, "MiniLM's 6 layers × 2 MLP tensors");
    assertEquals("dai", report.chosen());
  }

  /**
   * compare from a saved statistics file: no session, several sparsities and per-method hyperparameters in one
   * run; dai-calibrated with q = 0 prunes exactly magnitude's weights (its definition), and a file computed on
   * another model is refused by name.
   */
  @Test
  void compareReplansFromSavedStatisticsAtSeveralSparsities(@TempDir Path dir) throws Exception {
    var root = Path.of(System.getProperty("gaprune.root", "."));
    var sample = root.resolve("data/sample");
    var beir = SmallBeir.slice(sample.resolve("chem-dev"), dir.resolve("chem-small"), 20, 120);
    var first = dir.resolve("first");
    var general = sample.resolve("general-train.json");
    var domain = sample.resolve("chem-train.json");
    var compute = new PipelineOptions("minilm", general, domain, 0.5, "mlp", "magnitude", "global", 1, 32,
        List.of(beir), 0, 5, 48, 16, first, PipelineOptions.ScoringParameters.paper(), null, true);
    new PruningPipeline(compute, Progress.SILENT, System.err)
        .compare(List.of(MethodSpec.of(io.gaprune.planner.ScoringMethod.MAGNITUDE)), List.of(0.5));
    var file = first.resolve("statistics.safetensors");
    assertTrue(Files.isRegularFile(file));

    var second = dir.resolve("second");
    var replan = new PipelineOptions("minilm", general, domain, 0.5, "mlp", "magnitude", "global", 1, 32,
        List.of(beir), 0, 5, 48, 16, second, PipelineOptions.ScoringParameters.paper(), file, false);
    var report = new PruningPipeline(replan, Progress.SILENT, System.err).compare(
        List.of(MethodSpec.parse("dai-calibrated:q=0"), MethodSpec.of(io.gaprune.planner.ScoringMethod.MAGNITUDE),
            MethodSpec.parse("dai-calibrated:q=0.5:lambda=0:a=0.5")), List.of(0.5, 0.7));
    assertEquals(List.of("dense", "dai-calibrated:q=0@50", "magnitude@50", "dai-calibrated:q=0.5:lambda=0:a=0.5@50",
        "dai-calibrated:q=0@70", "magnitude@70", "dai-calibrated:q=0.5:lambda=0:a=0.5@70"),
        report.evaluations().stream().map(e -> e.variant()).toList());
    // --sparsities overrides --sparsity (0.5 here, as the first): the report must say what was planned.
    assertEquals(List.of(0.5, 0.7), report.configuration().get("sparsities"));
    assertTrue(report.timingsSeconds().containsKey("read statistics"), report.timingsSeconds().toString());
    assertTrue(!report.timingsSeconds().containsKey("statistics"), "no session may run");
    for (var pct : List.of("50", "70")) {
      var calibrated = Masks.read(second.resolve("masks/dai-calibrated_q_0@" + pct + ".safetensors"));
      var magnitude = Masks.read(second.resolve("masks/magnitude@" + pct + ".safetensors"));
      assertEquals(magnitude.keySet(), calibrated.keySet());
      magnitude.forEach((name, mask) -> assertTrue(java.util.Arrays.equals(mask, calibrated.get(name)), name));
      long candidates = magnitude.values().stream().mapToLong(m -> m.length).sum();
      assertEquals(io.gaprune.planner.Budgets.floorOf(Integer.parseInt(pct) / 100.0, candidates),
          Masks.prunedCount(magnitude));
    }
    // The same evaluation of the dense model as in the run that computed the statistics.
    var firstReport = JsonParser.parseString(Files.readString(first.resolve("report.json"))).getAsJsonObject();
    assertEquals(firstReport.getAsJsonArray("evaluations").get(0).getAsJsonObject().getAsJsonObject("metrics")
        .get("ndcg@10").getAsDouble(), report.evaluations().get(0).metrics().get("ndcg@10"), 1e-9);

    // --no-dense: the methods' rows only, each the same as in the run that evaluated dense first.
    var third = new PipelineOptions("minilm", general, domain, 0.5, "mlp", "magnitude", "global", 1, 32,
        List.of(beir), 0, 5, 48, 16, dir.resolve("no-dense"), PipelineOptions.ScoringParameters.paper(), file, false);
    var withoutDense = new PruningPipeline(third, Progress.SILENT, System.err).compare(
        List.of(MethodSpec.of(io.gaprune.planner.ScoringMethod.MAGNITUDE)), List.of(0.7), false);
    assertEquals(List.of("magnitude"), withoutDense.evaluations().stream().map(e -> e.variant()).toList());
    assertEquals(report.evaluations().get(5).metrics().get("ndcg@10"),
        withoutDense.evaluations().get(0).metrics().get("ndcg@10"), 1e-9);
    assertTrue(Files.readString(dir.resolve("no-dense/report.md")).contains("| magnitude |"));

    var wrongModel = new PipelineOptions("bge-small", general, domain, 0.5, "mlp", "magnitude", "global", 1, 32,
        List.of(beir), 0, 5, 48, 16, dir.resolve("third"), PipelineOptions.ScoringParameters.paper(), file, false);
    var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> new PruningPipeline(wrongModel, Progress.SILENT, System.err).compare(
            List.of(MethodSpec.of(io.gaprune.planner.ScoringMethod.MAGNITUDE)), List.of(0.5)));
    assertTrue(e.getMessage().contains("computed on model \"minilm\"") && e.getMessage().contains("bge-small"),
        e.getMessage());
  }
}
