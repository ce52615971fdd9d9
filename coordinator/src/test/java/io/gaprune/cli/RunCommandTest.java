package io.gaprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

  private static String failure(Object command, String... args) {
    var err = new java.io.StringWriter();
    int code = new CommandLine(command).setErr(new java.io.PrintWriter(err)).execute(args);
    assertEquals(1, code, String.join(" ", args));
    return err.toString();
  }

  /**
   * {@code --structure N:M} fixes the sparsity at 1 − N/M: without --sparsity it is taken, an equal one is
   * accepted, a different one is an error naming both; a bad structure is named with the valid forms; compare's
   * sparsities must apply to some structure.
   */
  @Test
  void structuresFixTheSparsityAndBadOnesAreNamed(@TempDir Path dir) {
    var run = new RunCommand();
    new CommandLine(run).parseArgs(args(dir, "--structure", "2:4"));
    var options = run.options(run.scoring);
    assertEquals(io.gaprune.planner.Structure.parse("2:4"), options.structure());
    assertEquals(0.5, options.sparsity());
    var quarter = new RunCommand();
    new CommandLine(quarter).parseArgs(args(dir, "--structure", "1:4", "--sparsity", "0.75"));
    assertEquals(0.75, quarter.options(quarter.scoring).sparsity());
    var plain = new RunCommand();
    new CommandLine(plain).parseArgs(args(dir));
    assertEquals(io.gaprune.planner.Structure.UNSTRUCTURED, plain.options(plain.scoring).structure());
    assertEquals(0.5, plain.options(plain.scoring).sparsity());

    var conflict = failure(new RunCommand(), args(dir, "--structure", "2:4", "--sparsity", "0.7"));
    assertTrue(conflict.contains("gaprune run: sparsity 0.7 conflicts with structure 2:4")
        && conflict.contains("leave the sparsity out or give 0.5"), conflict);
    var range = failure(new RunCommand(), args(dir, "--sparsity", "1.5"));
    assertTrue(range.contains("gaprune run: --sparsity must lie in [0, 1], got 1.5"), range);
    var compareRange = failure(new CompareCommand(), args(dir, "--sparsities", "0.5,-0.1"));
    assertTrue(compareRange.contains("gaprune compare: --sparsity must lie in [0, 1], got -0.1"), compareRange);
    var bad = failure(new RunCommand(), args(dir, "--structure", "4:2"));
    assertTrue(bad.contains("structure \"4:2\" is not valid (unstructured, 2:4, 4:8 or N:M with 0 < N < M)"), bad);
    var compare = failure(new CompareCommand(), args(dir, "--structures", "2:4", "--sparsities", "0.5,0.7"));
    assertTrue(compare.contains("gaprune compare: sparsity 0.7 conflicts with structure 2:4"), compare);
    var badList = failure(new CompareCommand(), args(dir, "--structures", "unstructured,2:8:1"));
    assertTrue(badList.contains("structure \"2:8:1\" is not valid"), badList);
  }
}
