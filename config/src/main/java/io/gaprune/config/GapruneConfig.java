package io.gaprune.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Loads a node's configuration: overrides, then the operator's file, then system properties, then the
 * variants the file switches on (PostgreSQL persistence, TLS), then the cluster settings, then the
 * defaults in reference.conf. Resolved once at the end so the Pekko keys follow the gaprune keys. A
 * {@code gaprune.*} key that reference.conf does not know is refused with the closest one it does.
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
    Config given = (overrides == null ? ConfigFactory.empty() : overrides).withFallback(user);
    Config top = given.withFallback(ConfigFactory.systemProperties());
    // Unresolved reference.conf files (all of them on the class path): defaultReference() is already resolved,
    // which would freeze ${gaprune.work-dir} and friends at their defaults.
    Config base = ConfigFactory.parseResources("gaprune-cluster.conf")
        .withFallback(ConfigFactory.parseResources("reference.conf"));
    refuseUnknownKeys(given, ConfigFactory.systemProperties(), base);
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
   * Names a JVM sets as system properties that are no settings: the build's, for its tests and benchmarks
   * (pom.xml, surefire's systemPropertyVariables) and the benchmarks' options under {@link #BENCH_KEYS}
   * (-Dgaprune.bench.args, -Dgaprune.bench.workers, ...). Ignored when they come from there.
   */
  static final Set<String> PROCESS_PROPERTIES = Set.of("gaprune.root", "gaprune.shared.data");
  /** The benchmark harnesses' own options (system properties of the test JVM), never settings of a node. */
  static final String BENCH_KEYS = "gaprune.bench";
  /** Settings of the test runtimes (io.gaprune.worker.testing), which reference.conf does not list. */
  static final String TEST_KEYS = "gaprune.test.";

  /**
   * Refuses a {@code gaprune.*} key that reference.conf does not have, naming the closest one: a typo such as
   * {@code gaprune.tls.enable = on} would otherwise leave TLS off without a word. Checks the overrides and the
   * operator's file, and the system properties except {@link #PROCESS_PROPERTIES}; {@code gaprune.test.*} is the
   * tests' own.
   */
  static void refuseUnknownKeys(Config given, Config systemProperties, Config base) {
    Set<String> known = new TreeSet<>();
    Config reference = base.resolve(ConfigResolveOptions.defaults().setAllowUnresolved(true));
    if (reference.hasPath("gaprune")) {
      collect(reference.getObject("gaprune"), "gaprune", known);
    }
    List<String> problems = new ArrayList<>();
    Map<String, String> keys = new TreeMap<>();
    if (given.hasPath("gaprune")) {
      Map<String, String> own = new TreeMap<>();
      collectOrigins(given.getObject("gaprune"), "gaprune", own);
      keys.putAll(own);
    }
    if (systemProperties.hasPath("gaprune")) {
      Map<String, String> props = new TreeMap<>();
      collectOrigins(systemProperties.getObject("gaprune"), "gaprune", props);
      props.keySet().removeIf(k -> PROCESS_PROPERTIES.contains(k) || k.startsWith(BENCH_KEYS + "."));
      props.replaceAll((k, v) -> "system property -D" + k);
      props.forEach(keys::putIfAbsent);
    }
    for (var e : keys.entrySet()) {
      String key = e.getKey();
      if (known.contains(key) || key.startsWith(TEST_KEYS)) {
        continue;
      }
      problems.add(key + " (" + e.getValue() + ")" + closest(key, known).map(c -> ": did you mean " + c + "?").orElse(""));
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException("unknown setting" + (problems.size() > 1 ? "s " : " ")
          + String.join("; ", problems) + ". Every gaprune.* key is listed, with its default, in reference.conf"
          + " (config/src/main/resources/reference.conf)");
    }
  }

  /**
   * The {@code gaprune.*} settings of a loaded {@code config}, without the JVM properties that are no settings
   * ({@link #PROCESS_PROPERTIES}, which a loaded config carries from the system properties): what a file for
   * a child node (embedded workers, benchmark senders) may hold.
   */
  public static Config settings(Config config) {
    Config c = config.withOnlyPath("gaprune");
    for (String p : PROCESS_PROPERTIES) {
      c = c.withoutPath(p);
    }
    return c.withoutPath(BENCH_KEYS);
  }

  /** The paths of every leaf (a value that is not an object) under {@code o}. */
  private static void collect(ConfigObject o, String prefix, Set<String> out) {
    for (var e : o.entrySet()) {
      String path = prefix + "." + ConfigUtil.joinPath(e.getKey());
      if (e.getValue() instanceof ConfigObject child && !child.isEmpty()) {
        collect(child, path, out);
      } else {
        out.add(path);
      }
    }
  }

  /** The leaves under {@code o} with where each was set; an empty object sets nothing and is skipped. */
  private static void collectOrigins(ConfigObject o, String prefix, Map<String, String> out) {
    for (var e : o.entrySet()) {
      String path = prefix + "." + ConfigUtil.joinPath(e.getKey());
      if (e.getValue() instanceof ConfigObject child) {
        collectOrigins(child, path, out);
      } else {
        var origin = e.getValue().origin();
        out.put(path, origin == null ? "?" : origin.description());
      }
    }
  }

  /** The known key nearest to {@code key} by edit distance, when one is near enough to be a plausible typo. */
  static Optional<String> closest(String key, Set<String> known) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String k : known) {
      int d = distance(key, k);
      if (d < bestDistance) {
        best = k;
        bestDistance = d;
      }
    }
    // Near: within a third of the key's own part after "gaprune.", or the same last segment elsewhere.
    String last = key.substring(key.lastIndexOf('.') + 1);
    if (best != null && bestDistance > Math.max(2, (key.length() - "gaprune.".length()) / 3)) {
      Optional<String> sameName = known.stream().filter(k -> k.endsWith("." + last)).findFirst();
      return sameName.isPresent() ? sameName : Optional.of(best);
    }
    return Optional.ofNullable(best);
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
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
