package io.gaprune.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The variants GapruneConfig layers on: what Pekko ends up reading for TLS and for PostgreSQL. */
class GapruneConfigTest {
  @TempDir Path tmp;

  private Config load(String text) throws Exception {
    Path f = Files.writeString(tmp.resolve("node.conf"), "gaprune.work-dir = \"" + tmp + "\"\n" + text);
    return GapruneConfig.load(f, ConfigFactory.empty());
  }

  @Test
  void defaultsArePlainTcpOnH2WithoutJavaSerialization() throws Exception {
    Config c = load("");
    assertEquals("tcp", c.getString("pekko.remote.artery.transport"));
    assertEquals("slick.jdbc.H2Profile$", c.getString("pekko-persistence-jdbc.shared-databases.slick.profile"));
    assertEquals("off", c.getString("pekko.actor.allow-java-serialization"));
  }

  /** Shard streams: the stream-ref buffer follows gaprune.stream, the large-message lane only when asked. */
  @Test
  void streamRefBufferAndLargeMessageLaneFollowTheGapruneKeys() throws Exception {
    Config c = load("");
    assertEquals(128, c.getInt("pekko.stream.materializer.stream-ref.buffer-capacity"));
    // off: nothing of ours (Pekko's own reference.conf, where present, says [])
    String destinations = "pekko.remote.artery.large-message-destinations";
    assertTrue(!c.hasPath(destinations) || c.getStringList(destinations).isEmpty());
    Config lane = load("gaprune.stream { buffer-capacity = 64, large-message-lane = on }\n"
        + "gaprune.cluster.maximum-frame-size = 200KiB\n");
    assertEquals(64, lane.getInt("pekko.stream.materializer.stream-ref.buffer-capacity"));
    assertEquals(List.of("/system/Materializers/*/*"), lane.getStringList("pekko.remote.artery.large-message-destinations"));
    // the lane's frame is the ordinary one: a chunk's limit (half a frame) is the same on both lanes
    assertEquals(200 * 1024, lane.getBytes("pekko.remote.artery.advanced.maximum-large-frame-size"));
    assertEquals(200 * 1024, lane.getBytes("pekko.remote.artery.advanced.maximum-frame-size"));
  }

  @Test
  void tlsSwitchesArteryToMutuallyAuthenticatedTls() throws Exception {
    Path ks = Files.writeString(tmp.resolve("node.p12"), "x");
    Path ts = Files.writeString(tmp.resolve("trust.p12"), "x");
    // Passwords as the environment would give them (GAPRUNE_TLS_*_PASSWORD); here as overrides.
    Config c = GapruneConfig.load(Files.writeString(tmp.resolve("tls.conf"), """
        gaprune.work-dir = "%s"
        gaprune.tls { enabled = on, key-store = "%s", trust-store = "%s" }
        """.formatted(tmp, ks, ts)), ConfigFactory.parseString(
        "gaprune.tls { key-store-password = k-secret, trust-store-password = t-secret }"));
    assertEquals("tls-tcp", c.getString("pekko.remote.artery.transport"));
    assertEquals("org.apache.pekko.remote.artery.tcp.ConfigSSLEngineProvider",
        c.getString("pekko.remote.artery.ssl.ssl-engine-provider"));
    Config ssl = c.getConfig("pekko.remote.artery.ssl.config-ssl-engine");
    assertEquals(ks.toString(), ssl.getString("key-store"));
    assertEquals(ts.toString(), ssl.getString("trust-store"));
    assertEquals("k-secret", ssl.getString("key-store-password"));
    assertEquals("k-secret", ssl.getString("key-password"), "a PKCS12 key shares its store's password");
    assertEquals("t-secret", ssl.getString("trust-store-password"));
    assertEquals("TLSv1.3", ssl.getString("protocol"));
    assertEquals(List.of("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"), ssl.getStringList("enabled-algorithms"));
    assertTrue(ssl.getBoolean("require-mutual-authentication"));
    assertFalse(ssl.getBoolean("hostname-verification"));
    // TLS changes the transport only: the wire still carries protobuf alone, frames stay capped.
    assertEquals("off", c.getString("pekko.actor.allow-java-serialization"));
    assertEquals(256 * 1024, c.getBytes("pekko.remote.artery.advanced.maximum-frame-size"));
  }

