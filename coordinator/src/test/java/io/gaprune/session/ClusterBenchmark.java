package io.gaprune.session;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.protobuf.GeneratedMessage;
import io.gaprune.data.TripletReader;
import io.gaprune.model.LayerType;
import io.gaprune.model.ModelLoader;
import io.gaprune.protocol.RequestWork;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.UnitResult;
import io.gaprune.stats.StatisticsStep;
import io.gaprune.stats.TripletBatch;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.stream.SourceRef;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Figures for docs/cluster.md. Run alone:
 * {@code mvn -B -ntp -Pbench -pl coordinator -am verify -Dtest=ClusterBenchmark -Dsurefire.failIfNoSpecifiedTests=false}
 */
@Tag("bench")
class ClusterBenchmark {
  static final long BYTES = 512L << 20;
  static final Path DATA = Path.of(System.getProperty("gaprune.shared.data", "/work/shared/data"));

  @Test
  void shardStreamingVersusRawSocket() throws Exception {
    Path dir = ClusterTestSupport.testDir("bench-stream");
    // raw socket copy of the same bytes, child JVM → this JVM
    double socketMbps;
    try (ServerSocket server = new ServerSocket(0)) {
      Process p = java("socket", Integer.toString(server.getLocalPort()), dir.resolve("socket.log"));
      try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
        byte[] buf = new byte[1 << 16];
        long n = 0;
        long t0 = System.nanoTime();
        int r;
        while ((r = in.read(buf)) > 0) {
          n += r;
        }
        socketMbps = n / 1e6 / ((System.nanoTime() - t0) / 1e9);
      }
      p.waitFor(30, TimeUnit.SECONDS);
    }
    // the same bytes as a StreamRef of 64 KiB ShardChunks between two cluster nodes
    Path conf = ClusterTestSupport.write(dir, "recv.conf", ClusterTestSupport.settings(dir.resolve("w"), 0, null, ""));
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "gaprune", ClusterTestSupport.load(conf));
    double pekkoMbps;
    Process p = null;
    try {
      Cluster.get(system).manager().tell(Join.create(Cluster.get(system).selfMember().address()));
      String addr = Cluster.get(system).selfMember().address().toString();
      Path sconf = ClusterTestSupport.write(dir, "send.conf", ClusterTestSupport.settings(dir.resolve("s"), 0, addr, ""));
      p = java("pekko", sconf.toString(), dir.resolve("sender.log"));
      ActorRef<GeneratedMessage> sender = null;
      while (sender == null) {
        var l = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
            r -> Receptionist.find(BenchSender.KEY, r), Duration.ofSeconds(5), system.scheduler())
            .toCompletableFuture().get();
        sender = l.getServiceInstances(BenchSender.KEY).stream().findFirst().orElse(null);
        Thread.sleep(200);
      }
      ActorRef<GeneratedMessage> s2 = sender;
      var resolver = ActorRefResolver.get(system);
      UnitResult offer = (UnitResult) AskPattern.<GeneratedMessage, GeneratedMessage>ask(s2,
          r -> RequestWork.newBuilder().setWorkerRef(resolver.toSerializationFormat(r)).build(), Duration.ofSeconds(30),
          system.scheduler()).toCompletableFuture().get();
      SourceRef<ShardChunk> ref = StreamRefResolver.get(system).resolveSourceRef(offer.getSourceRef());
      long t0 = System.nanoTime();
      long n = ref.getSource().runWith(Sink.fold(0L, (acc, c) -> acc + c.getValues().size()), system)
          .toCompletableFuture().get(300, TimeUnit.SECONDS);
      pekkoMbps = n / 1e6 / ((System.nanoTime() - t0) / 1e9);
    } finally {
      if (p != null) {
        p.destroyForcibly();
      }
      system.terminate();
    }
    System.out.printf(Locale.ROOT, "BENCH shard streaming %d MB: StreamRef %.1f MB/s, raw socket %.1f MB/s (%.0f%%)%n",
        BYTES >> 20, pekkoMbps, socketMbps, 100 * pekkoMbps / socketMbps);
  }

  @Test
  void sessionThroughputVersusBareStepLoop() throws Exception {
    int batch = 8;
    int batches = 4;
    var general = TripletReader.readAll(DATA.resolve("general/train.json"));
    var domain = TripletReader.readAll(DATA.resolve("chem/train.json"));
    double bare;
    try (var manager = NDManager.newBaseManager();
        var model = ModelLoader.load("minilm", manager, DataType.FLOAT32, 64)) {
      var names = model.encoder().parameters().entrySet().stream()
          .filter(e -> LayerType.isCandidate(LayerType.parse("mlp"), e.getKey(), e.getValue().getShape().getShape()))
          .map(e -> e.getKey()).toList();
      var step = new StatisticsStep(model.encoder(), names);
      long t0 = 0;
      for (int b = -1; b < batches; b++) { // one warm-up batch
        if (b == 0) {
          t0 = System.nanoTime();
        }
        int at = Math.max(b, 0) * batch;
        try (var bm = manager.newSubManager()) {
          step.run(TripletBatch.tokenize(general.subList(at, at + batch), model.tokenizer(), model.config(), bm),
              TripletBatch.tokenize(domain.subList(at, at + batch), model.tokenizer(), model.config(), bm));
        }
      }
      bare = 2.0 * batch * batches / ((System.nanoTime() - t0) / 1e9);
    }
    Path dir = ClusterTestSupport.testDir("bench-session");
    String settings = ClusterTestSupport.settings(dir.resolve("work-1"), 0, null, "")
        .replace("io.gaprune.worker.testing.SyntheticRuntime", "io.gaprune.worker.ModelUnitComputer")
        + "\ngaprune.model = minilm\ngaprune.http.enabled = off\ngaprune.coordinator.lease-timeout = 120s\n"
        + "gaprune.session.max-seq-len = 64\n";
    SessionConfig session = SessionConfig.newBuilder().setSessionId("bench").setModel("minilm")
        .setGeneralPath(DATA.resolve("general/train.json").toString())
        .setDomainPath(DATA.resolve("chem/train.json").toString())
        .setGeneralLimit(batch * batches).setDomainLimit(batch * batches).setSeed(7).setBatchSize(batch)
        .setBatchesPerUnit(2).setPartitionBudgetBytes(1L << 30).setCandidates("mlp").setSparsity(0.5)
        .setMaxSeqLen(64).setAlpha(0.2).setBeta(1.0).setGamma(0.5).setBudget("global").build();
    double[] perWorkers = new double[3];
    for (int w = 1; w <= 2; w++) {
      var r = EmbeddedSession.run(session, ClusterTestSupport.load(ClusterTestSupport.write(dir, "w" + w + ".conf",
          settings.replace("work-1", "work-w" + w))), w, Duration.ofMinutes(10));
      perWorkers[w] = 2.0 * batch * batches / (r.sessionTime().toNanos() / 1e9);
    }
    System.out.printf(Locale.ROOT, "BENCH session MiniLM MLP, %d batches of %d+%d triplets, 1 partition, 2 batches/unit: "
        + "bare step loop %.2f triplets/s; session 1 worker %.2f triplets/s (%.0f%%), 2 workers %.2f triplets/s (%.0f%%)%n",
        batches, batch, batch, bare, perWorkers[1], 100 * perWorkers[1] / bare, perWorkers[2], 100 * perWorkers[2] / bare);
  }

  static Process java(String mode, String arg, Path log) throws Exception {
    List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
        "-cp", System.getProperty("java.class.path"), BenchSender.class.getName(), mode, arg, Long.toString(BYTES));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }
}
