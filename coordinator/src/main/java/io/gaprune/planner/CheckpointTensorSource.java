package io.gaprune.planner;

import io.gaprune.model.safetensors.DType;
import io.gaprune.model.safetensors.SafetensorsReader;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.model.safetensors.TensorSpec;
import io.gaprune.stats.TensorStats;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A {@link TensorSource} that streams the weights from a safetensors checkpoint (one file or sharded; F32, F16,
 * BF16, … converted to float32) and the statistics from a {@link StatisticsLookup}, one tensor at a time: the
 * planner then runs over checkpoints larger than memory. Tensors are listed in the checkpoint's fixed order;
 * only floating-point tensors are listed (integer buffers such as position ids are never candidates).
 */
public final class CheckpointTensorSource implements TensorSource {

  /** Loads one tensor's statistics (or returns null where there are none). */
  @FunctionalInterface
  public interface StatisticsLookup {
    WeightStatistics load(TensorMeta tensor) throws IOException;
  }

  /** Suffixes of the four sums in a statistics file ({@link #writeStatistics}, {@link #statisticsFrom}). */
  public static final String SUM_SQ_GENERAL = "::sum_sq_general";
  public static final String SUM_GENERAL = "::sum_general";
  public static final String SUM_SQ_DOMAIN = "::sum_sq_domain";
  public static final String SUM_DOMAIN = "::sum_domain";

  private final SafetensorsReader weights;
  private final StatisticsLookup stats;
  private final List<TensorMeta> metas;

  public CheckpointTensorSource(SafetensorsReader weights, StatisticsLookup stats) {
    this.weights = weights;
    this.stats = stats;
    var m = new ArrayList<TensorMeta>();
    for (var t : weights.tensors()) {
      if (t.dtype().isFloating()) {
        m.add(new TensorMeta(t.name(), t.shape()));
      }
    }
    this.metas = List.copyOf(m);
  }

  @Override
  public List<TensorMeta> tensors() {
    return metas;
  }

  @Override
  public TensorInput load(TensorMeta tensor) throws IOException {
    var w = weights.readFloats(tensor.name());
    return new TensorInput(tensor, w, stats == null ? null : stats.load(tensor));
  }

  /**
   * Statistics stored as float64 sums in a safetensors file, four tensors per weight tensor named
   * {@code <name>::sum_sq_general}, {@code ::sum_general}, {@code ::sum_sq_domain}, {@code ::sum_domain} (the
   * {@link TensorStats} fields), divided by the batch counts on load. A weight tensor without them has no
   * statistics; a statistic whose shape differs from the weights' is reported by name.
   */
  public static StatisticsLookup statisticsFrom(SafetensorsReader file, long generalBatches, long domainBatches) {
    return meta -> {
      String n = meta.name();
      if (!file.contains(n + SUM_SQ_GENERAL)) {
        return null;
      }
      var parts = new double[4][];
      String[] suffixes = {SUM_SQ_GENERAL, SUM_GENERAL, SUM_SQ_DOMAIN, SUM_DOMAIN};
      for (int i = 0; i < 4; i++) {
        if ((i == 1 || i == 3) && !file.contains(n + suffixes[i])) {
          parts[i] = new double[0]; // collected without the gradient sums (a Fisher-only scoring)
          continue;
        }
        var info = file.info(n + suffixes[i]);
        if (!java.util.Arrays.equals(info.shape(), meta.shape())) {
          throw new IllegalArgumentException("tensor " + n + ": statistic " + info.name() + " has shape "
              + java.util.Arrays.toString(info.shape()) + ", the weights " + java.util.Arrays.toString(meta.shape())
              + ": statistics and weights do not match");
        }
        parts[i] = file.readDoubles(n + suffixes[i]);
      }
      var ts = new TensorStats(n, meta.shape(), parts[0], parts[1], parts[2], parts[3], 0, 0);
      return WeightStatistics.fromSums(ts, generalBatches, domainBatches);
    };
  }

  /** Writes statistics in the layout {@link #statisticsFrom} reads, tensor by tensor. */
  public static void writeStatistics(Path path, List<TensorStats> stats, Map<String, String> metadata)
      throws IOException {
    var specs = new ArrayList<TensorSpec>();
    for (var s : stats) {
      for (String suffix : s.hasGradientSums() ? new String[] {SUM_SQ_GENERAL, SUM_GENERAL, SUM_SQ_DOMAIN, SUM_DOMAIN}
          : new String[] {SUM_SQ_GENERAL, SUM_SQ_DOMAIN}) {
        specs.add(new TensorSpec(s.name() + suffix, DType.F64, s.shape()));
      }
    }
    try (var w = SafetensorsWriter.create(path, specs, metadata)) {
      for (var s : stats) {
        w.writeDoubles(s.name() + SUM_SQ_GENERAL, s.sumSqGeneral());
        if (s.hasGradientSums()) {
          w.writeDoubles(s.name() + SUM_GENERAL, s.sumGeneral());
        }
        w.writeDoubles(s.name() + SUM_SQ_DOMAIN, s.sumSqDomain());
        if (s.hasGradientSums()) {
          w.writeDoubles(s.name() + SUM_DOMAIN, s.sumDomain());
        }
      }
    }
  }
}
