package io.gaprune.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import io.gaprune.session.CoordinatorCrashTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * docker/entrypoint.sh run for real, outside a container, the way the images run it: a coordinator
 * (ROLE=coordinator, H2 journal) and a worker (ROLE=worker, seeded with the coordinator's address) on
 * loopback, each through the real launcher of a distribution laid out like coordinator/target (made of this
 * test's class path; GAPRUNE_HOME points at it instead of /app), talking Artery over TLS with the stores
 * docker/make-pki.sh makes (GAPRUNE_TLS=on, as in the compose file). The worker joins and registers (the
 * coordinator's HTTP front lists it), is drained and exits 0; the coordinator stops on SIGTERM, which
 * reaches the JVM itself because the entrypoint and the launcher exec.
 */
@Tag("slow")
class EntrypointClusterTest {

  @Test
  void aWorkerStartedByTheEntrypointJoinsACoordinatorStartedByIt() throws Exception {
    Path dir = DeployFiles.testDir("entrypoint-cluster");
    Path home = DeployFiles.distribution(dir.resolve("home"));
    int port = freePort();
    int httpPort = freePort();
    Path settings = Files.writeString(dir.resolve("operator.conf"), """
        # what an operator's GAPRUNE_CONFIG would hold; here: the synthetic model runtime, fast failure detection
        gaprune.worker.unit-computer = "io.gaprune.worker.testing.SyntheticRuntime"
        gaprune.cluster.stable-after = 2s
        gaprune.worker.retry-interval = 1s
        pekko.cluster.failure-detector.acceptable-heartbeat-pause = 2s
        pekko.cluster.failure-detector.heartbeat-interval = 500ms
        """);
    // TLS between the two, as the compose file runs them: stores made by docker/make-pki.sh, GAPRUNE_TLS=on.
    DeployFiles.Pki pki = DeployFiles.pki(dir.resolve("pki"), "coordinator", "worker");
    Map<String, String> common = Map.of(
        "GAPRUNE_HOME", home.toString(),
        "GAPRUNE_CONFIG", settings.toString(),
        "GAPRUNE_HOSTNAME", "127.0.0.1",
        "GAPRUNE_JAVA_OPTS", "-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        "DJL_OFFLINE", "true",
        "GAPRUNE_TLS", "on",
        "GAPRUNE_TLS_TRUSTSTORE", pki.store("truststore").toString(),
        "GAPRUNE_TLS_KEYSTORE_PASSWORD", pki.password(),
        "GAPRUNE_TLS_TRUSTSTORE_PASSWORD", pki.password());
    List<Process> procs = new ArrayList<>();
    HttpClient http = HttpClient.newHttpClient();
    String url = "http://127.0.0.1:" + httpPort;
    try {
      Map<String, String> c = new HashMap<>(common);
      c.put("GAPRUNE_TLS_KEYSTORE", pki.store("coordinator").toString());
      c.putAll(Map.of("ROLE", "coordinator", "GAPRUNE_PORT", Integer.toString(port),
          "GAPRUNE_HTTP_PORT", Integer.toString(httpPort), "JOURNAL", "h2",
          "GAPRUNE_WORK_DIR", dir.resolve("coordinator-work").toString(),
          "GAPRUNE_NODE_CONFIG", dir.resolve("coordinator.conf").toString()));
      Path coordinatorLog = dir.resolve("coordinator.log");
      Process coordinator = start(c, coordinatorLog);
      procs.add(coordinator);
      waitForLog(coordinator, coordinatorLog, "ready; API on port", Duration.ofSeconds(90));
      // No token configured: the coordinator generated one in its work dir (readable by its user only).
      String token = io.gaprune.session.OperatorCalls.token(dir.resolve("coordinator-work"), Duration.ofSeconds(10));
      // exec all the way down: the process the entrypoint started is the JVM, so signals reach it
      assertTrue(coordinator.info().command().orElse("").endsWith("java"), coordinator.info().toString());

      Map<String, String> w = new HashMap<>(common);
      w.put("GAPRUNE_TLS_KEYSTORE", pki.store("worker").toString());
      w.putAll(Map.of("ROLE", "worker", "GAPRUNE_SEED_NODES", "127.0.0.1:" + port, "DEVICE", "cpu",
          "GAPRUNE_WORK_DIR", dir.resolve("worker-work").toString(),
          "GAPRUNE_NODE_CONFIG", dir.resolve("worker.conf").toString()));
      Path workerLog = dir.resolve("worker.log");
      Process worker = start(w, workerLog);
      procs.add(worker);
      JsonObject status = CoordinatorCrashTest.awaitJson(http, url + "/api/v1/workers", token, s -> s.getAsJsonArray("workers").size() == 1, Duration.ofSeconds(120));
      JsonArray workers = status.getAsJsonArray("workers");
      JsonObject registered = workers.get(0).getAsJsonObject();
      assertEquals("cpu", registered.get("device").getAsString());
      assertEquals(worker.pid(), registered.get("pid").getAsLong(), "the registered worker is the JVM the entrypoint became");
      assertTrue(Files.readString(coordinatorLog).contains("worker registered: cpu"), tail(coordinatorLog));
      assertTrue(Files.readString(coordinatorLog).contains("tls-tcp"), "Artery is not on TLS: " + tail(coordinatorLog));
      Path environ = Path.of("/proc", Long.toString(worker.pid()), "environ");
      if (Files.isReadable(environ)) {
        assertTrue(Files.readString(environ).contains("\0CUDA_VISIBLE_DEVICES=\0"), "DEVICE=cpu hides every GPU");
      }

      // drain through the coordinator's front: the worker leaves the cluster and its process exits 0
      var drain = io.gaprune.session.OperatorCalls.post(http, url + registered.get("drain").getAsString(), null, token);
      assertEquals(202, drain.statusCode(), drain.body());
      assertTrue(worker.waitFor(60, TimeUnit.SECONDS), "drained worker still running; " + tail(workerLog));
      assertEquals(0, worker.exitValue(), tail(workerLog));
      CoordinatorCrashTest.awaitJson(http, url + "/api/v1/workers", token, s -> s.getAsJsonArray("workers").isEmpty(), Duration.ofSeconds(60));

      // SIGTERM (docker stop): Pekko's coordinated shutdown, then the JVM ends
      coordinator.destroy();
      assertTrue(coordinator.waitFor(60, TimeUnit.SECONDS), "coordinator ignored SIGTERM; " + tail(coordinatorLog));
      assertTrue(List.of(0, 143).contains(coordinator.exitValue()), "exit " + coordinator.exitValue());
      assertTrue(Files.exists(dir.resolve("coordinator-work").resolve("journal.mv.db")),
          "the H2 journal is in GAPRUNE_WORK_DIR");
      assertTrue(Files.readString(coordinatorLog).contains("gaprune-entrypoint: exec " + home.resolve("gaprune")));
    } finally {
      procs.forEach(Process::destroyForcibly);
    }
  }

  static Process start(Map<String, String> env, Path log) throws Exception {
    return DeployFiles.script("entrypoint.sh", env).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  static int freePort() throws Exception {
    try (var s = new java.net.ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static void waitForLog(Process p, Path log, String text, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.exists(log) && Files.readString(log).contains(text)) {
        return;
      }
      if (!p.isAlive()) {
        throw new AssertionError("process ended (exit " + p.exitValue() + ") before \"" + text + "\"; " + tail(log));
      }
      Thread.sleep(200);
    }
    throw new AssertionError("\"" + text + "\" not logged within " + timeout.toSeconds() + " s; " + tail(log));
  }

  static String tail(Path log) {
    try {
      String s = Files.readString(log);
      return "log " + log + ":\n" + s.substring(Math.max(0, s.length() - 4000));
    } catch (Exception e) {
      return "no log " + log;
    }
  }
}
