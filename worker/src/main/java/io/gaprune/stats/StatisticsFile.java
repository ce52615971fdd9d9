package io.gaprune.stats;

import io.gaprune.model.safetensors.DType;
import io.gaprune.model.safetensors.SafetensorsFile;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.model.safetensors.TensorSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A session's merged statistics as one safetensors file, so that planning can be repeated (other methods,
 * sparsities, hyperparameters) without computing the gradients again. Per tensor {@code T}: four float64
 * tensors {@code T.sum_sq_general}, {@code T.sum_general}, {@code T.sum_sq_domain}, {@code T.sum_domain}; the
 * scalar counters and each tensor's cosine sums in the string metadata, with the model they were computed on.
 */
public final class StatisticsFile {

  private static final String[] PARTS = {"sum_sq_general", "sum_general", "sum_sq_domain", "sum_domain"};
  private static final String FORMAT = "gaprune-statistics-1";

  private StatisticsFile() {}

  /** Writes {@code stats} (replacing {@code file} only once complete); {@code model} is recorded for checks. */
  public static void write(UnitStatistics stats, String model, Path file) throws IOException {
    var specs = new ArrayList<TensorSpec>();
    var metadata = new LinkedHashMap<String, String>();
    metadata.put("format", FORMAT);
    metadata.put("model", model);
    metadata.put("general_samples", Long.toString(stats.generalSamples()));
    metadata.put("domain_samples", Long.toString(stats.domainSamples()));
    metadata.put("batches", Long.toString(stats.batches()));
    metadata.put("general_loss_sum", Double.toString(stats.generalLossSum()));
    metadata.put("domain_loss_sum", Double.toString(stats.domainLossSum()));
    for (var t : stats.tensors().values()) {
      for (var part : PARTS) {
        if (t.hasGradientSums() || part.startsWith("sum_sq")) { // Σg only when collected
          specs.add(new TensorSpec(t.name() + "." + part, DType.F64, t.shape()));
        }
      }
      metadata.put(t.name() + ".cosine_sum", Double.toString(t.cosineSum()));
      metadata.put(t.name() + ".negative_cosines", Long.toString(t.negativeCosines()));
    }
    try (var w = SafetensorsWriter.create(file, specs, metadata)) {
      for (var t : stats.tensors().values()) {
        w.writeDoubles(t.name() + ".sum_sq_general", t.sumSqGeneral());
        if (t.hasGradientSums()) {
          w.writeDoubles(t.name() + ".sum_general", t.sumGeneral());
        }
        w.writeDoubles(t.name() + ".sum_sq_domain", t.sumSqDomain());
        if (t.hasGradientSums()) {
          w.writeDoubles(t.name() + ".sum_domain", t.sumDomain());
        }
      }
    }
  }

  /** What {@link #read} returns: the statistics and the model they were computed on. */
  public record Loaded(UnitStatistics statistics, String model) {}

  /** Reads a file written by {@link #write}; every problem names the file and what is wrong. */
  public static Loaded read(Path file) throws IOException {
    try (var f = SafetensorsFile.open(file)) {
      var md = f.metadata();
      if (!FORMAT.equals(md.get("format"))) {
        throw new IOException(file + " is not a statistics file written by gaprune (metadata format is "
            + md.get("format") + ", expected " + FORMAT + ")");
      }
      var names = new ArrayList<String>();
      for (var info : f.tensors()) {
        if (info.name().endsWith("." + PARTS[0])) {
          names.add(info.name().substring(0, info.name().length() - PARTS[0].length() - 1));
        }
      }
      var tensors = new LinkedHashMap<String, TensorStats>();
      for (var name : names) {
        var shape = f.info(name + "." + PARTS[0]).shape();
        List<double[]> arrays = new ArrayList<>();
        for (var part : PARTS) {
          if (!part.startsWith("sum_sq") && !f.contains(name + "." + part)) {
            arrays.add(new double[0]); // collected without the gradient sums (a Fisher-only scoring)
            continue;
          }
          var info = f.info(name + "." + part);
          if (info.dtype() != DType.F64 || !java.util.Arrays.equals(info.shape(), shape)) {
            throw new IOException(file + ": tensor " + info.name() + " is " + info.dtype()
                + java.util.Arrays.toString(info.shape()) + ", expected F64" + java.util.Arrays.toString(shape));
          }
          var a = new double[Math.toIntExact(info.elementCount())];
          f.readDoubles(info.name(), 0, a, 0, a.length);
          arrays.add(a);
        }
        tensors.put(name, new TensorStats(name, shape, arrays.get(0), arrays.get(1), arrays.get(2), arrays.get(3),
            number(md, file, name + ".cosine_sum"), (long) number(md, file, name + ".negative_cosines")));
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

  private static double number(Map<String, String> md, Path file, String key) throws IOException {
    var v = md.get(key);
    if (v == null) {
      throw new IOException(file + ": metadata entry \"" + key + "\" is missing");
    }
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new IOException(file + ": metadata entry \"" + key + "\" is not a number: " + v);
    }
  }
}
