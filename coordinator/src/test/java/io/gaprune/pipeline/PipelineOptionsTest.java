package io.gaprune.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.planner.Alignment;
import io.gaprune.planner.PostProcess;
import io.gaprune.planner.ScoringMethod;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

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
