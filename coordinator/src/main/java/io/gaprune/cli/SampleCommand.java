package io.gaprune.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.data.TripletReader;
import io.gaprune.data.TripletWriter;
import io.gaprune.model.ModelLoader;
import io.gaprune.sampling.RepresentativeSample;
import io.gaprune.progress.ConsoleProgress;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gaprune sample}: the paper's k-means representative sampling of a triplet file. */
@Command(
    name = "sample",
    mixinStandardHelpOptions = true,
    description = "Keeps a representative subset of a triplet file: embeds the queries with the model, runs "
        + "k-means (k = --size, seeded) and keeps the triplet nearest each centroid. Writes the reference JSON "
        + "format.")
public final class SampleCommand implements Callable<Integer> {

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", defaultValue = "minilm", paramLabel = "minilm|bge-small|PATH",
      description = "the model whose embeddings define similarity (default ${DEFAULT-VALUE})")
  String model;

  @Option(names = "--input", required = true, paramLabel = "FILE",
      description = "triplets: JSON array of {query, positive, negative} or JSON Lines")
  Path input;

  @Option(names = "--size", required = true, description = "how many triplets to keep")
  int size;

  @Option(names = "--seed", defaultValue = "42", description = "k-means seed (default ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--out", required = true, paramLabel = "FILE", description = "where to write the sample")
  Path out;

  @Option(names = "--verbose", description = "print stack traces of errors")
  boolean verbose;

  @Override
  public Integer call() {
    try {
      if (size < 1) {
        throw new IllegalArgumentException("--size must be at least 1, got " + size);
      }
      var triplets = TripletReader.readAll(input);
      try (var manager = NDManager.newBaseManager();
          var loaded = ModelLoader.load(model, manager, DataType.FLOAT32)) {
        var result = RepresentativeSample.select(loaded, triplets, size, seed,
            new ConsoleProgress(System.err, ConsoleProgress.Mode.TEXT));
        TripletWriter.write(result.triplets(), out);
        spec.commandLine().getOut().println(String.format(Locale.ROOT,
            "{\"input\":%d,\"kept\":%d,\"iterations\":%d,\"converged\":%b,\"out\":\"%s\"}", triplets.size(),
            result.triplets().size(), result.selection().iterations(), result.selection().converged(),
            out.toString().replace("\\", "\\\\").replace("\"", "\\\"")));
      }
      return 0;
    } catch (Exception e) {
      return Failure.report(spec, e, verbose);
    }
  }
}
