package io.gaprune.session;

import com.google.protobuf.GeneratedMessage;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import io.gaprune.protocol.CommandReply;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.SessionStatusRequest;
import io.gaprune.protocol.StartSession;
import io.gaprune.stats.MergedStatistics;
import io.gaprune.stats.UnitStatistics;
import io.gaprune.worker.ModelRuntime;
import io.gaprune.transfer.ShardServer;
import io.gaprune.worker.WorkerActor;
import io.gaprune.worker.WorkerSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded mode as a Java API: a one-node cluster in this JVM (coordinator singleton plus one local
 * worker), more workers as child processes of this one ({@code workers - 1} of them), the session run to its
 * end, and its merged statistics and masks returned. The same code as a multi-node deployment, on loopback.
 */
public final class EmbeddedSession {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedSession.class);

  private EmbeddedSession() {}

  /**
   * What a finished session produced: its accumulators ({@link #merged()} reads them tensor by tensor,
   * {@link #statistics()} all at once) and masks of one byte per weight, 1 kept, 0 pruned (none for a
   * {@code statistics_only} session).
   */
  public record SessionResult(SessionStatus status, SessionAccumulators store, Map<String, byte[]> masks,
      MaskPlan plan, Path sessionDir, Duration sessionTime) {

    public MergedStatistics merged() {
      return store.merged();
    }

    /**
     * The candidates' new weights of a plan whose scoring updates them ({@code weights.safetensors}, float32,
     * pruned weights 0), by tensor; empty for any other plan.
     */
    public Map<String, float[]> weights() throws IOException {
      if (plan == null || plan.getWeightsPath().isEmpty()) {
        return Map.of();
      }
      var out = new java.util.LinkedHashMap<String, float[]>();
      try (var file = io.gaprune.model.safetensors.SafetensorsFile.open(Path.of(plan.getWeightsPath()))) {
        for (var t : file.tensors()) {
          var values = new float[Math.toIntExact(t.elementCount())];
          file.readFloats(t.name(), 0, values, 0, values.length);
          out.put(t.name(), values);
        }
      }
      return out;
    }

    /** Every merged statistic in memory. */
    public UnitStatistics statistics() {
      try {
        return store.readAll();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException("cannot read the accumulators in " + store.dir(), e);
      }
    }
  }

  /** Runs a session with the defaults of {@code config} ({@code gaprune.*}) and {@code workers} workers. */
  public static SessionResult run(SessionConfig session, Config config, int workers, Duration timeout) throws Exception {
    return run(session, config, workers, timeout, status -> {});
  }

  /**
   * As {@link #run(SessionConfig, Config, int, Duration)}, with every status the coordinator reports while the
   * session runs (about four a second) handed to {@code onStatus}, for progress displays.
   */
  public static SessionResult run(SessionConfig session, Config config, int workers, Duration timeout,
      Consumer<SessionStatus> onStatus) throws Exception {
    return run(session, config, workers, timeout, onStatus, null);
  }

  /**
   * As above, where the in-process worker and the coordinator use {@code loaded} (the caller's model, one copy
   * of the weights per JVM; the caller keeps and closes it) instead of loading the configured runtime.
   */
  public static SessionResult run(SessionConfig session, Config config, int workers, Duration timeout,
      Consumer<SessionStatus> onStatus, ModelRuntime loaded) throws Exception {
    if (workers < 1) {
      throw new IllegalArgumentException("workers must be at least 1, got " + workers);
    }
    if (!config.hasPath("pekko.actor.provider") || !config.getString("pekko.actor.provider").equals("cluster")) {
      // A plain application config (ConfigFactory.load()): rebuild the node's Pekko settings from gaprune.*.
      config = io.gaprune.config.GapruneConfig.load(null, config.withOnlyPath("gaprune"));
    }
    Config node = ConfigFactory.empty()
        .withValue("gaprune.cluster.seed-nodes", ConfigValueFactory.fromIterable(List.of()))
        .withValue("gaprune.cluster.port", ConfigValueFactory.fromAnyRef(0))
        .withFallback(config);
    Config resolvedNode = com.typesafe.config.ConfigFactory.empty()
        .withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(List.of()))
        .withValue("pekko.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(0))
        .withFallback(node);
    List<Process> children = new ArrayList<>();
    ExecutorService computeThread = Executors.newSingleThreadExecutor();
    ModelRuntime model = loaded != null ? loaded : ModelRuntime.create(config);
    WorkerSettings localWorker = WorkerSettings.from(config, "cpu");
    try (CoordinatorNode coordinator = CoordinatorNode.start(resolvedNode, model, List.of("coordinator", "worker"),
        new AccumulatorPlanner());
        // the same path as a remote worker's: the merger groups pull the local worker's shards over loopback
        ShardServer shardPort = localWorker.shardPort() ? ShardServer.start(resolvedNode) : null) {
      ActorSystem<Void> system = coordinator.system();
      // The local worker shares the JVM (and the model) with the coordinator.
      system.systemActorOf(WorkerActor.create(localWorker, model, computeThread,
          new CompletableFuture<>(), new CopyOnWriteArrayList<>(), shardPort), "local-worker", Props.empty());
      if (workers > 1) {
        Path childConf = Files.createTempFile("gaprune-worker", ".conf");
        Config forChildren = ConfigFactory.empty()
            .withValue("gaprune.cluster.seed-nodes", ConfigValueFactory.fromIterable(List.of(coordinator.address())))
            .withValue("gaprune.cluster.port", ConfigValueFactory.fromAnyRef(0))
            .withValue("gaprune.http.enabled", ConfigValueFactory.fromAnyRef(false))
            // Child workers of one job: nobody operates them from outside.
            .withValue("gaprune.management.enabled", ConfigValueFactory.fromAnyRef(false))
            .withFallback(io.gaprune.config.GapruneConfig.settings(config));
        Files.writeString(childConf, forChildren.root().render(ConfigRenderOptions.concise().setJson(false)));
        Path logs = Files.createDirectories(coordinator.workDir().resolve("logs"));
        // the local worker's thread count for every child, so that a unit gives the same bits wherever it runs
        int threads = Math.max(1, model.intraOpThreads());
        for (int i = 1; i < workers; i++) {
          children.add(startWorkerProcess(childConf, "cpu", logs.resolve("worker-" + i + ".log"),
              ProcessHandle.current().pid(), threads));
        }
      }
      ActorRef<GeneratedMessage> endpoint = CoordinatorNode.findCoordinator(system, Duration.ofSeconds(60));
      // Asked for N workers: give the child processes time to load the model and register (a worker that
      // comes later still joins the running session; one that never comes does not block it).
      long waitUntil = System.nanoTime() + Duration.ofSeconds(180).toNanos();
      while (System.nanoTime() < waitUntil
          && ask(system, endpoint, r -> SessionStatusRequest.newBuilder().setReplyTo(r).build()).getStatus()
              .getWorkersCount() < workers) {
        if (children.stream().anyMatch(p -> !p.isAlive())) {
          log.warn("a worker process ended before registering; see {}", coordinator.workDir().resolve("logs"));
          break;
        }
        Thread.sleep(250);
      }
      CommandReply started = ask(system, endpoint, r -> StartSession.newBuilder().setConfig(session).setReplyTo(r).build());
      if (!started.getOk()) {
        throw new IllegalArgumentException(started.getMessage());
      }
      String id = started.getStatus().getSessionId();
      long t0 = System.nanoTime();
      SessionStatus status = awaitEnd(system, endpoint, timeout, onStatus);
      Duration sessionTime = Duration.ofNanos(System.nanoTime() - t0);
      log.info("session {}: {} units in {} ms with {} worker(s)", id, status.getUnitsTotal(), sessionTime.toMillis(), workers);
      if (!status.getState().equals("DONE")) {
        throw new IllegalStateException("session " + id + " ended " + status.getState() + ": " + status.getMessage());
      }
      Path dir = coordinator.workDir().resolve("sessions").resolve(id);
      // the embedded node owns every merger group (the only node of role merger): all local
      SessionAccumulators store = SessionAccumulators.local(coordinator.workDir(), id, status.getGroupsList(),
          io.gaprune.worker.ShardCodec.statistics(status.getSession().getStatistics(),
              status.getSession().getInputStatistics()));
      var masksPath = status.getPlan().getMasksPath();
      return new SessionResult(status, store,
          masksPath.isEmpty() ? Map.of() : readMasks(Path.of(masksPath)), status.getPlan(), dir, sessionTime);
    } finally {
      for (Process p : children) {
        p.destroy();
      }
      for (Process p : children) {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
      computeThread.shutdownNow();
      if (loaded == null) {
        model.close();
      }
    }
  }

  /** The plan's masks by tensor: one byte per weight, 1 kept, 0 pruned (the planner's safetensors U8). */
  public static Map<String, byte[]> readMasks(Path file) throws IOException {
    return io.gaprune.pipeline.Masks.read(file);
  }

  /** Starts {@code gaprune worker} as a child JVM with this JVM's class path; it ends when this JVM ends. */
  public static Process startWorkerProcess(Path config, String device, Path logFile) throws IOException {
    return startWorkerProcess(config, device, logFile, ProcessHandle.current().pid());
  }

  /** As above, ending when process {@code parentPid} ends. */
  public static Process startWorkerProcess(Path config, String device, Path logFile, long parentPid)
      throws IOException {
    return startWorkerProcess(config, device, logFile, parentPid, 1);
  }

  /** As above, its model runtime computing with {@code threads} intra-op threads. */
  static Process startWorkerProcess(Path config, String device, Path logFile, long parentPid, int threads)
      throws IOException {
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        // the lead's heap: accumulator-memory = auto sizes every worker's unit sums from it
        "-Xmx" + Math.max(2L << 30, Runtime.getRuntime().maxMemory()), "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Dai.djl.offline=true", "-Dai.djl.default_engine=PyTorch", "-Dai.djl.pytorch.num_threads=" + threads,
        "-cp", System.getProperty("java.class.path"),
        // a JVM crash leaves its report beside the worker's log, not in the caller's working directory
        "-XX:ErrorFile=" + (logFile != null ? logFile.resolveSibling("hs_err_pid%p.log") : Path.of("hs_err_pid%p.log")),
        "io.gaprune.cli.Main", "worker", "--config", config.toString(), "--device", device,
        // the child ends with this JVM, however it ends
        "--parent-pid", Long.toString(parentPid)));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
    // the launcher's rule (see the gaprune script): few malloc arenas, or PyTorch's buffers bloat the process
    pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2");
    pb.environment().putIfAbsent("MALLOC_MMAP_THRESHOLD_", "131072");
    pb.environment().put("DJL_OFFLINE", "true");
    pb.redirectErrorStream(true);
    if (logFile != null) {
      pb.redirectOutput(logFile.toFile());
    } else {
      pb.redirectOutput(ProcessBuilder.Redirect.INHERIT);
    }
    log.info("starting worker process: {}", String.join(" ", cmd.subList(cmd.size() - 8, cmd.size())));
    return pb.start();
  }

  public static CommandReply ask(ActorSystem<?> system, ActorRef<GeneratedMessage> endpoint,
      java.util.function.Function<String, GeneratedMessage> request) throws Exception {
    ActorRefResolver resolver = ActorRefResolver.get(system);
    return (CommandReply) AskPattern.<GeneratedMessage, GeneratedMessage>ask(endpoint,
            r -> request.apply(resolver.toSerializationFormat(r)), Duration.ofSeconds(30), system.scheduler())
        .toCompletableFuture().get(31, TimeUnit.SECONDS);
  }

  public static SessionStatus awaitEnd(ActorSystem<?> system, ActorRef<GeneratedMessage> endpoint, Duration timeout)
      throws Exception {
    return awaitEnd(system, endpoint, timeout, status -> {});
  }

  public static SessionStatus awaitEnd(ActorSystem<?> system, ActorRef<GeneratedMessage> endpoint, Duration timeout,
      Consumer<SessionStatus> onStatus) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    SessionStatus last = null;
    while (System.nanoTime() < deadline) {
      last = ask(system, endpoint, r -> SessionStatusRequest.newBuilder().setReplyTo(r).build()).getStatus();
      onStatus.accept(last);
      switch (last.getState()) {
        case "DONE", "FAILED", "CANCELLED" -> {
          return last;
        }
        default -> Thread.sleep(250);
      }
    }
    throw new IllegalStateException("session did not end within " + timeout.toSeconds() + " s; last status " + last);
  }
}
