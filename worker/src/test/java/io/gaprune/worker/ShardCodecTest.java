package io.gaprune.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.stats.TensorStats;
import io.gaprune.stats.UnitStatistics;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** The chunks carry each value rounded once to float32, in order; the digest is the one of those chunks. */
class ShardCodecTest {

  @Test
  void chunksHoldTheFloat32ValuesInOrderAndTheDigestMatchesThem() {
    for (boolean gradients : new boolean[] {false, true}) {
      for (int chunkBytes : new int[] {4, 64, 1000, 64 * 1024}) {
        var random = new Random(chunkBytes + (gradients ? 1 : 0));
        var tensors = new LinkedHashMap<String, TensorStats>();
        List<TensorSpec> order = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
          int rows = 7 + 13 * t;
          int cols = 33;
          var stats = TensorStats.zeros("t" + t, new long[] {rows, cols}, gradients);
          for (double[] a : new double[][] {stats.sumSqGeneral(), stats.sumGeneral(), stats.sumSqDomain(), stats.sumDomain()}) {
            for (int i = 0; i < a.length; i++) {
              a[i] = random.nextGaussian() * Math.pow(10, random.nextInt(12) - 6);
            }
          }
          tensors.put("t" + t, stats);
          order.add(TensorSpec.newBuilder().setName("t" + t).addShape(rows).addShape(cols).build());
        }
        var unit = new UnitStatistics(tensors, 1, 1, 1, 0, 0);
        List<Statistic> statistics = gradients
            ? List.of(Statistic.SUM_SQ_GENERAL, Statistic.SUM_GENERAL, Statistic.SUM_SQ_DOMAIN, Statistic.SUM_DOMAIN)
            : List.of(Statistic.SUM_SQ_GENERAL, Statistic.SUM_SQ_DOMAIN);
        CRC32C crc = new CRC32C();
        long chunks = 0;
        long bytes = 0;
        Iterator<ShardChunk> it = ShardCodec.chunks(unit, order, statistics, chunkBytes);
        for (TensorSpec spec : order) {
          for (Statistic s : statistics) {
            double[] expected = ShardCodec.array(tensors.get(spec.getName()), s);
            int at = 0;
            while (at < expected.length) {
              ShardChunk c = it.next();
              assertEquals(spec.getName(), c.getTensor());
              assertEquals(s, c.getStatistic());
              assertEquals(at, c.getOffset());
              assertTrue(c.getValues().size() <= Math.max(4, chunkBytes));
              ByteBuffer values = c.getValues().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
              while (values.hasRemaining()) {
                assertEquals((float) expected[at], values.getFloat(), "value " + at + " of " + spec.getName() + " " + s);
                at++;
              }
              crc.update(c.getValues().asReadOnlyByteBuffer());
              chunks++;
              bytes += c.getValues().size();
            }
          }
        }
        assertTrue(!it.hasNext());
        // the shard port's chunks over one buffer: the same chunks, each as long as it is read before the next
        Iterator<ShardChunk> fresh = ShardCodec.chunks(unit, order, statistics, chunkBytes);
        Iterator<ShardChunk> shared = ShardCodec.transientChunks(unit, order, statistics, chunkBytes);
        while (fresh.hasNext()) {
          assertTrue(shared.hasNext());
          assertEquals(fresh.next(), shared.next());
        }
        assertTrue(!shared.hasNext());
        var digest = ShardCodec.digest(unit, order, statistics, chunkBytes);
        assertEquals(new ShardCodec.Digest(chunks, bytes, (int) crc.getValue()), digest,
            "chunk bytes " + chunkBytes + ", gradients " + gradients);
      }
    }
  }
}
