package io.gaprune.bench;

import com.google.protobuf.GeneratedMessage;
import io.gaprune.config.GapruneConfig;
import io.gaprune.protocol.RequestWork;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.UnitResult;
import io.gaprune.stats.TensorStats;
import io.gaprune.stats.UnitStatistics;
import io.gaprune.transfer.ShardServer;
import io.gaprune.worker.ShardCodec;
import io.gaprune.worker.WorkerSettings;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.zip.CRC32C;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.StreamRefs;

/**
 * The sending side of {@code gaprune bench cluster}'s shard measurement, run as a child JVM (a worker's stand-in):
 * <ul>
 *   <li>{@code socket PORT BYTES}: writes BYTES over a plain TCP socket to 127.0.0.1:PORT (the wire's speed);</li>
 *   <li>{@code pekko CONFIG BYTES NAME}: joins the cluster that CONFIG's seed node names and, for every
 *       {@link RequestWork} that reaches it through the Receptionist ({@link #key} of NAME), offers BYTES of shard values as
 *       {@link ShardChunk}s cut by the product's {@link ShardCodec} over the configured transport (a ticket for
 *       its shard port, or a fresh {@code StreamRefs.sourceRef()}) with the transport's chunk size, exactly as a
 *       worker offers a unit. The reply is a {@link UnitResult} carrying the ticket or the ref, the chunk count,
 *       the byte count and the CRC32C of the values.</li>
 * </ul>
 */
public final class ShardSender {
  /** Where the measuring JVM finds the sender named {@code name} (one per measured variant). */
  public static ServiceKey<GeneratedMessage> key(String name) {
    return ServiceKey.create(GeneratedMessage.class, "gaprune-bench-sender-" + name);
  }

  /** Values per synthetic tensor (1024 × 1024); the unit is repeated until the asked bytes are reached. */
  static final int TENSOR_VALUES = 1 << 20;
  static final int SOCKET_WRITE = 64 * 1024;

  private ShardSender() {}

  public static void main(String[] args) throws Exception {
    if (!(args.length == 3 && args[0].equals("socket")) && !(args.length == 4 && args[0].equals("pekko"))) {
      System.err.println("usage: ShardSender socket PORT BYTES | pekko CONFIG BYTES NAME");
      System.exit(2);
    }
    long bytes = Long.parseLong(args[2]);
    if (args[0].equals("socket")) {
      byte[] payload = new byte[SOCKET_WRITE];
      new Random(1).nextBytes(payload);
      try (Socket s = new Socket("127.0.0.1", Integer.parseInt(args[1])); OutputStream out = s.getOutputStream()) {
        for (long sent = 0; sent < bytes; sent += payload.length) {
          out.write(payload, 0, (int) Math.min(payload.length, bytes - sent));
        }
      }
      return;
    }
    var config = GapruneConfig.load(Path.of(args[1]), com.typesafe.config.ConfigFactory.empty());
    WorkerSettings settings = WorkerSettings.from(config, "cpu");
    int chunkBytes = settings.chunkBytes();
    ShardServer shardPort = settings.shardPort() ? ShardServer.start(config) : null;
    Shards shards = Shards.of(bytes);
    // the digest the receiver checks, computed once before any offer (not part of the timing)
    CRC32C crc = new CRC32C();
    long t0 = System.nanoTime();
    long chunks = 0;
    long total = 0;
    for (Iterator<ShardChunk> it = shards.chunks(chunkBytes, true); it.hasNext(); ) {
      ShardChunk c = it.next();
      crc.update(c.getValues().asReadOnlyByteBuffer());
      chunks++;
      total += c.getValues().size();
    }
    long chunkCount = chunks;
    long totalBytes = total;
    int crc32c = (int) crc.getValue();
    long codecNanos = System.nanoTime() - t0;
    ActorSystem<Void> system = ActorSystem.create(Behaviors.<Void>setup(ctx -> {
      ctx.getSystem().receptionist().tell(Receptionist.register(key(args[3]), ctx.spawn(Behaviors.<GeneratedMessage>receive(
          (c, msg) -> {
            if (msg instanceof RequestWork r) {
              var offer = UnitResult.newBuilder().setUnitId("bench").setWorkerRef(r.getWorkerRef())
                  .setChunkCount(chunkCount).setTotalBytes(totalBytes).setCrc32C(crc32c);
              if (shardPort != null) {
                offer.setTicket(shardPort.offer(() -> shards.chunks(chunkBytes, true)));
              } else {
                var ref = Source.fromIterator(() -> shards.chunks(chunkBytes, false)).runWith(StreamRefs.sourceRef(), c.getSystem());
                offer.setSourceRef(StreamRefResolver.get(c.getSystem()).toSerializationFormat(ref));
              }
              ActorRefResolver.get(c.getSystem()).<GeneratedMessage>resolveActorRef(r.getWorkerRef()).tell(offer.build());
            }
            return Behaviors.same();
          }), "sender")));
      return Behaviors.empty();
    }), config.getString("gaprune.cluster.system-name"), config);
    System.out.printf(java.util.Locale.ROOT, "shard sender ready: %d bytes in %d chunks of at most %d bytes; cut and "
        + "checksummed at %.0f MB/s%n", totalBytes, chunkCount, chunkBytes, totalBytes / 1e3 / (codecNanos / 1e6));
    system.getWhenTerminated().toCompletableFuture().join();
  }

