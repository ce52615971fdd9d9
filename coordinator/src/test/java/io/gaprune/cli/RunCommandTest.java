package io.gaprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gaprune.planner.ScoringConfig;
import io.gaprune.planner.ScoringMethod;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class RunCommandTest {

  private static String[] args(Path out, String... more) {
    var sample = Path.of(System.getProperty("gaprune.root", ".")).resolve("data/sample");
    var base = new String[] {"--out", out.toString(), "--general", sample.resolve("general-train.json").toString(),
        "--domain", sample.resolve("chem-train.json").toString(), "--eval", sample.resolve("chem-dev").toString()};
    var all = java.util.Arrays.copyOf(base, base.length + more.length);
    System.arraycopy(more, 0, all, base.length, more.length);
    return all;
  }

  /**
   * {@code run} without {@code --scoring} prunes with the calibrated DAI and its recommended hyperparameters
   * (q = 1, λ = 1, a = 0, κ = 0.01: docs/results.md); {@code --scoring dai} is the paper's DAI.
   */
  @Test
  void theDefaultScoringIsTheCalibratedDai(@TempDir Path dir) {
    var run = new RunCommand();
    new CommandLine(run).parseArgs(args(dir));
    var options = run.options(run.scoring);
    assertEquals("dai-calibrated", options.scoring());
    var method = ScoringMethod.parse(options.scoring());
    assertEquals(ScoringMethod.DAI_CALIBRATED, method);
    var config = options.scoringParameters().config(method, options.seed());
    assertEquals(ScoringConfig.Calibrated.defaults(), config.calibrated());
    assertEquals(0.01, config.calibrated().floor());

    var paper = new RunCommand();
    new CommandLine(paper).parseArgs(args(dir, "--scoring", "dai"));
    assertEquals(ScoringMethod.DAI, ScoringMethod.parse(paper.options(paper.scoring).scoring()));
  }
}
