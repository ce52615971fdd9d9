package io.gaprune.stats;

import io.gaprune.model.safetensors.DType;
import io.gaprune.model.safetensors.SafetensorsFile;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.model.safetensors.TensorInfo;
import io.gaprune.model.safetensors.TensorSpec;
import io.gaprune.protocol.InputStatistics;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * A session's merged statistics as one safetensors file, so that planning can be repeated (other methods,
 * sparsities, hyperparameters) without computing the gradients again. Per tensor {@code T}: four float64
 * tensors {@code T.sum_sq_general}, {@code T.sum_general}, {@code T.sum_sq_domain}, {@code T.sum_domain} (the
 * two {@code sum_*} only when the gradient sums were collected); the scalar counters and each tensor's cosine
 * sums in the string metadata, with the model they were computed on.
 *
 * <p><b>Input statistics</b> (Wanda, SparseGPT, the reconstruction, budget owl), when the session collected them
 * for {@code T} (a linear layer {@code [out, in]}): {@code T.input_sq_general}, {@code T.input_sq_domain} (float64
 * {@code [in]}, Σx² per input channel), with the Gram matrices {@code T.input_gram_general},
 * {@code T.input_gram_domain} (float64 {@code [in·(in+1)/2]}, the upper triangle row by row exactly as
 * {@link PackedSymmetric} and {@link InputSums} hold it) when those were collected too, and the token counts in the
 * metadata entries {@code T.input_tokens_general}, {@code T.input_tokens_domain}.
 *
 * <p>The format name stays {@code gaprune-statistics-1}: the input entries are additions, nothing existing changed
 * meaning. A file written before them reads with {@link InputSums#NONE}; a reader written before them finds its
 * tensors by the {@code .sum_sq_general} suffix and never looks at other entries, so it still reads a new file
 * (without the input statistics it does not know). A new name would only make those readers refuse files they read
 * correctly.
 */
public final class StatisticsFile {

  private static final String[] PARTS = {"sum_sq_general", "sum_general", "sum_sq_domain", "sum_domain"};
  private static final String SQ_GENERAL = "input_sq_general";
  private static final String SQ_DOMAIN = "input_sq_domain";
  private static final String GRAM_GENERAL = "input_gram_general";
  private static final String GRAM_DOMAIN = "input_gram_domain";
  private static final String TOKENS_GENERAL = "input_tokens_general";
  private static final String TOKENS_DOMAIN = "input_tokens_domain";
  private static final List<String> INPUT_PARTS = List.of(SQ_GENERAL, SQ_DOMAIN, GRAM_GENERAL, GRAM_DOMAIN);
  private static final String FORMAT = "gaprune-statistics-1";

  private StatisticsFile() {}

  /** One float64 entry of the file, in the order it is declared and written. */
  private record Entry(String name, long[] shape, double[] values) {}

  /** Writes {@code stats} (replacing {@code file} only once complete); {@code model} is recorded for checks. */
  public static void write(UnitStatistics stats, String model, Path file) throws IOException {
    var entries = new ArrayList<Entry>();
    var metadata = new LinkedHashMap<String, String>();
    metadata.put("format", FORMAT);
    metadata.put("model", model);
    metadata.put("general_samples", Long.toString(stats.generalSamples()));
    metadata.put("domain_samples", Long.toString(stats.domainSamples()));
    metadata.put("batches", Long.toString(stats.batches()));
    metadata.put("general_loss_sum", Double.toString(stats.generalLossSum()));
    metadata.put("domain_loss_sum", Double.toString(stats.domainLossSum()));
    for (var t : stats.tensors().values()) {
      String n = t.name() + ".";
      entries.add(new Entry(n + PARTS[0], t.shape(), t.sumSqGeneral()));
      if (t.hasGradientSums()) {
        entries.add(new Entry(n + PARTS[1], t.shape(), t.sumGeneral()));
      }
      entries.add(new Entry(n + PARTS[2], t.shape(), t.sumSqDomain()));
      if (t.hasGradientSums()) {
        entries.add(new Entry(n + PARTS[3], t.shape(), t.sumDomain()));
      }
      metadata.put(n + "cosine_sum", Double.toString(t.cosineSum()));
      metadata.put(n + "negative_cosines", Long.toString(t.negativeCosines()));
      var in = t.inputs();
      if (in.hasSquares()) {
        entries.add(new Entry(n + SQ_GENERAL, new long[] {in.squaresGeneral().length}, in.squaresGeneral()));
        entries.add(new Entry(n + SQ_DOMAIN, new long[] {in.squaresDomain().length}, in.squaresDomain()));
        if (in.hasGrams()) {
          entries.add(new Entry(n + GRAM_GENERAL, new long[] {in.gramGeneral().length}, in.gramGeneral()));
          entries.add(new Entry(n + GRAM_DOMAIN, new long[] {in.gramDomain().length}, in.gramDomain()));
        }
        metadata.put(n + TOKENS_GENERAL, Long.toString(in.tokensGeneral()));
        metadata.put(n + TOKENS_DOMAIN, Long.toString(in.tokensDomain()));
      }
    }
    var specs = entries.stream().map(e -> new TensorSpec(e.name(), DType.F64, e.shape())).toList();
    try (var w = SafetensorsWriter.create(file, specs, metadata)) {
      for (var e : entries) {
        w.writeDoubles(e.name(), e.values());
      }
    }
  }

  /** What {@link #read} returns: the statistics and the model they were computed on. */
  public record Loaded(UnitStatistics statistics, String model) {}

  /**
   * What a file holds, from its header alone (no array is read): the model, the number of tensors and the input
   * statistics every tensor has ({@code INPUT_GRAMS} only when all have the Gram matrices, {@code INPUT_NORMS}
   * when all have at least Σx², else none), so that a run can refuse a file that cannot serve its methods before
   * it loads the model.
   */
  public record Contents(String model, int tensors, InputStatistics inputs) {

    /** The input statistics held, in words, for progress notes and errors. */
    public String inputsDescription() {
      return describe(inputs);
    }
  }

  /** How {@code inputs} reads in notes and errors. */
  public static String describe(InputStatistics inputs) {
    return switch (inputs) {
      case INPUT_GRAMS -> "input statistics Σx² and Σx·xᵀ";
      case INPUT_NORMS -> "input statistics Σx² (no Gram matrices Σx·xᵀ)";
      default -> "no input statistics";
    };
  }

  /** The header of a file written by {@link #write}: see {@link Contents}. */
  public static Contents contents(Path file) throws IOException {
    try (var f = SafetensorsFile.open(file)) {
      checkFormat(file, f.metadata());
      var names = tensorNames(f, file);
      var held = names.isEmpty() ? InputStatistics.INPUT_STATISTICS_NONE : InputStatistics.INPUT_GRAMS;
      for (var name : names) {
        var own = !f.contains(name + "." + SQ_GENERAL) ? InputStatistics.INPUT_STATISTICS_NONE
            : f.contains(name + "." + GRAM_GENERAL) ? InputStatistics.INPUT_GRAMS : InputStatistics.INPUT_NORMS;
        if (own.getNumber() < held.getNumber()) {
          held = own;
        }
      }
      return new Contents(f.metadata().getOrDefault("model", ""), names.size(), held);
    }
  }

  /** Reads a file written by {@link #write}; every problem names the file and what is wrong. */
  public static Loaded read(Path file) throws IOException {
    try (var f = SafetensorsFile.open(file)) {
      var md = f.metadata();
      checkFormat(file, md);
      var names = tensorNames(f, file);
      var tensors = new LinkedHashMap<String, TensorStats>();
      for (var name : names) {
        var shape = f.info(name + "." + PARTS[0]).shape();
        List<double[]> arrays = new ArrayList<>();
        for (var part : PARTS) {
          if (!part.startsWith("sum_sq") && !f.contains(name + "." + part)) {
            arrays.add(new double[0]); // collected without the gradient sums (a Fisher-only scoring)
            continue;
          }
          arrays.add(doubles(f, file, f.info(name + "." + part), shape));
        }
        var stats = new TensorStats(name, shape, arrays.get(0), arrays.get(1), arrays.get(2), arrays.get(3),
            number(md, file, name + ".cosine_sum"), (long) number(md, file, name + ".negative_cosines"));
        tensors.put(name, stats.withInputs(inputs(f, file, name, shape)));
      }
      var stats = new UnitStatistics(tensors, (long) number(md, file, "general_samples"),
          (long) number(md, file, "domain_samples"), (long) number(md, file, "batches"),
          number(md, file, "general_loss_sum"), number(md, file, "domain_loss_sum"));
      if (stats.batches() < 1) {
        throw new IOException(file + " holds statistics of " + stats.batches() + " batches; nothing to plan from");
      }
      return new Loaded(stats, md.getOrDefault("model", ""));
    }
  }

  private static void checkFormat(Path file, Map<String, String> md) throws IOException {
    if (!FORMAT.equals(md.get("format"))) {
      throw new IOException(file + " is not a statistics file written by gaprune (metadata format is "
          + md.get("format") + ", expected " + FORMAT + ")");
    }
  }

  /**
   * The tensors of the file, named by their {@code sum_sq_general}; an input entry of a tensor without one is
   * refused (a damaged or hand-made file: its statistics would be dropped silently).
   */
  private static List<String> tensorNames(SafetensorsFile f, Path file) throws IOException {
    var names = new LinkedHashSet<String>();
    for (var info : f.tensors()) {
      if (info.name().endsWith("." + PARTS[0])) {
        names.add(info.name().substring(0, info.name().length() - PARTS[0].length() - 1));
      }
    }
    for (var info : f.tensors()) {
      for (var part : INPUT_PARTS) {
        if (info.name().endsWith("." + part)) {
          var name = info.name().substring(0, info.name().length() - part.length() - 1);
          if (!names.contains(name)) {
            throw new IOException(file + ": tensor " + name + " has input statistics (" + info.name()
                + ") but no " + name + "." + PARTS[0]);
          }
        }
      }
    }
    return List.copyOf(names);
  }

  /** Tensor {@code name}'s input statistics, {@link InputSums#NONE} when the file has none for it. */
  private static InputSums inputs(SafetensorsFile f, Path file, String name, long[] shape) throws IOException {
    var squares = pair(f, file, name, SQ_GENERAL, SQ_DOMAIN);
    var grams = pair(f, file, name, GRAM_GENERAL, GRAM_DOMAIN);
    if (squares == null) {
      if (grams != null) {
        throw new IOException(file + ": tensor " + name + " has the input Gram matrices but not Σx² ("
            + name + "." + SQ_GENERAL + ")");
      }
      return InputSums.NONE;
    }
    if (shape.length != 2) {
      throw new IOException(file + ": tensor " + name + " has input statistics, but its shape "
          + Arrays.toString(shape) + " is not a linear layer's [out, in]");
    }
    long in = shape[1];
    var sqGeneral = doubles(f, file, squares[0], new long[] {in});
    var sqDomain = doubles(f, file, squares[1], new long[] {in});
    double[] gramGeneral = new double[0];
    double[] gramDomain = new double[0];
    if (grams != null) {
      var packed = new long[] {PackedSymmetric.length(in)};
      gramGeneral = doubles(f, file, grams[0], packed);
      gramDomain = doubles(f, file, grams[1], packed);
    }
    return new InputSums(sqGeneral, sqDomain, gramGeneral, gramDomain,
        count(f.metadata(), file, name + "." + TOKENS_GENERAL), count(f.metadata(), file, name + "." + TOKENS_DOMAIN));
  }

  /** Both halves' entries of one input statistic, null when neither is there; one half alone is refused. */
  private static TensorInfo[] pair(SafetensorsFile f, Path file, String name, String general, String domain)
      throws IOException {
    var g = f.find(name + "." + general);
    var d = f.find(name + "." + domain);
    if (g.isPresent() != d.isPresent()) {
      throw new IOException(file + ": tensor " + name + " has " + name + "." + (g.isPresent() ? general : domain)
          + " without " + name + "." + (g.isPresent() ? domain : general) + " (both halves are written together)");
    }
    return g.isEmpty() ? null : new TensorInfo[] {g.get(), d.get()};
  }

  /** The float64 array of {@code info}, which must have {@code shape}. */
  private static double[] doubles(SafetensorsFile f, Path file, TensorInfo info, long[] shape) throws IOException {
    if (info.dtype() != DType.F64 || !Arrays.equals(info.shape(), shape)) {
      throw new IOException(file + ": tensor " + info.name() + " is " + info.dtype() + Arrays.toString(info.shape())
          + ", expected F64" + Arrays.toString(shape));
    }
    var a = new double[Math.toIntExact(info.elementCount())];
    f.readDoubles(info.name(), 0, a, 0, a.length);
    return a;
  }

  private static String entry(Map<String, String> md, Path file, String key) throws IOException {
    var v = md.get(key);
    if (v == null) {
      throw new IOException(file + ": metadata entry \"" + key + "\" is missing");
    }
    return v;
  }

  private static double number(Map<String, String> md, Path file, String key) throws IOException {
    var v = entry(md, file, key);
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IOException(file + ": metadata entry \"" + key + "\" is not a number: " + v);
    }
  }

  /** A count in the metadata, read as the integer it was written as (a double would round above 2⁵³). */
  private static long count(Map<String, String> md, Path file, String key) throws IOException {
    var v = entry(md, file, key);
    try {
      long n = Long.parseLong(v);
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IOException(file + ": metadata entry \"" + key + "\" is not a count: " + v);
    }
  }
}
