package io.gaprune.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.gaprune.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code gaprune bench cluster}: its options, and one real run at tiny sizes whose last line is the JSON. */
class BenchClusterCommandTest {
  private static final Path SAMPLE = Path.of(System.getProperty("gaprune.root", ".")).resolve("data/sample");

  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    var out = new StringWriter();
    var err = new StringWriter();
    var cli = new CommandLine(new Main());
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = cli.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  @Test
  void shardVariantsParseAndBadOnesAreNamed() {
    var v = ClusterBench.Variant.parse("chunk-bytes=128KiB,buffer-capacity=256,large-lane=on");
    assertEquals(131072, v.chunkBytes());
    assertEquals(256, v.bufferCapacity());
    assertEquals(true, v.largeLane());
    assertEquals(null, v.transport());
    assertEquals("stream-ref", ClusterBench.Variant.parse("transport=stream-ref").transport());
    var only = ClusterBench.Variant.parse("buffer-capacity=64");
    assertEquals(null, only.chunkBytes());
    assertEquals(null, only.largeLane());
    var e = assertThrows(IllegalArgumentException.class, () -> ClusterBench.Variant.parse("window=3"));
    assertTrue(e.getMessage().contains("unknown key \"window\""), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ClusterBench.Variant.parse("large-lane=maybe"));
    assertTrue(e.getMessage().contains("on or off"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ClusterBench.Variant.parse("transport=udp"));
    assertTrue(e.getMessage().contains("tcp or stream-ref"), e.getMessage());
    assertEquals(2.5, ClusterBench.median(List.of(4.0, 1.0, 2.0, 3.0)));
    assertEquals(3.0, ClusterBench.median(List.of(9.0, 3.0, 1.0)));
  }

  @Test
  void badOptionsAreRefusedBeforeAnythingRuns(@TempDir Path dir) {
    String g = SAMPLE.resolve("general-train.json").toString();
    String d = SAMPLE.resolve("chem-train.json").toString();
    var r = run("bench", "cluster", "--batches", "0", "--general", g, "--domain", d, "--work-dir", dir.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--batches must be at least 1"), r.err());
    r = run("bench", "cluster", "--shard-variant", "frames=2", "--general", g, "--domain", d, "--work-dir",
        dir.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("unknown key \"frames\""), r.err());
    r = run("bench", "cluster", "--shard-variant", "transport=stream-ref,chunk-bytes=200KiB", "--general", g, "--domain", d,
        "--work-dir", dir.toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("at most half of gaprune.cluster.maximum-frame-size"), r.err());
    r = run("bench", "cluster", "--shard-variant", "chunk-bytes=32MiB", "--general", g, "--domain", d, "--work-dir",
        dir.toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("gaprune.stream.tcp-chunk-bytes = 33554432 must be between"), r.err());
    r = run("bench", "cluster", "--general", dir.resolve("missing.json").toString(), "--work-dir", dir.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("triplet file not found"), r.err());
  }

  /** The real thing at tiny sizes: MiniLM, one batch of 2 + 2, a child worker, 4 MiB of shards. */
  @Tag("slow")
  @Test
  void jsonLastLineHoldsTheRatiosAndPositiveFigures(@TempDir Path dir) {
    var r = run("bench", "cluster", "--json", "--batches", "2", "--batch-size", "2", "--batches-per-unit", "1",
        "--shard-mb", "4", "--shard-rounds", "1", "--shard-variant", "transport=stream-ref,buffer-capacity=16,large-lane=on",
        "--general", SAMPLE.resolve("general-train.json").toString(),
        "--domain", SAMPLE.resolve("chem-train.json").toString(), "--work-dir", dir.toString());
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().strip().split("\\R");
    JsonObject json = JsonParser.parseString(lines[lines.length - 1]).getAsJsonObject();
    for (String key : List.of("session_vs_bare", "two_workers_vs_one", "shard_vs_socket", "bare_triplets_per_s",
        "session_1_worker_triplets_per_s", "session_2_workers_triplets_per_s", "shard_mb_per_s", "socket_mb_per_s")) {
      assertTrue(json.has(key), "missing " + key + " in " + json);
      double v = json.get(key).getAsDouble();
      assertTrue(v > 0 && Double.isFinite(v), key + " = " + v);
    }
    assertEquals(json.get("session_1_worker_triplets_per_s").getAsDouble() / json.get("bare_triplets_per_s").getAsDouble(),
        json.get("session_vs_bare").getAsDouble(), 1e-9);
    assertEquals(json.get("shard_mb_per_s").getAsDouble() / json.get("socket_mb_per_s").getAsDouble(),
        json.get("shard_vs_socket").getAsDouble(), 1e-9);
    assertTrue(json.get("shard_bytes").getAsLong() >= 4 << 20, json.toString());
    var variants = json.getAsJsonArray("shard_variants");
    assertEquals(2, variants.size());
    assertEquals("tcp", variants.get(0).getAsJsonObject().get("transport").getAsString());
    assertEquals("stream-ref", variants.get(1).getAsJsonObject().get("transport").getAsString());
    assertEquals(true, variants.get(1).getAsJsonObject().get("large_message_lane").getAsBoolean());
    assertTrue(variants.get(1).getAsJsonObject().get("mb_per_s").getAsDouble() > 0);
    assertTrue(r.out().contains("session_vs_bare"), r.out());
  }
}
