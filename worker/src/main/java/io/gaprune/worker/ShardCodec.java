package io.gaprune.worker;

import com.google.protobuf.UnsafeByteOperations;
import io.gaprune.model.Shapes;
import io.gaprune.protocol.InputStatistics;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.protocol.TensorScalars;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.WorkUnit;
import io.gaprune.stats.PackedSymmetric;
import io.gaprune.stats.StatisticsStep;
import io.gaprune.stats.TensorStats;
import io.gaprune.stats.UnitStatistics;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.zip.CRC32C;

/**
 * Cuts a unit's statistics into {@link ShardChunk}s: for each tensor of the partition in order, for each
 * statistic the session collects in enum order ({@link #statistics}), consecutive runs of raw little-endian
 * float32 values. The order is fixed so the receiver can check it chunk by chunk and both sides compute the
 * same CRC32C.
 *
 * <p>Why float32: a unit's sums are float64 on the worker and rounded once here, a relative error of at most
 * 2⁻²⁴ per value and unit; the accumulators that fold the units are float64, so the merged Fisher keeps that
 * relative bound (all its terms are non-negative) whatever the number of units. Half the bytes of float64
 * (docs/cluster.md, "Data path").
 */
public final class ShardCodec {
  /** Bytes per value on the wire and in staged files. */
  public static final int VALUE_BYTES = Float.BYTES;

