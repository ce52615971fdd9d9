package io.gaprune.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.planner.Alignment;
import io.gaprune.planner.Calibration;
import io.gaprune.planner.MethodSpec;
import io.gaprune.planner.PostProcess;
import io.gaprune.planner.ScoringMethod;
import io.gaprune.planner.Structure;
import io.gaprune.progress.Progress;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PipelineOptionsTest {

  private static final Path SAMPLE = Path.of(System.getProperty("gaprune.root", ".")).resolve("data/sample");

  private static PipelineOptions options(double sparsity, String layers, String scoring, int workers, Path domain,
      PipelineOptions.ScoringParameters parameters) {
    return new PipelineOptions("minilm", SAMPLE.resolve("general-train.json"), domain, sparsity, layers, scoring,
        "global", workers, 0, List.of(SAMPLE.resolve("chem-dev")), 0, 1, 128, 16, Path.of("out"), parameters, null,
        false);
  }

  private static String error(Function<Void, Object> build) {
    return assertThrows(IllegalArgumentException.class, () -> build.apply(null)).getMessage();
  }

  @Test
  void badOptionsAreNamed() {
    var chem = SAMPLE.resolve("chem-train.json");
    var paper = PipelineOptions.ScoringParameters.paper();
    assertTrue(error(v -> options(1.5, "mlp", "dai", 1, chem, paper)).contains("--sparsity must lie in [0, 1]"));
    assertTrue(error(v -> options(-0.1, "mlp", "dai", 1, chem, paper)).contains("--sparsity"));
    assertTrue(error(v -> options(0.5, "convolution", "dai", 1, chem, paper)).contains("valid"));
    assertTrue(error(v -> options(0.5, "mlp", "best", 1, chem, paper)).contains("unknown scoring method"));
    assertTrue(error(v -> options(0.5, "mlp", "dai", 0, chem, paper)).contains("--workers"));
    assertTrue(error(v -> options(0.5, "mlp", "dai", 1, Path.of("nope.json"), paper)).contains("nope.json"));
    assertTrue(error(v -> new PipelineOptions.ScoringParameters(1, 0.5, 0.2, "row", "none"))
        .contains("unknown alignment \"row\" (valid: tensor, local)"));
    assertTrue(error(v -> new PipelineOptions.ScoringParameters(Double.NaN, 0.5, 0.2, "tensor", "none"))
        .contains("finite"));
  }

  @Test
  void theOwlBudgetRefusesNmBeforeTheRunWritesAnything(@TempDir Path dir) {
    var chem = SAMPLE.resolve("chem-train.json");
    var out = dir.resolve("out");
    var nm = new PipelineOptions("minilm", SAMPLE.resolve("general-train.json"), chem, 0.5, "mlp", "magnitude", "owl",
        1, 0, List.of(SAMPLE.resolve("chem-dev")), 0, 1, 128, 16, out, PipelineOptions.ScoringParameters.paper(),
        null, false, Structure.parse("2:4"), Calibration.DOMAIN);
    var e = assertThrows(IllegalArgumentException.class,
        () -> new PruningPipeline(nm, Progress.SILENT, System.err).run());
    assertTrue(e.getMessage().contains("owl") && e.getMessage().contains("2:4"), e.getMessage());
    var unstructured = options(0.5, "mlp", "magnitude", 1, chem, PipelineOptions.ScoringParameters.paper());
    var owl = new PipelineOptions(unstructured.model(), unstructured.general(), chem, 0.5, "mlp", "magnitude", "owl",
        1, 0, unstructured.evals(), 0, 1, 128, 16, out, unstructured.scoringParameters(), null, false,
        Structure.UNSTRUCTURED, Calibration.DOMAIN);
    var pipeline = new PruningPipeline(owl, Progress.SILENT, System.err);
    // compare: at a 2:4 point, and for a method with its own N:M
    e = assertThrows(IllegalArgumentException.class, () -> pipeline.compareAt(List.of(MethodSpec.parse("magnitude")),
        List.of(new PruningPoint(Structure.parse("2:4"), 0.5)), false));
    assertTrue(e.getMessage().contains("owl") && e.getMessage().contains("2:4"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> pipeline.compareAt(List.of(MethodSpec.parse("wanda:n=2:m=4")),
        List.of(new PruningPoint(Structure.UNSTRUCTURED, 0.5)), false));
    assertTrue(e.getMessage().contains("owl") && e.getMessage().contains("2:4"), e.getMessage());
    assertTrue(!java.nio.file.Files.exists(out), "refused before the output folder exists");
  }

  @Test
  void scoringParametersReachThePlannerConfig() {
    var config = new PipelineOptions.ScoringParameters(2.0, 0.1, 0.3, "local", "rank")
        .config(ScoringMethod.DAI, 9);
    assertEquals(2.0, config.beta());
    assertEquals(0.1, config.gamma());
    assertEquals(0.3, config.alpha());
    assertEquals(Alignment.LOCAL, config.alignment());
    assertEquals(PostProcess.RANK, config.postProcess());
    assertEquals(9, config.seed());
    var paper = PipelineOptions.ScoringParameters.paper().config(ScoringMethod.DAI, 0);
    assertEquals(io.gaprune.planner.ScoringConfig.defaults(), paper);
  }

  @Test
  void datasetNamesKeepTheDomain() {
    assertEquals("chem/dev", PipelineOptions.datasetName(Path.of("/data/chem/dev")));
    assertEquals("chem-dev", PipelineOptions.datasetName(Path.of("data/sample/chem-dev")));
  }
}
