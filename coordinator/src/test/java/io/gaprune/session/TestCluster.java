package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonObject;
import com.google.protobuf.GeneratedMessage;
import com.typesafe.config.Config;
import io.gaprune.protocol.CommandReply;
import io.gaprune.protocol.DrainWorker;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.SessionStatusRequest;
import io.gaprune.protocol.StartSession;
import io.gaprune.stats.TensorStats;
import io.gaprune.stats.UnitStatistics;
import io.gaprune.worker.testing.SyntheticRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * A real cluster on 127.0.0.1 for tests: a coordinator node in this JVM (or none), workers as child JVMs
 * started with this JVM's class path through the real CLI ({@code gaprune worker}), logs in files.
 */
final class TestCluster implements AutoCloseable {
  /** One full MLP tensor of MiniLM (1536 × 384 float64 ≈ 4.7 MB per statistic) plus two small ones. */
  static final String TENSORS = "gaprune.test.tensors = [\"encoder.layer.0.intermediate.dense.weight:1536x384\", "
      + "\"encoder.layer.1.intermediate.dense.weight:48x16\", \"encoder.layer.1.output.dense.weight:16x48\"]";

  final Path dir;
  final String extra;
  CoordinatorNode coordinator;
  ActorRef<GeneratedMessage> endpoint;
  final List<Process> processes = new ArrayList<>();

  TestCluster(Path dir, String extra) {
    this.dir = dir;
    this.extra = extra;
  }

  void startCoordinator() throws Exception {
    Path conf = ClusterTestSupport.write(dir, "coordinator.conf",
        ClusterTestSupport.settings(dir.resolve("coordinator-work"), 0, null, extra + "\ngaprune.http.enabled = off"));
    coordinator = CoordinatorNode.start(ClusterTestSupport.load(conf), new SyntheticRuntime(ClusterTestSupport.load(conf)),
        List.of("coordinator"), new AccumulatorPlanner());
    endpoint = CoordinatorNode.findCoordinator(coordinator.system(), Duration.ofSeconds(60));
  }

  Path workerConf(String name, String more) throws IOException {
    return ClusterTestSupport.write(dir, name + ".conf", ClusterTestSupport.settings(dir.resolve(name + "-work"), 0,
        coordinator.address(), extra + "\n" + more));
  }

  Process startWorker(String name, String more) throws IOException {
    Process p = EmbeddedSession.startWorkerProcess(workerConf(name, more), "cpu", log(name));
    processes.add(p);
    return p;
  }

  Path log(String name) {
    return dir.resolve(name + ".log");
  }

  static void waitForLog(Path log, String text, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.exists(log) && Files.readString(log).contains(text)) {
        return;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("\"" + text + "\" not in " + log + " within " + timeout.toSeconds() + " s:\n"
        + (Files.exists(log) ? tail(Files.readString(log)) : "(no log)"));
  }

  static String tail(String s) {
    return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
  }

  CommandReply ask(java.util.function.Function<String, GeneratedMessage> request) throws Exception {
    return EmbeddedSession.ask(coordinator.system(), endpoint, request);
  }

  SessionStatus status() throws Exception {
    return ask(r -> SessionStatusRequest.newBuilder().setReplyTo(r).build()).getStatus();
  }

