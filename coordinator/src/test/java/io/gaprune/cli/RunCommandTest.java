package io.gaprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.planner.ScoringConfig;
import io.gaprune.planner.ScoringMethod;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class RunCommandTest {

  private static String[] args(Path out, String... more) {
    return args(out, sample().resolve("chem-train.json"), sample().resolve("chem-dev"), more);
  }

  private static Path sample() {
    return Path.of(System.getProperty("gaprune.root", ".")).resolve("data/sample");
  }

  private static String[] args(Path out, Path domain, Path eval, String... more) {
    var base = new String[] {"--out", out.toString(), "--general", sample().resolve("general-train.json").toString(),
        "--domain", domain.toString(), "--eval", eval.toString()};
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
    assertTrue(compareRange.contains("gaprune compare: --sparsities must lie in [0, 1], got -0.1"), compareRange);
    // the option the user wrote is the one blamed, not run's --sparsity
    var compareTwo = failure(new CompareCommand(), args(dir, "--sparsities", "0.5,2"));
    assertTrue(compareTwo.contains("gaprune compare: --sparsities must lie in [0, 1], got 2.0"), compareTwo);
    var compareOne = failure(new CompareCommand(), args(dir, "--sparsity", "2"));
    assertTrue(compareOne.contains("gaprune compare: --sparsity must lie in [0, 1], got 2.0"), compareOne);
    var bad = failure(new RunCommand(), args(dir, "--structure", "4:2"));
    assertTrue(bad.contains("structure \"4:2\" is not valid (unstructured, 2:4, 4:8 or N:M with 0 < N < M)"), bad);
    var compare = failure(new CompareCommand(), args(dir, "--structures", "2:4", "--sparsities", "0.5,0.7"));
    assertTrue(compare.contains("gaprune compare: sparsity 0.7 conflicts with structure 2:4"), compare);
    var badList = failure(new CompareCommand(), args(dir, "--structures", "unstructured,2:8:1"));
    assertTrue(badList.contains("structure \"2:8:1\" is not valid"), badList);
  }

  /** {@code compare --retrained-only} without retraining would evaluate nothing: refused before --out is made. */
  @Test
  void retrainedOnlyNeedsRetraining(@TempDir Path dir) {
    var out = dir.resolve("out");
    var refused = failure(new CompareCommand(), args(out, "--retrained-only"));
    assertTrue(refused.contains("gaprune compare: --retrained-only evaluates the retrained models only: it needs "
        + "--retrain-steps > 0"), refused);
    assertFalse(Files.exists(out), "the refused compare made --out");
  }

  private static final String TRIPLET = "{\"query\": \"q\", \"positive\": \"p\", \"negative\": \"n\"}";

  /**
   * Every input is read before the model loads: a second triplet file whose last element is bad fails in well
   * under the model's load time (9 s for MiniLM on this machine, the engine's start alone takes seconds), naming
   * the file and the element counted from 1, and nothing was sampled; so does an evaluation folder without its
   * queries.
   */
  @Test
  void badInputsFailBeforeTheModelLoads(@TempDir Path dir) throws IOException {
    var domain = dir.resolve("domain.json");
    Files.writeString(domain, "[\n" + TRIPLET + ",\n" + TRIPLET + ",\n{\"query\": \"q\", \"positive\": \"p\"}\n]\n");
    var out = dir.resolve("out");
    long start = System.nanoTime();
    var bad = failure(new RunCommand(), args(out, domain, sample().resolve("chem-dev")));
    double seconds = (System.nanoTime() - start) / 1e9;
    assertTrue(bad.contains("gaprune run: " + domain + ": element 3 (1-based, line 4): missing field \"negative\""),
        bad);
    assertTrue(seconds < 5, "failed after " + seconds + " s: the model was loaded first");
    assertFalse(Files.exists(out.resolve("calibration")), "the first file was sampled before the second was read");

    var beir = Files.createDirectories(dir.resolve("beir/qrels"));
    Files.writeString(dir.resolve("beir/corpus.jsonl"), "{\"_id\": \"d1\", \"text\": \"t\"}\n");
    Files.writeString(beir.resolve("test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
    start = System.nanoTime();
    var noQueries = failure(new CompareCommand(),
        args(dir.resolve("out2"), sample().resolve("chem-train.json"), dir.resolve("beir")));
    seconds = (System.nanoTime() - start) / 1e9;
    assertTrue(noQueries.contains("gaprune compare: " + dir.resolve("beir/queries.jsonl") + ": file not found"),
        noQueries);
    assertTrue(seconds < 5, "failed after " + seconds + " s: the model was loaded first");
  }

  /**
   * {@code --out} must be new or empty: a file is named as one, a folder with files in it is refused unless
   * {@code --force}, which removes an earlier run's files, keeps the others and this run's inputs, and says so.
   */
  @Test
  void outMustBeNewOrEmptyUnlessForced(@TempDir Path dir) throws IOException {
    var file = Files.writeString(dir.resolve("notes.txt"), "x");
    var isFile = failure(new RunCommand(), args(file));
    assertTrue(isFile.contains("gaprune run: --out " + file + " is a file, not a folder"), isFile);

    var out = Files.createDirectories(dir.resolve("earlier"));
    Files.writeString(out.resolve("report.json"), "{}");
    Files.writeString(out.resolve("notes.txt"), "mine");
    Files.createDirectories(out.resolve("model"));
    Files.writeString(out.resolve("model/model.safetensors"), "old");
    Files.writeString(out.resolve("statistics.safetensors"), "an input of this run");
    var full = failure(new CompareCommand(), args(out));
    assertTrue(full.contains("gaprune compare: --out " + out + " is not empty (model/, notes.txt, report.json, "
        + "statistics.safetensors): give a new or empty folder, or --force"), full);
    assertTrue(Files.exists(out.resolve("report.json")), "refused, so nothing was removed");

    var said = OutputFolder.prepare(out, true, "--out", List.of(out.resolve("statistics.safetensors")));
    assertEquals("--force: " + out + " was not empty; removed an earlier run's model/, report.json; kept notes.txt, "
        + "statistics.safetensors", said);
    try (var left = Files.list(out)) {
      assertEquals(List.of("notes.txt", "statistics.safetensors"),
          left.map(p -> p.getFileName().toString()).sorted().toList());
    }
    assertEquals("", OutputFolder.prepare(dir.resolve("new"), false, "--out", List.of()));
    assertEquals("", OutputFolder.prepare(Files.createDirectories(dir.resolve("empty")), false, "--out", List.of()));
  }
}
