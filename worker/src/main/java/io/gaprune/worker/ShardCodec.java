package io.gaprune.worker;

import com.google.protobuf.ByteString;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.TensorMeta;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.stats.TensorStats;
import io.gaprune.stats.UnitStatistics;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.zip.CRC32C;

/**
 * Cuts a unit's statistics into {@link ShardChunk}s: for each tensor of the partition in order, for each of
 * the four statistics in enum order, consecutive runs of raw little-endian float64 values. The order is
 * fixed so the receiver can check it chunk by chunk and both sides compute the same CRC32C.
 */
public final class ShardCodec {
  public static final Statistic[] STATISTICS = {
    Statistic.SUM_SQ_GENERAL, Statistic.SUM_GENERAL, Statistic.SUM_SQ_DOMAIN, Statistic.SUM_DOMAIN
  };

  private ShardCodec() {}

  public static double[] array(TensorStats t, Statistic s) {
    return switch (s) {
      case SUM_SQ_GENERAL -> t.sumSqGeneral();
      case SUM_GENERAL -> t.sumGeneral();
      case SUM_SQ_DOMAIN -> t.sumSqDomain();
      case SUM_DOMAIN -> t.sumDomain();
      default -> throw new IllegalArgumentException("no statistic " + s);
    };
  }

  /** Checks that {@code stats} holds exactly the tensors of {@code order} with their shapes. */
  public static void checkCovers(UnitStatistics stats, List<TensorSpec> order) {
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
    }
  }

  /**
   * Checks every value is finite: a NaN or infinity would poison every later fold of the partition, so it is
   * refused at the source with the tensor, statistic and element named.
   */
  public static void checkFinite(UnitStatistics stats, List<TensorSpec> order) {
    for (TensorSpec spec : order) {
      TensorStats t = stats.tensors().get(spec.getName());
      for (Statistic s : STATISTICS) {
        double[] a = array(t, s);
        for (int i = 0; i < a.length; i++) {
          if (!Double.isFinite(a[i])) {
            throw new IllegalStateException("non-finite statistic: " + spec.getName() + " " + s + "[" + i + "] = " + a[i]);
          }
        }
      }
    }
  }

  public static List<TensorMeta> metas(UnitStatistics stats, List<TensorSpec> order) {
    List<TensorMeta> out = new ArrayList<>();
    for (TensorSpec spec : order) {
      TensorStats t = stats.tensors().get(spec.getName());
      out.add(TensorMeta.newBuilder().setName(spec.getName()).addAllShape(spec.getShapeList())
          .setCosineSum(t.cosineSum()).setNegativeCosines(t.negativeCosines()).build());
    }
    return out;
  }

  /** The chunks, produced lazily (a unit's chunks never all sit in memory as protobuf at once). */
  public static Iterator<ShardChunk> chunks(UnitStatistics stats, List<TensorSpec> order, int chunkBytes) {
    int perChunk = Math.max(1, chunkBytes / Double.BYTES);
    return new Iterator<>() {
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
        double[] values = array(stats.tensors().get(name), STATISTICS[stat]);
        int n = Math.min(perChunk, values.length - offset);
        ByteBuffer buf = ByteBuffer.allocate(n * Double.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buf.asDoubleBuffer().put(values, offset, n);
        ShardChunk chunk = ShardChunk.newBuilder().setTensor(name).setStatistic(STATISTICS[stat])
            .setOffset(offset).setValues(ByteString.copyFrom(buf.array())).build();
        offset += n;
        if (offset >= values.length) {
          offset = 0;
          if (++stat == STATISTICS.length) {
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

  public static Digest digest(UnitStatistics stats, List<TensorSpec> order, int chunkBytes) {
    CRC32C crc = new CRC32C();
    long chunks = 0;
    long bytes = 0;
    for (Iterator<ShardChunk> it = chunks(stats, order, chunkBytes); it.hasNext(); ) {
      ShardChunk c = it.next();
      crc.update(c.getValues().asReadOnlyByteBuffer());
      chunks++;
      bytes += c.getValues().size();
    }
    return new Digest(chunks, bytes, (int) crc.getValue());
  }
}