  /** A synthetic Fisher-only unit (float64 sums, as a worker holds them), repeated to reach the asked size. */
  record Shards(UnitStatistics unit, List<TensorSpec> order, int repeats) {
    static Shards of(long bytes) {
      long perTensor = 2L * TENSOR_VALUES * ShardCodec.VALUE_BYTES; // Σg² of both halves
      int tensors = (int) Math.max(1, Math.min(4, (bytes + perTensor - 1) / perTensor));
      int repeats = (int) Math.max(1, (bytes + tensors * perTensor - 1) / (tensors * perTensor));
      Random random = new Random(7);
      var map = new LinkedHashMap<String, TensorStats>();
      List<TensorSpec> order = new ArrayList<>();
      for (int t = 0; t < tensors; t++) {
        String name = "bench.layer." + t + ".weight";
        double[] general = new double[TENSOR_VALUES];
        double[] domain = new double[TENSOR_VALUES];
        for (int i = 0; i < TENSOR_VALUES; i++) {
          general[i] = random.nextDouble() * 1e-3;
          domain[i] = random.nextDouble() * 1e-3;
        }
        map.put(name, new TensorStats(name, new long[] {1024, 1024}, general, new double[0], domain, new double[0], 0, 0));
        order.add(TensorSpec.newBuilder().setName(name).addShape(1024).addShape(1024).build());
      }
      return new Shards(new UnitStatistics(map, 8, 8, 1, 0, 0), order, repeats);
    }

    /** The unit's chunks {@link #repeats} times over, lazily; over one buffer with {@code reuse} (as a worker's port). */
    Iterator<ShardChunk> chunks(int chunkBytes, boolean reuse) {
      List<Statistic> statistics = List.of(Statistic.SUM_SQ_GENERAL, Statistic.SUM_SQ_DOMAIN);
      return new Iterator<>() {
        int round = 0;
        Iterator<ShardChunk> current = pass();

        @Override
        public boolean hasNext() {
          while (!current.hasNext() && ++round < repeats) {
            current = pass();
          }
          return current.hasNext();
        }

        private Iterator<ShardChunk> pass() {
          return reuse ? ShardCodec.transientChunks(unit, order, statistics, chunkBytes)
              : ShardCodec.chunks(unit, order, statistics, chunkBytes);
        }

        @Override
        public ShardChunk next() {
          if (!hasNext()) {
            throw new NoSuchElementException();
          }
          return current.next();
        }
      };
    }
  }
}
