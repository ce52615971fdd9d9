package io.gaprune.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import io.gaprune.config.GapruneConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * docker/entrypoint.sh in dry-run mode (GAPRUNE_DRY_RUN=1: it writes the node's file and prints the command
 * line instead of running it): what each variable becomes in the configuration the node loads (read back
 * with {@link GapruneConfig#load}), the command line, and the refusals with their messages.
 */
class EntrypointTest {
  static Path dir;

  @BeforeAll
  static void setUp() throws Exception {
    dir = DeployFiles.testDir("entrypoint");
  }

  static Map<String, String> env(String... kv) {
    Map<String, String> env = new HashMap<>();
    env.put("GAPRUNE_HOME", DeployFiles.root().toString());
    env.put("GAPRUNE_DRY_RUN", "1");
    for (int i = 0; i < kv.length; i += 2) {
      env.put(kv[i], kv[i + 1]);
    }
    return env;
  }

  record Node(Config config, List<String> command, String log) {}

  static Node dryRun(String name, Map<String, String> env, String... args) throws Exception {
    return dryRun(name, env, null, args);
  }

  /** As above; {@code jvmEnvironment}: what the node's JVM would read from its environment (passwords). */
  static Node dryRun(String name, Map<String, String> env, Config jvmEnvironment, String... args) throws Exception {
    Path file = dir.resolve(name + ".conf");
    env.put("GAPRUNE_NODE_CONFIG", file.toString());
    var r = DeployFiles.run(DeployFiles.script("entrypoint.sh", env, args));
    assertEquals(0, r.exit(), r.stderr());
    return new Node(GapruneConfig.load(file, jvmEnvironment), r.lines(), r.stderr());
  }

  static String refused(Map<String, String> env) throws Exception {
    env.putIfAbsent("GAPRUNE_NODE_CONFIG", dir.resolve("refused.conf").toString());
    var r = DeployFiles.run(DeployFiles.script("entrypoint.sh", env));
    assertEquals(2, r.exit(), "expected a refusal; stderr: " + r.stderr());
    return r.stderr();
  }

  @Test
  void coordinatorDefaultsSeedItselfOnLoopbackH2() throws Exception {
    Node n = dryRun("coordinator", env("ROLE", "coordinator", "GAPRUNE_HOSTNAME", "10.1.2.3"));
    String launcher = DeployFiles.root().resolve("gaprune").toString();
    assertEquals(List.of(launcher, "coordinator", "--config", dir.resolve("coordinator.conf").toString()), n.command());
    Config c = n.config();
    assertEquals("10.1.2.3", c.getString("pekko.remote.artery.canonical.hostname"));
    assertEquals(25520, c.getInt("pekko.remote.artery.canonical.port"));
    assertEquals(List.of("pekko://gaprune@10.1.2.3:25520"), c.getStringList("pekko.cluster.seed-nodes"));
    assertEquals("127.0.0.1", c.getString("gaprune.http.hostname"));
    assertEquals(8558, c.getInt("gaprune.http.port"));
    assertEquals("h2", c.getString("gaprune.persistence.backend"));
    assertTrue(c.getString("pekko-persistence-jdbc.shared-databases.slick.db.url").startsWith("jdbc:h2:file:"));
  }

  @Test
  void coordinatorOnPostgresKeepsThePasswordOutOfTheFile() throws Exception {
    Node n = dryRun("postgres", env("ROLE", "coordinator", "GAPRUNE_HOSTNAME", "coordinator",
        "GAPRUNE_HTTP_BIND", "0.0.0.0", "GAPRUNE_HTTP_PORT", "9000", "GAPRUNE_HTTP_TOKEN", "t0ken",
        "JOURNAL", "postgres", "PGHOST", "db", "PGPORT", "5433", "PGDATABASE", "prune", "PGUSER", "op",
        "PGPASSWORD", "s3cret", "PGSSLMODE", "require", "GAPRUNE_WORK_DIR", "/var/lib/gaprune/work"));
    Config c = n.config();
    assertEquals("postgres", c.getString("gaprune.persistence.backend"));
    assertEquals("jdbc:postgresql://db:5433/prune?sslmode=require",
        c.getString("pekko-persistence-jdbc.shared-databases.slick.db.url"));
    assertEquals("op", c.getString("pekko-persistence-jdbc.shared-databases.slick.db.user"));
    assertEquals("0.0.0.0", c.getString("gaprune.http.hostname"));
    assertEquals(9000, c.getInt("gaprune.http.port"));
    assertEquals("/var/lib/gaprune/work", c.getString("gaprune.work-dir"));
    String file = Files.readString(dir.resolve("postgres.conf"));
    assertFalse(file.contains("s3cret") || file.contains("t0ken"), file);
    assertFalse(n.log().contains("s3cret") || n.log().contains("t0ken"), n.log());
  }

  @Test
  void workerTakesSeedsDeviceAndContainerHostname() throws Exception {
    Node n = dryRun("worker", env("ROLE", "worker", "HOSTNAME", "a1b2c3d4e5f6",
        "GAPRUNE_SEED_NODES", "coordinator:25520, pekko://gaprune@coordinator-b:25521,coordinator-c",
        "DEVICE", "gpu:1", "GAPRUNE_THREADS", "4", "GAPRUNE_MODEL", "bge-small",
        "GAPRUNE_MANAGEMENT_BIND", "127.0.0.1", "GAPRUNE_MANAGEMENT_PORT", "7626", "GAPRUNE_SHARD_PORT", "25600"),
        "--help");
    assertEquals(List.of("worker", "--config", dir.resolve("worker.conf").toString(), "--device", "gpu:1", "--help"),
        n.command().subList(1, n.command().size()));
    Config c = n.config();
    assertEquals("a1b2c3d4e5f6", c.getString("pekko.remote.artery.canonical.hostname"));
    assertEquals(0, c.getInt("pekko.remote.artery.canonical.port"));
    assertEquals(List.of("pekko://gaprune@coordinator:25520", "pekko://gaprune@coordinator-b:25521",
        "pekko://gaprune@coordinator-c:25520"), c.getStringList("pekko.cluster.seed-nodes"));
    assertEquals(4, c.getInt("gaprune.worker.threads"));
    assertEquals(25600, c.getInt("gaprune.stream.tcp-port"));
    assertEquals("bge-small", c.getString("gaprune.model"));
    assertEquals(7626, io.gaprune.worker.WorkerNode.workerConfig(c).getInt("pekko.management.http.port"));
    assertEquals("127.0.0.1", c.getString("pekko.management.http.hostname"));
    // gpu:N becomes the process's only visible GPU (the model runtime uses the default device)
    assertTrue(n.log().contains("CUDA_VISIBLE_DEVICES=1"), n.log());
    Node cpu = dryRun("worker-cpu", env("ROLE", "worker", "HOSTNAME", "w", "GAPRUNE_SEED_NODES", "c:1"));
    assertTrue(cpu.log().contains("CUDA_VISIBLE_DEVICES=\n"), cpu.log());
    assertTrue(cpu.command().containsAll(List.of("--device", "cpu")), cpu.command().toString());
    Node pinned = dryRun("worker-pinned", env("ROLE", "worker", "HOSTNAME", "w", "GAPRUNE_SEED_NODES", "c:1",
        "DEVICE", "gpu:0", "CUDA_VISIBLE_DEVICES", "3"));
    assertTrue(pinned.log().contains("CUDA_VISIBLE_DEVICES=3"), pinned.log());
  }

  @Test
  void variablesWinOverTheOperatorsFileAndOddValuesSurviveQuoting() throws Exception {
    Path user = Files.writeString(dir.resolve("operator.conf"), """
        gaprune.model = "bge-small"
        gaprune.cluster.hostname = "from-file"
        gaprune.coordinator.lease-timeout = 90s
        """);
    String odd = dir.resolve("work \"quoted\" \\ dir").toString();
    Node n = dryRun("layered", env("ROLE", "coordinator", "GAPRUNE_CONFIG", user.toString(),
        "GAPRUNE_HOSTNAME", "from-env", "GAPRUNE_WORK_DIR", odd, "GAPRUNE_SYSTEM_NAME", "prune2"));
    Config c = n.config();
    assertEquals("from-env", c.getString("gaprune.cluster.hostname"));
    assertEquals("bge-small", c.getString("gaprune.model"));
    assertEquals(90, c.getDuration("gaprune.coordinator.lease-timeout").toSeconds());
    assertEquals(odd, c.getString("gaprune.work-dir"));
    assertEquals("prune2", c.getString("gaprune.cluster.system-name"));
    assertEquals(List.of("pekko://prune2@from-env:25520"), c.getStringList("pekko.cluster.seed-nodes"));
  }

  @Test
  void aCommandAsArgumentsRunsThatCommand() throws Exception {
    var r = DeployFiles.run(DeployFiles.script("entrypoint.sh", env(), "session", "status"));
    assertEquals(0, r.exit(), r.stderr());
    assertEquals(List.of(DeployFiles.root().resolve("gaprune").toString(), "session", "status"), r.lines());
  }

  @Test
  void refusesWhatWouldStartAWrongNode() throws Exception {
    String[][] cases = {
        {"ROLE is not set"},
        {"ROLE must be coordinator or worker", "ROLE", "planner"},
        {"GAPRUNE_SEED_NODES is required", "ROLE", "worker"},
        {"DEVICE must be cpu or gpu:N", "ROLE", "worker", "GAPRUNE_SEED_NODES", "c:1", "DEVICE", "tpu"},
        {"DEVICE must be a number", "ROLE", "worker", "GAPRUNE_SEED_NODES", "c:1", "DEVICE", "gpu:x"},
        {"JOURNAL must be h2 or postgres", "ROLE", "coordinator", "JOURNAL", "mysql"},
        {"JOURNAL=postgres needs PGPASSWORD", "ROLE", "coordinator", "JOURNAL", "postgres"},
        {"set GAPRUNE_HTTP_TOKEN", "ROLE", "coordinator", "GAPRUNE_HTTP_BIND", "0.0.0.0"},
        {"needs a fixed GAPRUNE_PORT", "ROLE", "coordinator", "GAPRUNE_PORT", "0"},
        {"GAPRUNE_PORT must be a number", "ROLE", "coordinator", "GAPRUNE_PORT", "25x"},
        {"GAPRUNE_CONFIG names no file", "ROLE", "coordinator", "GAPRUNE_CONFIG", "/nonexistent.conf"},
        {"GAPRUNE_TLS must be on or off", "ROLE", "coordinator", "GAPRUNE_TLS", "yes"},
        {"GAPRUNE_TLS=on needs GAPRUNE_TLS_KEYSTORE", "ROLE", "coordinator", "GAPRUNE_TLS", "on"},
        {"GAPRUNE_TLS=on needs GAPRUNE_TLS_TRUSTSTORE", "ROLE", "coordinator", "GAPRUNE_TLS", "on",
            "GAPRUNE_TLS_KEYSTORE", "/k.p12"},
        {"GAPRUNE_TLS=on needs GAPRUNE_TLS_KEYSTORE_PASSWORD", "ROLE", "worker", "GAPRUNE_SEED_NODES", "c:1",
            "GAPRUNE_TLS", "on", "GAPRUNE_TLS_KEYSTORE", "/k.p12", "GAPRUNE_TLS_TRUSTSTORE", "/t.p12"},
        {"GAPRUNE_ALLOW_PLAINTEXT must be on or off", "ROLE", "coordinator", "GAPRUNE_ALLOW_PLAINTEXT", "yes"},
        {"no launcher at", "ROLE", "coordinator", "GAPRUNE_HOME", dir.toString()},
    };
    for (String[] c : cases) {
      Map<String, String> e = env(java.util.Arrays.copyOfRange(c, 1, c.length));
      e.put("HOSTNAME", "node-1");
      String message = refused(e);
      assertTrue(message.contains(c[0]), "expected \"" + c[0] + "\" for " + e + "; got: " + message);
    }
  }

  @Test
  void tlsIsASwitchAndANodeBeyondLoopbackWithoutItIsRefused() throws Exception {
    DeployFiles.Pki pki = DeployFiles.pki(dir.resolve("pki"), "node-1");
    Node tls = dryRun("tls", env("ROLE", "coordinator", "GAPRUNE_HOSTNAME", "10.1.2.3", "GAPRUNE_TLS", "on",
        "GAPRUNE_TLS_KEYSTORE", pki.store("node-1").toString(), "GAPRUNE_TLS_TRUSTSTORE", pki.store("truststore").toString(),
        "GAPRUNE_TLS_KEYSTORE_PASSWORD", pki.password(), "GAPRUNE_TLS_TRUSTSTORE_PASSWORD", pki.password(),
        "GAPRUNE_DATA_ROOTS", "/data, /srv/calibration", "GAPRUNE_HTTP_ALLOWED_HOSTS", "gaprune.example.org,ops"),
        pki.passwords());
    Config c = tls.config();
    assertEquals("tls-tcp", c.getString("pekko.remote.artery.transport"));
    assertEquals(pki.store("node-1").toString(), c.getString("pekko.remote.artery.ssl.config-ssl-engine.key-store"));
    assertEquals(pki.store("truststore").toString(), c.getString("pekko.remote.artery.ssl.config-ssl-engine.trust-store"));
    io.gaprune.ops.ClusterTransport.requireSafeTransport(c);
    assertEquals(List.of("/data", "/srv/calibration"), c.getStringList("gaprune.data-roots"));
    assertEquals(List.of("10.1.2.3", "gaprune.example.org", "ops"), c.getStringList("gaprune.http.allowed-hosts"));
    String file = Files.readString(dir.resolve("tls.conf"));
    assertFalse(file.contains(pki.password()) || tls.log().contains(pki.password()), file);

    // The same node in plain TCP: the entrypoint writes it, the node refuses it before anything starts.
    Node plain = dryRun("plain", env("ROLE", "coordinator", "GAPRUNE_HOSTNAME", "10.1.2.3"));
    var e = assertThrows(IllegalArgumentException.class,
        () -> io.gaprune.ops.ClusterTransport.requireSafeTransport(plain.config()));
    assertTrue(e.getMessage().contains("GAPRUNE_TLS=on") && e.getMessage().contains("GAPRUNE_ALLOW_PLAINTEXT=on"),
        e.getMessage());
    assertFalse(dryRun("off", env("ROLE", "worker", "HOSTNAME", "w", "GAPRUNE_SEED_NODES", "c:1", "GAPRUNE_TLS", "off"))
        .config().getBoolean("gaprune.tls.enabled"));
    // The explicit opt-out for a trusted private network.
    Node trusted = dryRun("trusted", env("ROLE", "worker", "HOSTNAME", "w", "GAPRUNE_SEED_NODES", "c:1",
        "GAPRUNE_ALLOW_PLAINTEXT", "on"));
    assertTrue(trusted.config().getBoolean("gaprune.cluster.allow-plaintext"));
    io.gaprune.ops.ClusterTransport.requireSafeTransport(trusted.config());
  }
}