  SessionStatus awaitStatus(Predicate<SessionStatus> p, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    SessionStatus s = null;
    while (System.nanoTime() < deadline) {
      s = status();
      if (p.test(s)) {
        return s;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("status condition not met within " + timeout.toSeconds() + " s; last: " + s);
  }

  void start(SessionConfig session) throws Exception {
    CommandReply r = ask(rt -> StartSession.newBuilder().setConfig(session).setReplyTo(rt).build());
    if (!r.getOk()) {
      throw new AssertionError(r.getMessage());
    }
  }

  CommandReply drain(String worker) throws Exception {
    return ask(r -> DrainWorker.newBuilder().setWorker(worker).setReplyTo(r).build());
  }

  EmbeddedSession.SessionResult awaitResult(String sessionId, Duration timeout) throws Exception {
    SessionStatus s = EmbeddedSession.awaitEnd(coordinator.system(), endpoint, timeout);
    assertEquals("DONE", s.getState(), s.getMessage());
    assertEquals(sessionId, s.getSessionId());
    return result(coordinator.workDir(), s);
  }

  static EmbeddedSession.SessionResult result(Path workDir, SessionStatus s) throws Exception {
    return result(SessionAccumulators.local(workDir, s.getSessionId(), s.getGroupsList(),
        io.gaprune.worker.ShardCodec.statistics(s.getSession().getStatistics(), s.getSession().getInputStatistics())), s);
  }

  /** The result read from {@code store} (whose groups may lie on several nodes' disks), checked for exactly-once. */
  static EmbeddedSession.SessionResult result(SessionAccumulators store, SessionStatus s) throws Exception {
    // Exactly once: every merger group's accumulator records each unit of its partition once, and nothing else.
    assertEquals(s.getPartitionsCount(), store.groups().stream().map(g -> g.getPartition()).distinct().count());
    for (var g : store.groups()) {
      List<String> applied = new ArrayList<>(store.store(g).readMeta(g.getPartition()).getAppliedUnitsList());
      List<String> sorted = new ArrayList<>(applied);
      sorted.sort(null);
      assertEquals(sorted, applied, "fold order");
      assertEquals(applied.stream().distinct().count(), applied.size(), "a unit counted twice: " + applied);
      assertEquals(s.getUnitsTotal() / s.getPartitionsCount(), applied.size(),
          "units of group " + g.getIndex() + " of partition " + g.getPartition());
    }
    String masks = s.getPlan().getMasksPath();
    return new EmbeddedSession.SessionResult(s, store,
        masks.isEmpty() ? Map.of() : EmbeddedSession.readMasks(Path.of(masks)), s.getPlan(), store.dir(), Duration.ZERO);
  }

  /**
   * The result of a session run by a coordinator process, from its final HTTP status ({@code done}): the
   * partitions are rebuilt from the deterministic partitioning (synthetic runtime, {@code general} and
   * {@code domain} triplets) to read the accumulators, checked for exactly-once as {@link #result} does.
   */
  static EmbeddedSession.SessionResult result(Config cfg, SessionConfig session, int general, int domain,
      JsonObject done) throws Exception {
    session = Partitioner.resolve(session, Partitioner.accumulatorMemory(cfg));
    var plan = Partitioner.plan(session, new SyntheticRuntime(cfg).candidateTensors("mlp"), general, domain);
    JsonObject p = done.getAsJsonObject("plan");
    SessionStatus status = SessionStatus.newBuilder().setSessionId(session.getSessionId()).setState("DONE")
        .setUnitsTotal(done.get("units_total").getAsInt())
        .addAllPartitions(plan.partitions())
        .addAllGroups(TensorGroups.pack(plan.partitions(), cfg.getInt("gaprune.session.merger-groups")))
        .setSession(io.gaprune.protocol.SessionCounters.newBuilder().setStatistics(session.getStatistics()))
        .setPlan(MaskPlan.newBuilder().setMasksPath(p.get("masks_path").getAsString())
            .setMasksSha256(p.get("masks_sha256").getAsString())
            .setPrunedWeights(p.get("pruned_weights").getAsLong()))
        .build();
    return result(Path.of(cfg.getString("gaprune.work-dir")), status);
  }

  static void assertSameResult(EmbeddedSession.SessionResult a, EmbeddedSession.SessionResult b) {
    assertEquals(a.statistics().batches(), b.statistics().batches());
    assertEquals(a.statistics().generalSamples(), b.statistics().generalSamples());
    assertEquals(a.statistics().domainSamples(), b.statistics().domainSamples());
    assertEquals(a.statistics().generalLossSum(), b.statistics().generalLossSum());
    assertEquals(a.statistics().domainLossSum(), b.statistics().domainLossSum());
    assertEquals(a.statistics().tensors().keySet(), b.statistics().tensors().keySet());
    for (Map.Entry<String, TensorStats> e : a.statistics().tensors().entrySet()) {
      TensorStats x = e.getValue();
      TensorStats y = b.statistics().tensors().get(e.getKey());
      assertArrayEquals(x.sumSqGeneral(), y.sumSqGeneral(), e.getKey());
      assertArrayEquals(x.sumGeneral(), y.sumGeneral(), e.getKey());
      assertArrayEquals(x.sumSqDomain(), y.sumSqDomain(), e.getKey());
      assertArrayEquals(x.sumDomain(), y.sumDomain(), e.getKey());
      assertEquals(x.cosineSum(), y.cosineSum(), e.getKey());
      assertEquals(x.negativeCosines(), y.negativeCosines(), e.getKey());
    }
    assertEquals(a.masks().keySet(), b.masks().keySet());
    for (String t : a.masks().keySet()) {
      assertArrayEquals(a.masks().get(t), b.masks().get(t), "mask of " + t);
    }
    assertEquals(a.plan().getMasksSha256(), b.plan().getMasksSha256());
    assertEquals(a.plan().getPrunedWeights(), b.plan().getPrunedWeights());
  }

  static UnitStatistics noop(UnitStatistics s) {
    return s;
  }

  @Override
  public void close() {
    for (Process p : processes) {
      p.destroyForcibly();
    }
    if (coordinator != null) {
      coordinator.close();
    }
  }

  static String pids(List<Process> ps) {
    return Arrays.toString(ps.stream().mapToLong(Process::pid).toArray());
  }
}
