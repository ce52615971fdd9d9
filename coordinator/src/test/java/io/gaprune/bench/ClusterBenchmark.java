package io.gaprune.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gaprune.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The figures of docs/cluster.md ("Measured"): {@code gaprune bench cluster --json} at its defaults, printed. Run alone:
 * {@code mvn -B -ntp -Pbench -pl coordinator -am verify -Dtest=ClusterBenchmark -Dsurefire.failIfNoSpecifiedTests=false}
 * (the same as {@code ./gaprune bench cluster --json}). Extra arguments: {@code -Dgaprune.bench.args="--rounds 3"}.
 */
@Tag("bench")
class ClusterBenchmark {
  @Test
  void benchCluster() {
    Path sample = Path.of(System.getProperty("gaprune.root", ".")).resolve("data/sample");
    var out = new StringWriter();
    var cli = new CommandLine(new Main());
    cli.setOut(new PrintWriter(out));
    var args = new java.util.ArrayList<>(java.util.List.of("bench", "cluster", "--json",
        "--general", sample.resolve("general-train.json").toString(),
        "--domain", sample.resolve("chem-train.json").toString()));
    String extra = System.getProperty("gaprune.bench.args", "").trim();
    if (!extra.isEmpty()) {
      args.addAll(java.util.List.of(extra.split("\\s+")));
    }
    int code = cli.execute(args.toArray(String[]::new));
    System.out.print(out);
    assertEquals(0, code);
  }
}