  /** Little-endian float32 stores straight into a byte array (an intrinsic; no ByteBuffer per chunk). */
  private static final VarHandle FLOAT_LE = MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);

  private static final List<Statistic> FISHER = List.of(Statistic.SUM_SQ_GENERAL, Statistic.SUM_SQ_DOMAIN);
  private static final List<Statistic> ALL = List.of(
      Statistic.SUM_SQ_GENERAL, Statistic.SUM_GENERAL, Statistic.SUM_SQ_DOMAIN, Statistic.SUM_DOMAIN);

  private ShardCodec() {}

  private static final List<Statistic> INPUT_NORMS = List.of(Statistic.INPUT_SQ_GENERAL, Statistic.INPUT_SQ_DOMAIN);
  private static final List<Statistic> INPUT_GRAMS = List.of(Statistic.INPUT_SQ_GENERAL, Statistic.INPUT_SQ_DOMAIN,
      Statistic.INPUT_GRAM_GENERAL, Statistic.INPUT_GRAM_DOMAIN);

  /** Whether a statistic is of a linear layer's inputs (per input channel) rather than one value per weight. */
  public static boolean isInputStatistic(Statistic s) {
    return INPUT_GRAMS.contains(s);
  }

  /** The statistics a session's units carry, in stream order: the gradient statistics, then the input ones. */
  public static List<Statistic> statistics(SessionConfig session) {
    return statistics(session.getStatistics(), session.getInputStatistics());
  }

  public static List<Statistic> statistics(StatisticSet set) {
    // UNSPECIFIED: a journal written before sessions chose, when every unit carried all four
    return set == StatisticSet.FISHER ? FISHER : ALL;
  }

  public static List<Statistic> statistics(StatisticSet set, InputStatistics inputs) {
    var out = new ArrayList<>(statistics(set));
    switch (inputs) {
      case INPUT_NORMS -> out.addAll(INPUT_NORMS);
      case INPUT_GRAMS -> out.addAll(INPUT_GRAMS);
      default -> { } // none (also a journal written before input statistics existed)
    }
    return List.copyOf(out);
  }

  /** Whether a session's units carry the gradient sums Σg. */
  public static boolean gradientSums(SessionConfig session) {
    return statistics(session).contains(Statistic.SUM_GENERAL);
  }

  /** The input statistics a session's worker step collects. */
  public static StatisticsStep.Inputs inputs(SessionConfig session) {
    return switch (session.getInputStatistics()) {
      case INPUT_NORMS -> StatisticsStep.Inputs.NORMS;
      case INPUT_GRAMS -> StatisticsStep.Inputs.GRAMS;
      default -> StatisticsStep.Inputs.NONE;
    };
  }

  /**
   * Values of one statistic of a tensor: the tensor's element count for the gradient statistics; for the input
   * statistics of a linear weight {@code [out, in]}, {@code in} (Σx²) or {@code in·(in+1)/2} (the packed Gram).
   */
  public static long length(long[] shape, Statistic s) {
    return switch (s) {
      case INPUT_SQ_GENERAL, INPUT_SQ_DOMAIN -> inputs(shape, s);
      case INPUT_GRAM_GENERAL, INPUT_GRAM_DOMAIN -> PackedSymmetric.length(inputs(shape, s));
      default -> Shapes.elementCount(shape);
    };
  }

  public static long length(TensorSpec spec, Statistic s) {
    return length(spec.getShapeList().stream().mapToLong(Long::longValue).toArray(), s);
  }

  private static long inputs(long[] shape, Statistic s) {
    if (shape.length != 2) {
      throw new IllegalArgumentException(s + " is a statistic of linear weights [out, in], not of shape "
          + Arrays.toString(shape));
    }
    return shape[1];
  }

  /**
   * The unit's tensors cut into its merger groups ({@code group_tensor_counts}; none: one group), in order: one
   * shard stream each, to the group's owner.
   */
  public static List<List<TensorSpec>> groups(WorkUnit unit) {
    List<TensorSpec> tensors = unit.getTensorsList();
    if (unit.getGroupTensorCountsCount() == 0) {
      return List.of(tensors);
    }
    List<List<TensorSpec>> out = new ArrayList<>();
    int at = 0;
    for (int n : unit.getGroupTensorCountsList()) {
      if (at + n > tensors.size()) {
        throw new IllegalArgumentException("unit " + unit.getUnitId() + ": its merger groups count "
            + unit.getGroupTensorCountsList() + " tensors, it has " + tensors.size());
      }
      out.add(tensors.subList(at, at + n));
      at += n;
    }
    if (at != tensors.size()) {
      throw new IllegalArgumentException("unit " + unit.getUnitId() + ": its merger groups count " + at
          + " tensors, it has " + tensors.size());
    }
    return out;
  }

  public static double[] array(TensorStats t, Statistic s) {
    return switch (s) {
      case SUM_SQ_GENERAL -> t.sumSqGeneral();
      case SUM_GENERAL -> t.sumGeneral();
      case SUM_SQ_DOMAIN -> t.sumSqDomain();
      case SUM_DOMAIN -> t.sumDomain();
      case INPUT_SQ_GENERAL -> t.inputs().squaresGeneral();
      case INPUT_SQ_DOMAIN -> t.inputs().squaresDomain();
      case INPUT_GRAM_GENERAL -> t.inputs().gramGeneral();
      case INPUT_GRAM_DOMAIN -> t.inputs().gramDomain();
      default -> throw new IllegalArgumentException("no statistic " + s);
    };
  }

  /**
   * Checks that {@code stats} holds exactly the tensors of {@code order} with their shapes, and the gradient
   * sums when {@code statistics} ships them.
   */
  public static void checkCovers(UnitStatistics stats, List<TensorSpec> order, List<Statistic> statistics) {
    for (TensorSpec spec : order) {
      TensorStats t = stats.tensors().get(spec.getName());
      if (t == null) {
        throw new IllegalStateException("the runtime returned no statistics for tensor " + spec.getName());
      }
      long[] shape = spec.getShapeList().stream().mapToLong(Long::longValue).toArray();
      if (!Arrays.equals(shape, t.shape())) {
        throw new IllegalStateException("tensor " + spec.getName() + " has shape " + Arrays.toString(t.shape())
            + ", the partition expects " + Arrays.toString(shape));
      }
      if (statistics.contains(Statistic.SUM_GENERAL) && !t.hasGradientSums()) {
        throw new IllegalStateException("the runtime returned no gradient sums for tensor " + spec.getName()
            + ", and the session's scoring reads them");
      }
      for (Statistic s : statistics) {
        if (array(t, s).length != length(shape, s)) {
          throw new IllegalStateException("the runtime returned " + array(t, s).length + " values of " + s
              + " for tensor " + spec.getName() + ", the session expects " + length(shape, s));
        }
      }
    }
  }

  /**
   * Checks every value is finite as it will travel (float32): a NaN or infinity would poison every later fold
   * of the partition, so it is refused at the source with the tensor, statistic and element named.
   */
  public static void checkFinite(UnitStatistics stats, List<TensorSpec> order, List<Statistic> statistics) {
    for (TensorSpec spec : order) {
      TensorStats t = stats.tensors().get(spec.getName());
      for (Statistic s : statistics) {
        double[] a = array(t, s);
        for (int i = 0; i < a.length; i++) {
          if (!Float.isFinite((float) a[i])) {
            throw new IllegalStateException("non-finite statistic: " + spec.getName() + " " + s + "[" + i + "] = " + a[i]);
          }
        }
      }
    }
  }

  public static List<TensorScalars> metas(UnitStatistics stats, List<TensorSpec> order) {
    List<TensorScalars> out = new ArrayList<>();
    for (TensorSpec spec : order) {
      TensorStats t = stats.tensors().get(spec.getName());
      out.add(TensorScalars.newBuilder().setName(spec.getName()).addAllShape(spec.getShapeList())
          .setCosineSum(t.cosineSum()).setNegativeCosines(t.negativeCosines())
          .setGeneralTokens(t.inputs().tokensGeneral()).setDomainTokens(t.inputs().tokensDomain()).build());
    }
    return out;
  }

  /** The chunks, produced lazily (a unit's chunks never all sit in memory as protobuf at once); each owns its bytes. */
  public static Iterator<ShardChunk> chunks(UnitStatistics stats, List<TensorSpec> order, List<Statistic> statistics,
      int chunkBytes) {
    return chunks(stats, order, statistics, chunkBytes, false);
  }

  /**
   * The same chunks, all over one buffer: a chunk's values are valid only until the next {@code next()}. For a
   * consumer that writes each chunk out before asking for the next (the shard port): no array per chunk.
   */
  public static Iterator<ShardChunk> transientChunks(UnitStatistics stats, List<TensorSpec> order,
      List<Statistic> statistics, int chunkBytes) {
    return chunks(stats, order, statistics, chunkBytes, true);
  }

  private static Iterator<ShardChunk> chunks(UnitStatistics stats, List<TensorSpec> order, List<Statistic> statistics,
      int chunkBytes, boolean reuse) {
    int perChunk = Math.max(1, chunkBytes / VALUE_BYTES);
    return new Iterator<>() {
      final byte[] shared = reuse ? new byte[perChunk * VALUE_BYTES] : null;
      int tensor = 0;
      int stat = 0;
      int offset = 0;

      @Override
      public boolean hasNext() {
        return tensor < order.size();
      }

      @Override
      public ShardChunk next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        String name = order.get(tensor).getName();
        double[] values = array(stats.tensors().get(name), statistics.get(stat));
        int n = Math.min(perChunk, values.length - offset);
        byte[] bytes = reuse ? shared : new byte[n * VALUE_BYTES];
        fill(values, offset, n, bytes);
        // a fresh array is never written again: the chunk may own it (one copy less than copyFrom); the shared one
        // is the caller's promise (transientChunks)
        ShardChunk chunk = ShardChunk.newBuilder().setTensor(name).setStatistic(statistics.get(stat))
            .setOffset(offset).setValues(UnsafeByteOperations.unsafeWrap(bytes, 0, n * VALUE_BYTES)).build();
        offset += n;
        if (offset >= values.length) {
          offset = 0;
          if (++stat == statistics.size()) {
            stat = 0;
            tensor++;
          }
        }
        return chunk;
      }
    };
  }

  /** Summary of the stream {@link #chunks} produces: chunk count, value bytes, CRC32C of the value bytes. */
  public record Digest(long chunks, long bytes, int crc32c) {}

  /**
   * The digest of the stream {@link #chunks} would produce, computed without building it: the same float32
   * bytes, chunk by chunk, through one reused buffer (no protobuf and no array per chunk).
   */
  public static Digest digest(UnitStatistics stats, List<TensorSpec> order, List<Statistic> statistics,
      int chunkBytes) {
    int perChunk = Math.max(1, chunkBytes / VALUE_BYTES);
    byte[] buffer = new byte[perChunk * VALUE_BYTES];
    CRC32C crc = new CRC32C();
    long chunks = 0;
    long bytes = 0;
    for (TensorSpec spec : order) {
      TensorStats t = stats.tensors().get(spec.getName());
      for (Statistic s : statistics) {
        double[] values = array(t, s);
        int offset = 0;
        do { // as chunks(): an empty statistic is one empty chunk
          int n = Math.min(perChunk, values.length - offset);
          fill(values, offset, n, buffer);
          crc.update(buffer, 0, n * VALUE_BYTES);
          chunks++;
          bytes += (long) n * VALUE_BYTES;
          offset += n;
        } while (offset < values.length);
      }
    }
    return new Digest(chunks, bytes, (int) crc.getValue());
  }

  /** Rounds {@code n} values from {@code offset} to float32, little-endian, into the start of {@code into}. */
  private static void fill(double[] values, int offset, int n, byte[] into) {
    for (int i = 0, at = offset; i < n; i++, at++) {
      FLOAT_LE.set(into, i * VALUE_BYTES, (float) values[at]);
    }
  }
}
