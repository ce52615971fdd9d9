package io.gaprune.ops;

import com.typesafe.config.Config;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Who may reach a node's cluster port: a node whose Artery address is not a loopback address refuses to start
 * with plain TCP, because anyone who reaches that port could join the cluster, register as a worker and send
 * statistics (no password is asked on Artery: TLS with mutual authentication is the door, docs/security.md).
 * An operator who runs the cluster on a private network where every host that can reach the port is trusted
 * says so explicitly with {@code gaprune.cluster.allow-plaintext = on}.
 */
public final class ClusterTransport {
  public static final String ALLOW_KEY = "gaprune.cluster.allow-plaintext";

  private ClusterTransport() {}

  /** Whether Artery runs over TLS in a node built from {@code config}. */
  public static boolean tls(Config config) {
    return config.hasPath("pekko.remote.artery.transport")
        && config.getString("pekko.remote.artery.transport").equals("tls-tcp");
  }

  /**
   * Throws, naming the setting that turns TLS on and the explicit opt-out, when a node built from {@code config}
   * would listen for cluster traffic beyond loopback over plain TCP. Cheap: nodes run it before loading a model.
   */
  public static void requireSafeTransport(Config config) {
    if (tls(config) || (config.hasPath(ALLOW_KEY) && config.getBoolean(ALLOW_KEY))) {
      return;
    }
    Map<String, String> addresses = new LinkedHashMap<>();
    addresses.put("gaprune.cluster.hostname", config.getString("pekko.remote.artery.canonical.hostname"));
    String bind = config.hasPath("pekko.remote.artery.bind.hostname")
        ? config.getString("pekko.remote.artery.bind.hostname") : "";
    if (!bind.isBlank()) {
      addresses.put("pekko.remote.artery.bind.hostname", bind);
    }
    for (var a : addresses.entrySet()) {
      if (!OperatorAccess.isLoopback(a.getValue())) {
        throw new IllegalArgumentException("the cluster address " + a.getValue() + " (" + a.getKey() + ") is not a"
            + " loopback address and TLS is off: whoever reaches its port could join the cluster, register as a"
            + " worker and send statistics. Turn TLS on (gaprune.tls.enabled = on with key and trust stores, see"
            + " docs/security.md; in a container GAPRUNE_TLS=on), or, only on a private network where every host that"
            + " can reach the port is trusted, set " + ALLOW_KEY + " = on (GAPRUNE_ALLOW_PLAINTEXT=on)");
      }
    }
  }
}