  @Test
  void tlsWithoutStoresOrPasswordsIsRefusedWithTheKeysToSet() throws Exception {
    var e = assertThrows(IllegalArgumentException.class, () -> load("gaprune.tls.enabled = on"));
    assertTrue(e.getMessage().contains("gaprune.tls.key-store is not set (or set GAPRUNE_TLS_KEYSTORE)"), e.getMessage());
    assertTrue(e.getMessage().contains("gaprune.tls.trust-store-password is empty: set GAPRUNE_TLS_TRUSTSTORE_PASSWORD"),
        e.getMessage());
    var missing = assertThrows(IllegalArgumentException.class, () -> load(
        "gaprune.tls { enabled = on, key-store = \"" + tmp.resolve("absent.p12") + "\" }"));
    assertTrue(missing.getMessage().contains("absent.p12 is not a readable file"), missing.getMessage());
  }

  @Test
  void postgresBackendPointsTheSharedPoolAtPostgres() throws Exception {
    Config c = load("""
        gaprune.persistence { backend = postgres, postgres { url = "jdbc:postgresql://127.0.0.1:5433/g", user = u, password = p } }
        """);
    Config db = c.getConfig("pekko-persistence-jdbc.shared-databases.slick");
    assertEquals("slick.jdbc.PostgresProfile$", db.getString("profile"));
    assertEquals("jdbc:postgresql://127.0.0.1:5433/g", db.getString("db.url"));
    assertEquals("u", db.getString("db.user"));
    assertEquals("p", db.getString("db.password"));
    assertEquals("org.postgresql.Driver", db.getString("db.driver"));
    assertEquals("slick", c.getString("jdbc-journal.use-shared-db"));
  }

  @Test
  void anUnknownGapruneKeyIsRefusedWithTheClosestKnownOne() throws Exception {
    // The issue's own example: TLS would have stayed off without a word.
    var e = assertThrows(IllegalArgumentException.class, () -> load("gaprune.tls.enable = on"));
    assertTrue(e.getMessage().contains("unknown setting gaprune.tls.enable")
        && e.getMessage().contains("did you mean gaprune.tls.enabled?")
        && e.getMessage().contains("node.conf"), e.getMessage());
    for (String[] c : new String[][] {
        {"gaprune.http.tokn = \"x\"", "gaprune.http.token"},
        {"gaprune.sesion.sparsity = 0.7", "gaprune.session.sparsity"},
        {"gaprune.cluster.allow-plain-text = on", "gaprune.cluster.allow-plaintext"},
        {"gaprune.workdir = \"/x\"", "gaprune.work-dir"},
        {"gaprune.http { port = 1, max_body = 1KiB }", "gaprune.http.max-body"},
        {"gaprune.enabled = on", null}}) {
      var x = assertThrows(IllegalArgumentException.class, () -> load(c[0]), c[0]);
      assertTrue(c[1] == null || x.getMessage().contains("did you mean " + c[1] + "?"), c[0] + " → " + x.getMessage());
    }
    // Two at once: both named.
    var two = assertThrows(IllegalArgumentException.class, () -> load("gaprune.modle = x\ngaprune.http.tokn = y"));
    assertTrue(two.getMessage().contains("gaprune.modle") && two.getMessage().contains("gaprune.http.tokn"), two.getMessage());
    // Legal: every key of reference.conf, the tests' gaprune.test.*, Pekko's own keys, the build's JVM properties.
    load("gaprune.test.anything = 1\ngaprune.test.tensors = [\"a:1x1\"]\npekko.loglevel = DEBUG\n"
        + "gaprune.cluster.allow-plaintext = on\ngaprune.data-roots = [\"/srv\"]\ngaprune.home = \"/opt/g\"\n"
        + "gaprune.http.tls.enabled = off\ngaprune.persistence.postgres.user = u");
    GapruneConfig.refuseUnknownKeys(ConfigFactory.empty(), ConfigFactory.parseString(
        "gaprune.root = x\ngaprune.shared.data = y\ngaprune.bench.args = z\ngaprune.bench.workers = \"1,2\"\n"
        + "gaprune.bench.merger-workers = off"), ConfigFactory.parseResources("reference.conf"));
    var prop = assertThrows(IllegalArgumentException.class, () -> GapruneConfig.refuseUnknownKeys(ConfigFactory.empty(),
        ConfigFactory.parseString("gaprune.tls.enable = on"), ConfigFactory.parseResources("reference.conf")));
    assertTrue(prop.getMessage().contains("system property -Dgaprune.tls.enable"), prop.getMessage());
  }
}

