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
        "model/modules.json", "masks.safetensors", "report.json", "report.md", "report.html",
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
  }
}
