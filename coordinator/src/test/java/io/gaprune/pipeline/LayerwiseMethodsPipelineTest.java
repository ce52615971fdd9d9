package io.gaprune.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.planner.MethodSpec;
import io.gaprune.progress.Progress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Wanda, SparseGPT (2:4) and the reconstructing DAI in one {@code compare} on MiniLM: their input statistics come
 * from the same embedded session as the Fisher, their masks have the promised shape, and the reconstruction lowers
 * the layers' error on the calibration inputs. The session's statistics, saved with their input statistics, plan
 * Wanda again without a session and give the same masks.
 */
@Tag("slow")
class LayerwiseMethodsPipelineTest {

  @Test
  void compareRunsWandaSparseGptAndTheReconstructingDai(@TempDir Path dir) throws Exception {
    var root = Path.of(System.getProperty("gaprune.root", "."));
    var sample = root.resolve("data/sample");
    var beir = SmallBeir.slice(sample.resolve("chem-dev"), dir.resolve("chem-small"), 30, 200);
    var out = dir.resolve("out");
    var options = new PipelineOptions("minilm", sample.resolve("general-train.json"),
        sample.resolve("chem-train.json"), 0.5, "mlp", "dai-calibrated", "global", 1, 32, List.of(beir), 0, 3, 48, 16,
        out, PipelineOptions.ScoringParameters.paper(), null, true);
    var notes = new ArrayList<String>();
    var progress = new Progress() {
      @Override
      public void begin(String phase, long total, String unit) {}

      @Override
      public void update(long done) {}

      @Override
      public void end() {}

      @Override
      public void note(String message) {
        notes.add(message);
      }
    };
    var methods = List.of("dai-calibrated", "dai-calibrated:reconstruct=1", "wanda", "sparsegpt:n=2:m=4",
        "dai-calibrated:input=1");
    var report = new PruningPipeline(options, progress, System.err)
        .compare(methods.stream().map(MethodSpec::parse).toList(), List.of(0.5));

    assertEquals(List.of("dense", "dai-calibrated", "dai-calibrated:reconstruct=1", "wanda", "sparsegpt:n=2:m=4",
        "dai-calibrated:input=1"), report.evaluations().stream().map(e -> e.variant()).toList());
    var masks = out.resolve("masks");
    var dai = Masks.read(masks.resolve("dai-calibrated.safetensors"));
    var reconstructed = Masks.read(masks.resolve("dai-calibrated_reconstruct_1.safetensors"));
    for (var e : dai.entrySet()) {
      assertArrayEquals(e.getValue(), reconstructed.get(e.getKey()), "reconstruction keeps the mask " + e.getKey());
    }
    // the input term: the session collected Σx² for it; the same count pruned, other weights chosen
    var inputTerm = Masks.read(masks.resolve("dai-calibrated_input_1.safetensors"));
    assertEquals(dai.keySet(), inputTerm.keySet());
    long kept = 0;
    long keptWithInput = 0;
    long differ = 0;
    for (var e : dai.entrySet()) {
      var other = inputTerm.get(e.getKey());
      for (int i = 0; i < other.length; i++) {
        kept += e.getValue()[i];
        keptWithInput += other[i];
        differ += e.getValue()[i] != other[i] ? 1 : 0;
      }
    }
    assertEquals(kept, keptWithInput);
    assertTrue(differ > 0, "the input term changed no weight's fate");
    var wanda = Masks.read(masks.resolve("wanda.safetensors"));
    assertEquals(12, wanda.size());
    for (var e : wanda.entrySet()) {
      int cols = e.getKey().contains("intermediate") ? 384 : 1536;
      int rows = e.getValue().length / cols;
      for (int r = 0; r < rows; r++) {
        int pruned = 0;
        for (int j = 0; j < cols; j++) {
          pruned += 1 - e.getValue()[r * cols + j];
        }
        assertEquals(cols / 2, pruned, e.getKey() + " row " + r);
      }
    }
    var sparseGpt = Masks.read(masks.resolve("sparsegpt_n_2_m_4.safetensors"));
    for (var e : sparseGpt.entrySet()) {
      var mask = e.getValue();
      for (int g = 0; g < mask.length; g += 4) {
        assertEquals(2, mask[g] + mask[g + 1] + mask[g + 2] + mask[g + 3], e.getKey() + " group at " + g);
      }
    }
    // the reconstruction lowered the error of every layer's mask on the calibration inputs
    var pattern = Pattern.compile("reconstructed 12 tensors, mean relative error on the calibration inputs "
        + "([0-9.]+) -> ([0-9.]+)");
    var line = notes.stream().filter(n -> pattern.matcher(n).find()).findFirst().orElseThrow(() ->
        new AssertionError("no reconstruction note in " + notes));
    var m = pattern.matcher(line);
    assertTrue(m.find());
    double before = Double.parseDouble(m.group(1));
    double after = Double.parseDouble(m.group(2));
    assertTrue(after < before && before > 0, line);
    for (var e : report.evaluations()) {
      assertTrue(e.metrics().get("ndcg@10") > 0, e.variant());
    }
    assertTrue(Files.readString(out.resolve("masks/wanda.json")).contains("\"budget\": \"per layer\""));

    // planned again from the saved statistics, without a session: the same Wanda masks, bit for bit (the input
    // statistics went through the file unchanged; the Gram matrices' round trip is StatisticsFileTest's)
    var saved = out.resolve("statistics.safetensors");
    var again = dir.resolve("again");
    var fromFile = new PipelineOptions("minilm", sample.resolve("general-train.json"),
        sample.resolve("chem-train.json"), 0.5, "mlp", "dai-calibrated", "global", 1, 32, List.of(beir), 0, 3, 48, 16,
        again, PipelineOptions.ScoringParameters.paper(), saved, false);
    notes.clear();
    new PruningPipeline(fromFile, progress, System.err).compare(List.of(MethodSpec.parse("wanda"),
        MethodSpec.parse("dai-calibrated:input=1"), MethodSpec.parse("dai-calibrated:adaptive=1")), List.of(0.5),
        false);
    assertTrue(notes.stream().anyMatch(n -> n.startsWith("statistics from " + saved) && n.endsWith(
        ", 12 tensors, input statistics Σx² and Σx·xᵀ")), notes.toString());
    var replanned = Masks.read(again.resolve("masks/wanda.safetensors"));
    assertEquals(wanda.keySet(), replanned.keySet());
    for (var e : wanda.entrySet()) {
      assertArrayEquals(e.getValue(), replanned.get(e.getKey()), "wanda from the file " + e.getKey());
    }
    var inputTermAgain = Masks.read(again.resolve("masks/dai-calibrated_input_1.safetensors"));
    for (var e : inputTerm.entrySet()) {
      assertArrayEquals(e.getValue(), inputTermAgain.get(e.getKey()), "input term from the file " + e.getKey());
    }
    // the adaptive reconstruction: dai-calibrated's count per tensor, other weights chosen, a lower error
    var adaptiveFile = again.resolve("masks/dai-calibrated_adaptive_1.safetensors");
    var adaptive = Masks.read(adaptiveFile);
    assertEquals(dai.keySet(), adaptive.keySet());
    long moved = 0;
    for (var e : dai.entrySet()) {
      var other = adaptive.get(e.getKey());
      long pruned = 0;
      long prunedAdaptive = 0;
      for (int i = 0; i < other.length; i++) {
        pruned += 1 - e.getValue()[i];
        prunedAdaptive += 1 - other[i];
        moved += e.getValue()[i] != other[i] ? 1 : 0;
      }
      assertEquals(pruned, prunedAdaptive, "the plan's budget of " + e.getKey());
    }
    assertTrue(moved > 0, "the adaptive selection moved no weight");
    try (var file = io.gaprune.model.safetensors.SafetensorsFile.open(adaptiveFile)) {
      assertEquals("1.0", file.metadata().get("gaprune.adaptive"));
      assertEquals("masks", file.metadata().get("gaprune.kind"));
    }
    var adaptivePattern = Pattern.compile("adaptive reconstruction of 12 tensors, mean relative error on the "
        + "calibration inputs ([0-9.]+) \\(the plan's mask\\) -> ([0-9.]+)");
    var adaptiveLine = notes.stream().filter(n -> adaptivePattern.matcher(n).find()).findFirst().orElseThrow(() ->
        new AssertionError("no adaptive reconstruction note in " + notes));
    var am = adaptivePattern.matcher(adaptiveLine);
    assertTrue(am.find());
    assertTrue(Double.parseDouble(am.group(2)) < Double.parseDouble(am.group(1)), adaptiveLine);
  }
}
