package io.gaprune.session;

import com.google.protobuf.GeneratedMessage;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.gaprune.api.HttpFront;
import io.gaprune.api.HttpSettings;
import io.gaprune.ops.ClusterTransport;
import io.gaprune.ops.Management;
import io.gaprune.protocol.Versions;
import io.gaprune.worker.ClusterKeys;
import io.gaprune.worker.ModelRuntime;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.cluster.typed.SingletonActor;
import org.apache.pekko.persistence.jdbc.testkit.javadsl.SchemaUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A coordinator node: an ActorSystem with the {@code coordinator} role, the journal's tables, the session
 * coordinator singleton, the operator HTTP API and Pekko Management. With no seed nodes configured the node
 * joins itself (the embedded mode's one-node cluster).
 */
public final class CoordinatorNode implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CoordinatorNode.class);

  private final ActorSystem<Void> system;
  private final ModelRuntime model;
  private final HttpFront http;
  private final String management;
  private final Path workDir;

  private CoordinatorNode(ActorSystem<Void> system, ModelRuntime model, HttpFront http, String management,
      Path workDir) {
    this.system = system;
    this.model = model;
    this.http = http;
    this.management = management;
    this.workDir = workDir;
  }

  /**
   * The node's configuration with its roles: those asked, plus {@value MergerEntity#ROLE} when {@code
   * gaprune.coordinator.merger} is on (the default: the coordinator's node owns merger groups).
   */
  public static Config nodeConfig(Config config, List<String> roles) {
    List<String> all = new java.util.ArrayList<>(roles);
    if (config.getBoolean("gaprune.coordinator.merger") && !all.contains(MergerEntity.ROLE)) {
      all.add(MergerEntity.ROLE);
    }
    return ConfigFactory.empty()
        .withValue("pekko.cluster.roles", ConfigValueFactory.fromIterable(all))
        .withFallback(config);
  }

  public static CoordinatorNode start(Config config, ModelRuntime model, List<String> roles, MaskPlanner planner) {
    Path workDir = Path.of(config.getString("gaprune.work-dir"));
    // Refuse an unsafe operator binding before anything starts (no half-up node holding ports).
    checkOperatorAccess(config, roles);
    boolean httpOn = config.getBoolean("gaprune.http.enabled");
    HttpSettings httpSettings = httpOn ? HttpSettings.from(config, System.getenv()) : null;
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), config.getString("gaprune.cluster.system-name"),
        nodeConfig(config, roles));
    try {
      Cluster cluster = Cluster.get(system);
      if (config.getStringList("gaprune.cluster.seed-nodes").isEmpty()) {
        cluster.manager().tell(Join.create(cluster.selfMember().address()));
      }
      // The journal's tables, before the singleton's first write (no-op when they exist).
      SchemaUtils.createIfNotExists(system).toCompletableFuture().get(60, TimeUnit.SECONDS);
      SessionCoordinator.Settings settings = new SessionCoordinator.Settings(
          config.getDuration("gaprune.coordinator.lease-timeout"),
          config.getDuration("gaprune.coordinator.lease-check-interval"),
          config.getDuration("gaprune.coordinator.retry-after"),
          Versions.code(config.getString("gaprune.code-version")),
          workDir, model, planner, Partitioner.accumulatorMemory(config),
          config.getDuration("gaprune.coordinator.start-timeout"),
          config.getInt("gaprune.session.merger-groups"));
      // The merger groups' sharding before the singleton, which sends to them from its recovery on.
      MergerEntity.init(system, model);
      ClusterSingleton.get(system).init(
          SingletonActor.of(SessionCoordinator.create(settings), "session-coordinator"));
      String management = Management.start(system, System.getenv(), Duration.ofSeconds(30)).orElse(null);
      HttpFront http = httpOn ? HttpFront.start(system, httpSettings, config) : null;
      log.info("coordinator node {} up (work dir {}, journal {})", cluster.selfMember().address(), workDir,
          config.getString("gaprune.persistence.backend"));
      return new CoordinatorNode(system, model, http, management, workDir);
    } catch (Exception e) {
      system.terminate();
      throw new IllegalStateException("cannot start the coordinator: " + e.getMessage(), e);
    }
  }

  /**
   * Throws, naming the keys to change, when the operator API or Pekko Management would listen beyond
   * loopback without a token, or the cluster port beyond loopback without TLS. Cheap: callers run it before
   * loading a model.
   */
  public static void checkOperatorAccess(Config config, List<String> roles) {
    ClusterTransport.requireSafeTransport(config);
    if (config.getBoolean("gaprune.http.enabled")) {
      HttpSettings.from(config, System.getenv()).check();
    }
    Management.check(nodeConfig(config, roles), System.getenv());
  }

  public ActorSystem<Void> system() {
    return system;
  }

  public Path workDir() {
    return workDir;
  }

  public String address() {
    return Cluster.get(system).selfMember().address().toString();
  }

  public int httpPort() {
    return http == null ? -1 : http.port();
  }

  /** Base URI of Pekko Management on this node ({@code http://127.0.0.1:7626}), or null when it is off. */
  public String managementUri() {
    return management;
  }

  /** The coordinator's endpoint, found through the Receptionist (waits until the singleton has registered). */
  public static ActorRef<GeneratedMessage> findCoordinator(ActorSystem<?> system, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      CompletionStage<Receptionist.Listing> f = AskPattern.ask(system.receptionist(),
          r -> Receptionist.find(ClusterKeys.COORDINATOR, r), Duration.ofSeconds(5), system.scheduler());
      var refs = f.toCompletableFuture().get(6, TimeUnit.SECONDS).getServiceInstances(ClusterKeys.COORDINATOR);
      if (!refs.isEmpty()) {
        return refs.iterator().next();
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("no session coordinator registered within " + timeout.toSeconds() + " s");
      }
      Thread.sleep(200);
    }
  }

  @Override
  public void close() {
    if (http != null) {
      http.close();
    }
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("coordinator system did not terminate cleanly: {}", e.toString());
    }
  }

  public ModelRuntime model() {
    return model;
  }
}
