package io.gaprune.worker.testing;

import com.typesafe.config.Config;
import io.gaprune.protocol.BatchIndices;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.WorkUnit;
import io.gaprune.stats.TensorStats;
import io.gaprune.stats.UnitStatistics;
import io.gaprune.worker.ModelRuntime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * TEST ONLY: a deterministic stand-in for the model runtime, to exercise the distributed machinery (leases,
 * crashes, exactly-once folding) quickly. "Gradients" are a hash of (triplet index, tensor, weight index), so
 * every unit's statistics are reproducible bit for bit on any worker. Settings under {@code gaprune.test}:
 * {@code tensors} ("name:rowsxcols" list), {@code batch-millis} (sleep per batch, to crash mid-unit),
 * {@code model-hash}, {@code cheap-values} (on: a value per weight from one hash per batch and tensor instead of
 * one per triplet and weight, so that a benchmark's workers spend their time in the sleep, as an accelerator's
 * would, not on this machine's cores).
 */
public final class SyntheticRuntime implements ModelRuntime {
  private final List<TensorSpec> tensors = new ArrayList<>();
  private final long batchMillis;
  private final String hash;
  private final boolean cheapValues;

  public SyntheticRuntime(Config c) {
    List<String> specs = c.hasPath("gaprune.test.tensors") ? c.getStringList("gaprune.test.tensors")
        : List.of("encoder.layer.0.intermediate.dense.weight:48x16", "encoder.layer.0.output.dense.weight:16x48",
            "encoder.layer.1.intermediate.dense.weight:48x16", "encoder.layer.1.output.dense.weight:16x48");
    for (String s : specs) {
      String[] parts = s.split(":");
      String[] dims = parts[1].split("x");
      TensorSpec.Builder b = TensorSpec.newBuilder().setName(parts[0]);
      for (String d : dims) {
        b.addShape(Long.parseLong(d));
      }
      tensors.add(b.build());
    }
    batchMillis = c.hasPath("gaprune.test.batch-millis") ? c.getLong("gaprune.test.batch-millis") : 0;
    hash = c.hasPath("gaprune.test.model-hash") ? c.getString("gaprune.test.model-hash") : "synthetic-v1";
    cheapValues = c.hasPath("gaprune.test.cheap-values") && c.getBoolean("gaprune.test.cheap-values");
  }

  @Override
  public String modelHash() {
    return hash;
  }

  @Override
  public List<TensorSpec> candidateTensors(String candidates) {
    return tensors;
  }

  @Override
  public double[] weights(String tensor) {
    for (TensorSpec t : tensors) {
      if (t.getName().equals(tensor)) {
        double[] w = new double[(int) t.getShape(0) * (int) t.getShape(1)];
        for (int i = 0; i < w.length; i++) {
          w[i] = value(7, tensor.hashCode(), i) * 0.1;
        }
        return w;
      }
    }
    throw new IllegalArgumentException("no tensor " + tensor);
  }

  @Override
  public UnitStatistics compute(WorkUnit unit, SessionConfig session, BatchProgress progress) throws Exception {
    Map<String, TensorStats> out = new LinkedHashMap<>();
    for (TensorSpec t : unit.getTensorsList()) {
      out.put(t.getName(), TensorStats.zeros(t.getName(), t.getShapeList().stream().mapToLong(Long::longValue).toArray()));
    }
    long gs = 0, ds = 0;
    double gl = 0, dl = 0;
    int done = 0;
    for (BatchIndices b : unit.getBatchesList()) {
      for (TensorSpec t : unit.getTensorsList()) {
        TensorStats ts = out.get(t.getName());
        int h = t.getName().hashCode();
        double cosNum = 0, ng = 0, nd = 0;
        double gBase = cheapValues ? value(b.getGeneral(0), h, 0) : 0;
        double dBase = cheapValues ? value(b.getDomain(0) + 1_000_003, h, 0) : 0;
        for (int i = 0; i < ts.size(); i++) {
          double g = 0, d = 0;
          if (cheapValues) {
            g = gBase + (i % 13) * 0.01;
            d = dBase - (i % 11) * 0.01;
          } else {
            for (int idx : b.getGeneralList()) {
              g += value(idx, h, i);
            }
            for (int idx : b.getDomainList()) {
              d += value(idx + 1_000_003, h, i);
            }
            g /= b.getGeneralCount();
            d /= b.getDomainCount();
          }
          ts.sumSqGeneral()[i] += g * g;
          ts.sumGeneral()[i] += g;
          ts.sumSqDomain()[i] += d * d;
          ts.sumDomain()[i] += d;
          cosNum += g * d;
          ng += g * g;
          nd += d * d;
        }
        double cos = cosNum / Math.sqrt(ng * nd);
        out.put(t.getName(), new TensorStats(ts.name(), ts.shape(), ts.sumSqGeneral(), ts.sumGeneral(),
            ts.sumSqDomain(), ts.sumDomain(), ts.cosineSum() + cos, ts.negativeCosines() + (cos < 0 ? 1 : 0)));
      }
      gs += b.getGeneralCount();
      ds += b.getDomainCount();
      gl += value(b.getGeneral(0), 1, 2) + 3;
      dl += value(b.getDomain(0), 2, 1) + 3;
      if (batchMillis > 0) {
        Thread.sleep(batchMillis);
      }
      progress.batchesDone(++done);
    }
    if (session.getInputStatisticsValue() > 0) {
      boolean grams = session.getInputStatisticsValue() >= 2;
      for (TensorSpec t : unit.getTensorsList()) {
        var ts = out.get(t.getName());
        out.put(t.getName(), ts.withInputs(inputs(unit, (int) t.getShape(1), t.getName().hashCode(), grams)));
      }
    }
    return new UnitStatistics(out, gs, ds, unit.getBatchesCount(), gl, dl);
  }

  /**
   * Input statistics of a layer with {@code cols} inputs: one made-up input vector per text of each half (a
   * reproducible function of the text's index), its squares and, when asked, its outer product summed.
   */
  private static io.gaprune.stats.InputSums inputs(WorkUnit unit, int cols, int h, boolean grams) {
    var sums = io.gaprune.stats.InputSums.zeros(cols, grams);
    long tokensGeneral = 0;
    long tokensDomain = 0;
    var x = new double[cols];
    for (BatchIndices b : unit.getBatchesList()) {
      for (int half = 0; half < 2; half++) {
        var indices = half == 0 ? b.getGeneralList() : b.getDomainList();
        var squares = half == 0 ? sums.squaresGeneral() : sums.squaresDomain();
        var gram = half == 0 ? sums.gramGeneral() : sums.gramDomain();
        for (int idx : indices) {
          for (int j = 0; j < cols; j++) {
            // channel j's scale grows with j, so the layer's channels differ as real activations do
            x[j] = value(idx + 7_000_003L * half, h, j) * (1 + j % 5);
            squares[j] += x[j] * x[j];
          }
          if (grams) {
            for (int i = 0; i < cols; i++) {
              for (int j = i; j < cols; j++) {
                gram[io.gaprune.stats.PackedSymmetric.index(i, j, cols)] += x[i] * x[j];
              }
            }
          }
        }
        if (half == 0) {
          tokensGeneral += indices.size();
        } else {
          tokensDomain += indices.size();
        }
      }
    }
    return new io.gaprune.stats.InputSums(sums.squaresGeneral(), sums.squaresDomain(), sums.gramGeneral(),
        sums.gramDomain(), tokensGeneral, tokensDomain);
  }

  /** A reproducible value in [-1, 1) from three integers (SplitMix64 finalizer). */
  static double value(long a, long b, long c) {
    long z = a * 0x9E3779B97F4A7C15L + b * 0xC2B2AE3D27D4EB4FL + c * 0x165667B19E3779F9L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z = z ^ (z >>> 31);
    return (z >>> 11) * 0x1.0p-53 * 2 - 1;
  }
}
