package io.gaprune.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.planner.MethodSpec;
import io.gaprune.planner.Structure;
import io.gaprune.progress.Progress;
import io.gaprune.report.RunReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code compare --retrain-steps}: the dense model is retrained the same way as the pruned variants, as a row of
 * its own, and its retraining does not reach the variants (each is pruned from the dense weights): the pruned row
 * of a compare with retraining is the same, metric for metric, as that of a compare without; and
 * {@code --retrained-only} skips the untrained evaluations without changing the retrained ones.
 */
@Tag("slow")
class CompareRetrainTest {

  @Test
  void denseIsRetrainedAsTheVariantsAreAndPutBack(@TempDir Path dir) throws Exception {
    var root = Path.of(System.getProperty("gaprune.root", "."));
    var sample = root.resolve("data/sample");
    var beir = SmallBeir.slice(sample.resolve("chem-dev"), dir.resolve("chem-small"), 30, 200);
    var methods = List.of(MethodSpec.parse("magnitude"));

    var retrained = new PruningPipeline(options(sample, beir, dir.resolve("retrained"), 2), Progress.SILENT,
        System.err).compare(methods, List.of(0.5));
    assertEquals(List.of("dense", RunReport.DENSE_RETRAINED, "magnitude", "magnitude+retrain"),
        retrained.evaluations().stream().map(RunReport.Evaluation::variant).toList());
    var denseRetrained = retrained.evaluations().get(1);
    assertEquals(RunReport.DENSE_RETRAINED, denseRetrained.method());
    assertNull(denseRetrained.sparsity());
    assertTrue(denseRetrained.metrics().get("ndcg@10") > 0);

    var plain = new PruningPipeline(options(sample, beir, dir.resolve("plain"), 0), Progress.SILENT, System.err)
        .compare(methods, List.of(0.5));
    assertEquals(List.of("dense", "magnitude"), plain.evaluations().stream().map(RunReport.Evaluation::variant)
        .toList());
    assertEquals(plain.evaluations().get(1).metrics(), retrained.evaluations().get(2).metrics(),
        "the pruned variant saw the dense model's retraining");
    var a = Masks.read(dir.resolve("plain/masks/magnitude.safetensors"));
    var b = Masks.read(dir.resolve("retrained/masks/magnitude.safetensors"));
    for (var e : a.entrySet()) {
      assertArrayEquals(e.getValue(), b.get(e.getKey()), e.getKey());
    }
    assertTrue(Files.readString(dir.resolve("retrained/report.md")).contains(RunReport.DENSE_RETRAINED));

    // --retrained-only: the same retraining, only the retrained models evaluated
    var point = List.of(new PruningPoint(Structure.UNSTRUCTURED, 0.5));
    var only = new PruningPipeline(options(sample, beir, dir.resolve("only"), 2), Progress.SILENT, System.err)
        .compareAt(methods, point, true, false);
    assertEquals(List.of(RunReport.DENSE_RETRAINED, "magnitude+retrain"),
        only.evaluations().stream().map(RunReport.Evaluation::variant).toList());
    assertEquals(retrained.evaluations().get(1).metrics(), only.evaluations().get(0).metrics(),
        "the dense model's retraining changed when its untrained evaluation was skipped");
    assertEquals(retrained.evaluations().get(3).metrics(), only.evaluations().get(1).metrics(),
        "the variant's retraining changed when its untrained evaluation was skipped");
    var noSteps = assertThrows(IllegalArgumentException.class, () -> new PruningPipeline(
        options(sample, beir, dir.resolve("no-steps"), 0), Progress.SILENT, System.err)
        .compareAt(methods, point, true, false));
    assertTrue(noSteps.getMessage().contains("--retrain-steps"), noSteps.getMessage());
    assertFalse(Files.exists(dir.resolve("no-steps")), "a refused compare made its output folder");
  }

  private static PipelineOptions options(Path sample, Path beir, Path out, int retrainSteps) {
    return new PipelineOptions("minilm", sample.resolve("general-train.json"), sample.resolve("chem-train.json"),
        0.5, "mlp", "magnitude", "global", 1, 32, List.of(beir), retrainSteps, 3, 48, 16, out,
        PipelineOptions.ScoringParameters.paper(), null, false);
  }
}
