package io.gaprune.worker;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.gaprune.ops.ClusterTransport;
import io.gaprune.ops.Management;
import io.gaprune.transfer.ShardServer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Leave;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker process: the model runtime (loaded once) plus a cluster node running one {@link WorkerActor}.
 * When the node loses the cluster (the coordinator died and the split-brain resolver downed the workers,
 * or the join never succeeded) the process starts a fresh ActorSystem and joins the seed nodes again, so a
 * worker outlives coordinator restarts without an operator. A computed unit that was not acknowledged yet is
 * kept across these restarts and offered to the new coordinator.
 */
public final class WorkerNode {
  private static final Logger log = LoggerFactory.getLogger(WorkerNode.class);

  /** Exit code of a worker refused by the coordinator (wrong model, code or protocol version). */
  public static final int EXIT_REFUSED = 3;

  /**
   * How long a stopping worker waits for its compute thread to reach a batch boundary: below the 30 s an
   * orchestrator usually grants between SIGTERM and SIGKILL.
   */
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(25);

  private final Config config;
  private final String device;
  private final java.util.function.BiConsumer<ActorSystem<Void>, ModelRuntime> mergerHost;
  private volatile ActorSystem<Void> system;
  private volatile ActorRef<WorkerActor.Command> worker;
  private volatile boolean stopping;

  public WorkerNode(Config config, String device) {
    this(config, device, (system, model) -> {
      throw new IllegalStateException("gaprune.worker.merger = on needs the gaprune distribution (gaprune worker)");
    });
  }

  /**
   * @param mergerHost starts the merger groups' sharding on each incarnation of the node when {@code
   *     gaprune.worker.merger} is on (the merger lives in the coordinator module, which the worker's cannot see);
   *     it gets the node's model, whose weights the groups score when the session plans by histograms
   */
  public WorkerNode(Config config, String device,
      java.util.function.BiConsumer<ActorSystem<Void>, ModelRuntime> mergerHost) {
    this.config = config;
    this.device = device;
    this.mergerHost = mergerHost;
  }

  /**
   * Node configuration for a worker: the given one with the worker role added, and Pekko Management on the
   * worker port (several worker processes share a host; the coordinator's port is for the coordinator).
   */
  public static Config workerConfig(Config config) {
    List<String> roles = config.getBoolean("gaprune.worker.merger") ? List.of("worker", "merger") : List.of("worker");
    return ConfigFactory.empty()
        .withValue("pekko.cluster.roles", ConfigValueFactory.fromIterable(roles))
        .withValue("pekko.management.http.port",
            ConfigValueFactory.fromAnyRef(config.getInt("gaprune.management.worker-port")))
        .withFallback(config);
  }

  /** Runs until drained or refused; returns the process exit code. */
  public int run() {
    WorkerSettings settings = WorkerSettings.from(config, device);
    // An unsafe management binding or a plaintext cluster port beyond loopback is a configuration error:
    // refuse before loading the model.
    ClusterTransport.requireSafeTransport(config);
    Management.check(workerConfig(config), System.getenv());
    List<WorkerActor.Pending> held = new CopyOnWriteArrayList<>();
    ExecutorService computeThread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "gaprune-compute-" + device);
      t.setDaemon(true);
      return t;
    });
    // SIGTERM: the compute thread stops at its next batch boundary before the JVM exits, so that PyTorch's native
    // teardown, which runs after the shutdown hooks, never meets a forward or backward pass in flight.
    Thread stopCompute = new Thread(() -> {
      stopping = true;
      computeThread.shutdownNow();
      try {
        if (computeThread.awaitTermination(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          log.info("worker {}: compute stopped; exiting", device);
        } else {
          log.warn("worker {}: compute still running after {} s; exiting anyway", device, STOP_TIMEOUT.toSeconds());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "gaprune-stop-compute");
    Runtime.getRuntime().addShutdownHook(stopCompute);
    // the shard port lives as long as the process, across rejoins: a unit computed before a rejoin is offered
    // again from the same port
    try (ShardServer shardPort = settings.shardPort() ? openShardPort() : null;
        ModelRuntime runtime = ModelRuntime.create(config)) {
      while (!stopping) {
        CompletableFuture<WorkerActor.Outcome> outcome = new CompletableFuture<>();
        String name = config.getString("gaprune.cluster.system-name");
        system = ActorSystem.create(Behaviors.setup(ctx -> {
          worker = ctx.spawn(WorkerActor.create(settings, runtime, computeThread, outcome, held, shardPort),
              "worker-" + device.replaceAll("[^A-Za-z0-9_-]", "-"));
          return Behaviors.empty();
        }), name, workerConfig(config));
        system.getWhenTerminated().thenRun(() -> outcome.complete(null));
        if (config.getBoolean("gaprune.worker.merger")) {
          mergerHost.accept(system, runtime);
        }
        startManagement(system);
        WorkerActor.Outcome result = outcome.join();
        if (result instanceof WorkerActor.Outcome.Refused refused) {
          log.error("worker {} refused by the coordinator: {}", device, refused.reason());
          shutdown();
          return EXIT_REFUSED;
        }
        if (result instanceof WorkerActor.Outcome.Drained) {
          shutdown();
          return 0;
        }
        if (stopping) {
          break;
        }
        Duration retry = settings.retryInterval();
        log.warn("worker {} lost the cluster (coordinator unreachable or this node was downed); rejoining {} in {} s",
            device, settings.seedNodes(), retry.toSeconds());
        sleep(retry);
      }
      return 0;
    } finally {
      computeThread.shutdownNow();
      try {
        Runtime.getRuntime().removeShutdownHook(stopCompute);
      } catch (IllegalStateException exiting) {
        // the hook is running: it waits for the compute thread itself
      }
    }
  }

  private ShardServer openShardPort() {
    try {
      ShardServer port = ShardServer.start(config);
      log.info("worker {}: shard port {}", device, port.port());
      return port;
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e.getMessage(), e);
    }
  }

  /**
   * Health and membership endpoints of this incarnation of the node. A failure to bind (the port still held
   * by the previous incarnation, or taken) is logged, not fatal: the worker's job is computing units.
   */
  private static void startManagement(ActorSystem<Void> system) {
    try {
      Management.start(system, System.getenv(), Duration.ofSeconds(30));
    } catch (Exception e) {
      log.error("Pekko Management did not start on this worker: {}", e.getCause() != null ? e.getCause() : e);
    }
  }

  /** Drains the worker: it finishes its unit and the process ends (used on SIGTERM). */
  public void drain() {
    stopping = true;
    ActorRef<WorkerActor.Command> w = worker;
    if (w != null) {
      w.tell(WorkerActor.DrainLocal.INSTANCE);
    }
  }

  private void shutdown() {
    ActorSystem<Void> s = system;
    if (s == null) {
      return;
    }
    try {
      Cluster cluster = Cluster.get(s);
      cluster.manager().tell(Leave.create(cluster.selfMember().address()));
      s.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      s.terminate();
    }
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
