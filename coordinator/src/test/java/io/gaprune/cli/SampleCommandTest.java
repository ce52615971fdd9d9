package io.gaprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.data.Triplet;
import io.gaprune.data.TripletReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class SampleCommandTest {

  private static Path chemistry() {
    return Path.of(System.getProperty("gaprune.root", ".")).resolve("data/sample/chem-train.json");
  }

  private static int run(StringWriter out, StringWriter err, String... args) {
    var cli = new CommandLine(new Main());
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  /** 200 real triplets down to 20 with MiniLM embeddings: a subset, deterministic, in the reference format. */
  @Test
  void keepsARepresentativeSubsetDeterministically(@TempDir Path dir) throws Exception {
    var input = dir.resolve("in.json");
    var all = TripletReader.readAll(chemistry()).subList(0, 200);
    io.gaprune.data.TripletWriter.write(all, input);
    var first = dir.resolve("a.json");
    var second = dir.resolve("b.json");
    var out = new StringWriter();
    var err = new StringWriter();
    assertEquals(0, run(out, err, "sample", "--input", input.toString(), "--size", "20", "--seed", "5",
        "--out", first.toString()), err.toString());
    assertEquals(0, run(new StringWriter(), err, "sample", "--input", input.toString(), "--size", "20",
        "--seed", "5", "--out", second.toString()), err.toString());
    assertTrue(out.toString().contains("\"kept\":20"), out.toString());
    var kept = TripletReader.readAll(first);
    assertEquals(20, kept.size());
    assertEquals(kept, TripletReader.readAll(second));
    assertTrue(new HashSet<Triplet>(all).containsAll(kept));
    assertEquals(20, new HashSet<>(kept).size());
  }

  @Test
  void badInputSaysWhatIsWrong(@TempDir Path dir) throws Exception {
    var notTriplets = dir.resolve("bad.json");
    Files.writeString(notTriplets, "[{\"query\": \"a\", \"positive\": \"b\"}]");
    var err = new StringWriter();
    assertEquals(1, run(new StringWriter(), err, "sample", "--input", notTriplets.toString(), "--size", "1",
        "--out", dir.resolve("o.json").toString()));
    assertTrue(err.toString().contains("bad.json") && err.toString().contains("negative"), err.toString());
    var err2 = new StringWriter();
    assertEquals(1, run(new StringWriter(), err2, "sample", "--input", chemistry().toString(), "--size", "0",
        "--out", dir.resolve("o.json").toString()));
    assertTrue(err2.toString().contains("at least 1"), err2.toString());
  }
}
