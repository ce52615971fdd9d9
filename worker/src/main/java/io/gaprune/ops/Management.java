package io.gaprune.ops;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pekko Management on a node: {@code /cluster/members} (read-only), {@code /health/alive} and
 * {@code /health/ready} (ready once this node is Up in the cluster). Bound to 127.0.0.1 unless
 * {@code gaprune.management.hostname} says otherwise, and then only with the operator token, which callers
 * present as the password of HTTP Basic authentication (Pekko Management supports no other scheme).
 * On loopback it stays open even when a token is set: its routes are read-only and local, and health
 * probes inside a container then need no secret.
 */
public final class Management {
  private static final Logger log = LoggerFactory.getLogger(Management.class);
  static final String HOST_KEY = "gaprune.management.hostname";

  private Management() {}

  /** Whether management is on for a node built from {@code config}; throws if its binding is unsafe. */
  public static boolean check(Config config, Map<String, String> env) {
    if (!config.getBoolean("gaprune.management.enabled")) {
      return false;
    }
    OperatorAccess.requireSafeBinding("Pekko Management", HOST_KEY, bindHost(config), OperatorAccess.token(config, env));
    return true;
  }

  /**
   * Starts the management endpoint of {@code system} (whose config carries {@code pekko.management.http.*},
   * derived from {@code gaprune.management.*}) and returns its base URI, or empty when management is off.
   * It stops with the ActorSystem, so a worker that re-creates its system can bind the same port again.
   */
  public static Optional<String> start(ActorSystem<?> system, Map<String, String> env, Duration timeout)
      throws Exception {
    Config config = system.settings().config();
    if (!check(config, env)) {
      return Optional.empty();
    }
    String token = OperatorAccess.token(config, env);
    boolean authenticate = !OperatorAccess.isLoopback(bindHost(config));
    PekkoManagement management = PekkoManagement.get(system);
    CompletionStage<Uri> started = !authenticate ? management.start()
        // verify() compares in constant time (Pekko HTTP's secure equality).
        : management.start(s -> s.withAuth(credentials -> CompletableFuture.completedFuture(
            credentials.filter(c -> c.verify(token)).map(c -> c.identifier()))));
    Uri uri = started.toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceUnbind(), "gaprune-management-stop",
        () -> management.stop().thenApply(d -> Done.getInstance()));
    String base = uri.toString();
    log.info("Pekko Management on {} (/cluster/members, /health/alive, /health/ready){}", base,
        authenticate ? "; Basic authentication, password = the operator token" : "");
    return Optional.of(base);
  }

  /** The address management binds: Pekko's explicit bind-hostname when an operator set one, else the hostname. */
  static String bindHost(Config config) {
    String bind = config.hasPath("pekko.management.http.bind-hostname")
        ? config.getString("pekko.management.http.bind-hostname") : "";
    return bind.isBlank() ? config.getString("pekko.management.http.hostname") : bind;
  }
}
