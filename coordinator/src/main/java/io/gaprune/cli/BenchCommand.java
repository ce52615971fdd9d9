package io.gaprune.cli;

import com.google.gson.GsonBuilder;
import io.gaprune.bench.ClusterBench;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gaprune bench cluster}: how much of the machine's compute and wire a session gets (docs/cluster.md). */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Benchmarks that users can run on their own machines.",
    subcommands = {BenchCommand.ClusterCommand.class})
public final class BenchCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(name = "cluster", mixinStandardHelpOptions = true,
      description = {"In one run: the bare statistics step loop, an embedded session with 1 worker and with 2 "
          + "one-thread workers (triplets/s, both halves counted), and shard bytes through a StreamRef from a child "
          + "JVM against a raw loopback socket (MB/s); the ratios session_vs_bare, two_workers_vs_one and "
          + "shard_vs_socket. Progress goes to stderr; with --json the last line of stdout is one JSON object."})
  static final class ClusterCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--json", description = "end with one JSON line holding every figure and ratio")
    boolean json;
    @Option(names = "--model", defaultValue = "minilm", paramLabel = "minilm|bge-small|PATH",
        description = "model (default ${DEFAULT-VALUE})")
    String model;
    @Option(names = "--general", paramLabel = "FILE", description = "general triplets (default: data/sample/general-train.json)")
    Path general;
    @Option(names = "--domain", paramLabel = "FILE", description = "domain triplets (default: data/sample/chem-train.json)")
    Path domain;
    @Option(names = "--batches", defaultValue = "8", paramLabel = "N", description = "timed batches per part (default ${DEFAULT-VALUE})")
    int batches;
    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "B", description = "triplets per batch and half (default ${DEFAULT-VALUE})")
    int batchSize;
    @Option(names = "--batches-per-unit", defaultValue = "2", paramLabel = "U", description = "session batches per unit (default ${DEFAULT-VALUE})")
    int batchesPerUnit;
    @Option(names = "--max-length", defaultValue = "64", paramLabel = "T", description = "tokens per text (default ${DEFAULT-VALUE})")
    int maxLength;
    @Option(names = "--rounds", defaultValue = "1", paramLabel = "R",
        description = "rounds of bare loop + 1-worker + 2-worker session; medians are printed (default ${DEFAULT-VALUE})")
    int rounds;
    @Option(names = "--shard-mb", defaultValue = "256", paramLabel = "MB", description = "shard MiB per transfer (default ${DEFAULT-VALUE})")
    int shardMb;
    @Option(names = "--shard-rounds", defaultValue = "5", paramLabel = "R",
        description = "rounds of socket copy + StreamRef transfer(s); medians are printed (default ${DEFAULT-VALUE})")
    int shardRounds;
    @Option(names = "--chunk-bytes", paramLabel = "BYTES", description = "override gaprune.stream.chunk-bytes (e.g. 64KiB)")
    String chunkBytes;
    @Option(names = "--buffer-capacity", paramLabel = "N", description = "override gaprune.stream.buffer-capacity")
    Integer bufferCapacity;
    @Option(names = "--large-message-lane", paramLabel = "on|off",
        description = "override gaprune.stream.large-message-lane")
    String largeLane;
    @Option(names = "--shard-variant", paramLabel = "chunk-bytes=X,buffer-capacity=N,large-lane=on|off",
        description = "also measure this shard setting beside the configured one, in the same rounds; repeatable")
    List<String> variants = new ArrayList<>();
    @Option(names = "--work-dir", paramLabel = "DIR",
        description = "where the sessions' journals and the child processes' logs go (default: a temporary folder, "
            + "removed after a successful run)")
    Path workDir;

    @Override
    public Integer call() throws Exception {
      // one thread per worker, for this JVM too: must be set before DJL's engine starts
      System.setProperty("ai.djl.pytorch.num_threads", "1");
      System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
      ClusterBench.Options options;
      Path dir = workDir != null ? workDir : Files.createTempDirectory("gaprune-bench");
      try {
        var overrides = new LinkedHashMap<String, Object>();
        if (chunkBytes != null) {
          overrides.put("gaprune.stream.chunk-bytes", chunkBytes);
        }
        if (bufferCapacity != null) {
          overrides.put("gaprune.stream.buffer-capacity", bufferCapacity);
        }
        if (largeLane != null) {
          if (!largeLane.equals("on") && !largeLane.equals("off")) {
            throw new IllegalArgumentException("--large-message-lane is on or off, not " + largeLane);
          }
          overrides.put("gaprune.stream.large-message-lane", largeLane.equals("on"));
        }
        if (shardMb < 1) {
          throw new IllegalArgumentException("--shard-mb must be at least 1, got " + shardMb);
        }
        Path home = PipelineCommand.home();
        Path g = general != null ? general : home.resolve("data/sample/general-train.json");
        Path d = domain != null ? domain : home.resolve("data/sample/chem-train.json");
        for (Path p : List.of(g, d)) {
          if (!Files.isRegularFile(p)) {
            throw new IllegalArgumentException("triplet file not found: " + p.toAbsolutePath()
                + " (set --general/--domain, or run through ./gaprune so that gaprune.home is the checkout)");
          }
        }
        options = new ClusterBench.Options(model, g, d, batches, batchSize, batchesPerUnit, maxLength, rounds,
            (long) shardMb << 20, shardRounds, variants.stream().map(ClusterBench.Variant::parse).toList(), dir,
            overrides);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
      }
      ClusterBench.Result result;
      try {
        result = ClusterBench.run(options, System.err);
      } catch (Exception e) {
        var err = spec.commandLine().getErr();
        err.println("gaprune bench cluster: " + e.getMessage() + " (logs in " + dir + ")");
        err.flush();
        return 1;
      }
      var out = spec.commandLine().getOut();
      out.print(result.toText());
      if (json) {
        out.println(new GsonBuilder().create().toJson(result.toJson()));
      }
      out.flush();
      if (workDir == null) {
        delete(dir);
      }
      return 0;
    }

    private static void delete(Path dir) throws IOException {
      try (Stream<Path> walk = Files.walk(dir)) {
        for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }
}
