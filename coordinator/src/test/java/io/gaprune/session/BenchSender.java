package io.gaprune.session;

import com.google.protobuf.ByteString;
import com.google.protobuf.GeneratedMessage;
import com.typesafe.config.ConfigFactory;
import io.gaprune.config.GapruneConfig;
import io.gaprune.protocol.RequestWork;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.UnitResult;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.util.stream.LongStream;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.StreamRefs;

/**
 * Benchmark helper process: sends {@code bytes} of shard data either over a plain socket ({@code socket PORT})
 * or as a StreamRef of 64 KiB ShardChunks to whoever asks through the Receptionist ({@code pekko CONFIG}).
 */
public final class BenchSender {
  static final ServiceKey<GeneratedMessage> KEY = ServiceKey.create(GeneratedMessage.class, "bench-sender");
  static final int CHUNK = 64 * 1024;

  public static void main(String[] args) throws Exception {
    long bytes = Long.parseLong(args[2]);
    byte[] payload = new byte[CHUNK];
    new java.util.Random(1).nextBytes(payload);
    if (args[0].equals("socket")) {
      try (Socket s = new Socket("127.0.0.1", Integer.parseInt(args[1])); OutputStream out = s.getOutputStream()) {
        for (long sent = 0; sent < bytes; sent += CHUNK) {
          out.write(payload);
        }
      }
      return;
    }
    var config = GapruneConfig.load(Path.of(args[1]), ConfigFactory.empty());
    ByteString values = ByteString.copyFrom(payload);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.<Void>setup(ctx -> {
      ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.spawn(Behaviors.<GeneratedMessage>receive(
          (c, msg) -> {
            if (msg instanceof RequestWork r) {
              var ref = Source.fromJavaStream(() -> LongStream.range(0, bytes / CHUNK).boxed())
                  .map(i -> ShardChunk.newBuilder().setTensor("t").setStatistic(Statistic.SUM_SQ_GENERAL)
                      .setOffset(i * CHUNK / 8).setValues(values).build())
                  .runWith(StreamRefs.sourceRef(), c.getSystem());
              ActorRefResolver.get(c.getSystem()).<GeneratedMessage>resolveActorRef(r.getWorkerRef())
                  .tell(UnitResult.newBuilder().setSourceRef(StreamRefResolver.get(c.getSystem())
                      .toSerializationFormat(ref)).build());
            }
            return Behaviors.same();
          }), "sender")));
      return Behaviors.empty();
    }), "gaprune", io.gaprune.worker.WorkerNode.workerConfig(config));
    system.getWhenTerminated().toCompletableFuture().join();
  }
}
