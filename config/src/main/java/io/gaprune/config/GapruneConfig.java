package io.gaprune.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads a node's configuration: overrides, then the operator's file, then system properties, then the
 * variants the file switches on (PostgreSQL persistence, TLS), then the cluster settings, then the
 * defaults in reference.conf. Resolved once at the end so the Pekko keys follow the gaprune keys.
 */
public final class GapruneConfig {
  private GapruneConfig() {}

  public static Config load(Path file, Config overrides) {
    Config user = ConfigFactory.empty();
    if (file != null) {
      if (!Files.isRegularFile(file)) {
        throw new IllegalArgumentException("configuration file not found: " + file.toAbsolutePath());
      }
      try {
        user = ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
      } catch (ConfigException e) {
        throw new IllegalArgumentException("cannot read configuration " + file + ": " + e.getMessage(), e);
      }
    }
    Config top = (overrides == null ? ConfigFactory.empty() : overrides)
        .withFallback(user)
        .withFallback(ConfigFactory.systemProperties());
    // Unresolved reference.conf files (all of them on the class path): defaultReference() is already resolved,
    // which would freeze ${gaprune.work-dir} and friends at their defaults.
    Config base = ConfigFactory.parseResources("gaprune-cluster.conf")
        .withFallback(ConfigFactory.parseResources("reference.conf"));
    // First pass: which variants are switched on, and where the work directory is.
    Config probe = top.withFallback(base).resolve();
    Config variants = ConfigFactory.empty();
    String backend = probe.getString("gaprune.persistence.backend");
    switch (backend) {
      case "h2" -> {}
      case "postgres" -> variants = variants.withFallback(ConfigFactory.parseResources("gaprune-postgres.conf"));
      default -> throw new IllegalArgumentException(
          "gaprune.persistence.backend must be \"h2\" or \"postgres\", not \"" + backend + "\"");
    }
    if (probe.getBoolean("gaprune.stream.large-message-lane")) {
      variants = variants.withFallback(ConfigFactory.parseResources("gaprune-large-lane.conf"));
    }
    if (probe.getBoolean("gaprune.tls.enabled")) {
      checkTls(probe);
      variants = ConfigFactory.parseResources("gaprune-tls.conf").withFallback(variants);
    }
    // H2 refuses paths implicitly relative to the working directory: make the work dir absolute.
    Path workDir = Path.of(probe.getString("gaprune.work-dir")).toAbsolutePath().normalize();
    Config abs = ConfigFactory.empty().withValue("gaprune.work-dir", ConfigValueFactory.fromAnyRef(workDir.toString()));
    return abs.withFallback(top).withFallback(variants).withFallback(base).resolve();
  }

  /**
   * With TLS on, every store and password must be there before the node starts: Pekko opens the stores
   * only at the first connection, so a node with a wrong path would come up, never join, and say so only
   * in a log line about a failed handshake. This names the key and the environment variable instead.
   */
  static void checkTls(Config c) {
    List<String> problems = new ArrayList<>();
    for (String store : List.of("key-store", "trust-store")) {
      String path = c.getString("gaprune.tls." + store);
      String env = store.equals("key-store") ? "GAPRUNE_TLS_KEYSTORE" : "GAPRUNE_TLS_TRUSTSTORE";
      if (path.isEmpty()) {
        problems.add("gaprune.tls." + store + " is not set (or set " + env + ")");
      } else if (!Files.isRegularFile(Path.of(path)) || !Files.isReadable(Path.of(path))) {
        problems.add("gaprune.tls." + store + " " + Path.of(path).toAbsolutePath() + " is not a readable file");
      }
      String pw = store + "-password";
      if (c.getString("gaprune.tls." + pw).isEmpty()) {
        problems.add("gaprune.tls." + pw + " is empty: set " + env + "_PASSWORD in the environment");
      }
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException("gaprune.tls.enabled = on, but " + String.join("; ", problems)
          + " (docs/security.md shows how to make the stores)");
    }
  }
}
