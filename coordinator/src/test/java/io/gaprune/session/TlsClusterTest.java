package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Artery over TLS with mutual authentication, as configured by gaprune.tls (gaprune-tls.conf): a CA made at
 * test time signs a coordinator's and a worker's certificate; the two processes (real CLI, passwords only in
 * their environment) form a cluster and finish a session. A third process whose certificate comes from
 * another CA, but which trusts the cluster's CA, is refused: the coordinator demands and rejects its
 * certificate, so it never joins, never registers and keeps saying it cannot reach the coordinator. The
 * coordinator's operator API serves HTTPS with the same key store (gaprune.http.tls): the test's client and
 * the CLI (a process of its own, the CA in its --trust-store, the generated token found through --work-dir)
 * verify its certificate; a plain HTTP request to that port gets no answer.
 */
@Tag("slow")
class TlsClusterTest {

  @Test
  void nodesWithCaSignedCertificatesFormAClusterAndAStrangerIsRefused() throws Exception {
    Path dir = ClusterTestSupport.testDir("tls-cluster");
    TestPki pki = new TestPki(dir.resolve("pki"));
    TestPki.Ca ca = pki.ca("gaprune-test-ca");
    TestPki.Store trust = pki.trustStore(ca, "truststore");
    // Hostname verification is on below: the certificates name the address the nodes advertise.
    TestPki.Store coordinatorKeys = pki.node(ca, "coordinator", "ip:127.0.0.1,dns:localhost");
    TestPki.Store workerKeys = pki.node(ca, "worker", "ip:127.0.0.1,dns:localhost");
    // The stranger: a certificate the cluster's CA never signed (same names, another CA). It trusts the
    // cluster's CA, so only the cluster's check of *its* certificate (mutual authentication) can stop it.
    TestPki.Store strangerKeys = pki.node(pki.ca("stranger-ca"), "stranger", "ip:127.0.0.1,dns:localhost");

    int port = ClusterTestSupport.freePort();
    int httpPort = ClusterTestSupport.freePort();
    String seed = "pekko://gaprune@127.0.0.1:" + port;
    Path general = ClusterTestSupport.triplets(dir, "general.json", 24);
    Path domain = ClusterTestSupport.triplets(dir, "domain.json", 24);
    Path coordConf = ClusterTestSupport.write(dir, "coordinator.conf", ClusterTestSupport.settings(
        dir.resolve("coordinator-work"), port, seed, tls(coordinatorKeys, trust) + "\ngaprune.http.port = " + httpPort
            + "\ngaprune.http.tls.enabled = on"));
    Path workerConf = ClusterTestSupport.write(dir, "worker.conf", ClusterTestSupport.settings(
        dir.resolve("worker-work"), 0, seed, tls(workerKeys, trust)));
    Path strangerConf = ClusterTestSupport.write(dir, "stranger.conf", ClusterTestSupport.settings(
        dir.resolve("stranger-work"), 0, seed, tls(strangerKeys, trust)));
    // No password is in any file: each process gets its own from the environment, as in production.
    for (Path f : List.of(coordConf, workerConf, strangerConf)) {
      String text = Files.readString(f);
      for (TestPki.Store s : List.of(trust, coordinatorKeys, workerKeys, strangerKeys)) {
        assertFalse(text.contains(s.password()), f + " holds a password");
      }
    }

    List<Process> procs = new ArrayList<>();
    HttpClient http = HttpClient.newBuilder().sslContext(trusting(trust)).build();
    String url = "https://127.0.0.1:" + httpPort;
    try {
      Process coordinator = ClusterTestSupport.startNode(dir.resolve("coordinator.log"), env(coordinatorKeys, trust),
          "coordinator", "--config", coordConf.toString());
      procs.add(coordinator);
      TestCluster.waitForLog(dir.resolve("coordinator.log"), " ready; API on port", Duration.ofSeconds(90));
      String token = OperatorCalls.token(dir.resolve("coordinator-work"), Duration.ofSeconds(10));
      // HTTPS only: a plain-HTTP request to the API's port gets no HTTP answer.
      assertThrows(java.io.IOException.class, () -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + httpPort + "/health")).timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.ofString()));
      Process worker = ClusterTestSupport.startNode(dir.resolve("worker.log"), env(workerKeys, trust),
          "worker", "--config", workerConf.toString(), "--device", "cpu");
      procs.add(worker);
      Process stranger = ClusterTestSupport.startNode(dir.resolve("stranger.log"), env(strangerKeys, trust),
          "worker", "--config", strangerConf.toString(), "--device", "cpu");
      procs.add(stranger);

      // The trusted worker joins over TLS and registers; a session runs to the end across the two processes.
      CoordinatorCrashTest.awaitJson(http, url + "/api/v1/workers", token, s -> s.getAsJsonArray("workers").size() == 1, Duration.ofSeconds(90));
      var start = OperatorCalls.post(http, url + "/api/v1/sessions",
          ClusterTestSupport.sessionJson(general, domain, "tls", 48 * 16 * 32 * 2), token);
      assertEquals(201, start.statusCode(), start.body());
      JsonObject done = CoordinatorCrashTest.awaitJson(http, url + "/api/v1/sessions/tls", token, s -> s.get("state").getAsString().equals("DONE"),
          Duration.ofSeconds(120));
      assertEquals(12, done.get("units_total").getAsInt(), done.toString());
      assertEquals(12, done.get("units_done").getAsInt(), done.toString());
      assertTrue(done.getAsJsonObject("plan").get("pruned_weights").getAsLong() > 0, done.toString());

      String coordLog = Files.readString(dir.resolve("coordinator.log"));
      assertTrue(coordLog.contains("tls-tcp"), "Artery did not start on TLS:\n" + TestCluster.tail(coordLog));
      String workerLog = Files.readString(dir.resolve("worker.log"));
      assertTrue(workerLog.contains("registered with the coordinator"), TestCluster.tail(workerLog));
      // its shards went over its shard port, which runs TLS with the cluster's stores (ShardTransferTest attacks it)
      assertTrue(workerLog.contains("shard port"), TestCluster.tail(workerLog));

      // The stranger has been knocking since before the session started: it never got in.
      TestCluster.waitForLog(dir.resolve("stranger.log"), "coordinator unreachable (seed nodes [" + seed + "])",
          Duration.ofSeconds(30));
      // What stopped it: the coordinator's side of the handshake rejected its certificate.
      TestCluster.waitForLog(dir.resolve("stranger.log"), "SSLHandshakeException: Received fatal alert: bad_certificate",
          Duration.ofSeconds(30));
      String strangerLog = Files.readString(dir.resolve("stranger.log"));
      assertTrue(stranger.isAlive(), "the refused node should keep retrying:\n" + TestCluster.tail(strangerLog));
      assertTrue(strangerLog.lines().filter(l -> l.contains("coordinator unreachable")).count() >= 2,
          TestCluster.tail(strangerLog));
      assertFalse(strangerLog.contains("registered with the coordinator"), TestCluster.tail(strangerLog));
      assertFalse(strangerLog.contains("coordinator found"), TestCluster.tail(strangerLog));
      JsonObject status = CoordinatorCrashTest.awaitJson(http, url + "/api/v1/workers", token, s -> true, Duration.ofSeconds(10));
      assertEquals(1, status.getAsJsonArray("workers").size(), status.toString());

      // The CLI over HTTPS: the CA from --trust-store (password from the environment), the token from --work-dir.
      Path cliLog = dir.resolve("cli.log");
      Process cli = ClusterTestSupport.startNode(cliLog, Map.of("GAPRUNE_TLS_TRUSTSTORE_PASSWORD", trust.password()),
          "session", "workers", "--coordinator", url, "--trust-store", trust.path().toString(),
          "--work-dir", dir.resolve("coordinator-work").toString());
      assertTrue(cli.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the CLI did not end");
      String out = Files.readString(cliLog);
      assertEquals(0, cli.exitValue(), out);
      assertTrue(out.contains("\"workers\"") && out.contains("\"device\": \"cpu\""), out);
    } finally {
      procs.forEach(Process::destroyForcibly);
    }
  }

  /** The gaprune.tls settings of a node: paths in the file, passwords left to the environment. */
  static String tls(TestPki.Store keys, TestPki.Store trust) {
    return """
        gaprune.tls {
          enabled = on
          key-store = "%s"
          trust-store = "%s"
          hostname-verification = on
        }
        """.formatted(keys.path(), trust.path());
  }

  /** A client's TLS context that trusts the test CA (what the trust store holds). */
  static javax.net.ssl.SSLContext trusting(TestPki.Store trust) throws Exception {
    var ks = java.security.KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(trust.path())) {
      ks.load(in, trust.password().toCharArray());
    }
    var tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    var ctx = javax.net.ssl.SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  static Map<String, String> env(TestPki.Store keys, TestPki.Store trust) {
    return Map.of("GAPRUNE_TLS_KEYSTORE_PASSWORD", keys.password(), "GAPRUNE_TLS_TRUSTSTORE_PASSWORD", trust.password());
  }
}
