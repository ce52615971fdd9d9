package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.gaprune.protocol.SessionConfig;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The coordinator process killed (kill -9) mid-session and started again: the session resumes from the
 * H2 journal and the accumulator files, the workers rejoin on their own, and the result is the same bits as
 * an undisturbed run. No unit is lost or counted twice (the accumulators' applied-unit records are checked).
 * Everything goes through the real CLI: {@code gaprune coordinator}, {@code gaprune worker}, the operator API.
 */
@Tag("slow")
public class CoordinatorCrashTest {
  static final String EXTRA = TestCluster.TENSORS + "\ngaprune.test.batch-millis = 300";

  @Test
  void sessionSurvivesACoordinatorKill() throws Exception {
    Path dir = ClusterTestSupport.testDir("coordinator-crash");
    int port = ClusterTestSupport.freePort();
    int httpPort = ClusterTestSupport.freePort();
    String seed = "pekko://gaprune@127.0.0.1:" + port;
    Path general = ClusterTestSupport.triplets(dir, "general.json", 43);
    Path domain = ClusterTestSupport.triplets(dir, "domain.json", 41);
    Path coordConf = ClusterTestSupport.write(dir, "coordinator.conf", ClusterTestSupport.settings(
        dir.resolve("coordinator-work"), port, seed, EXTRA + "\ngaprune.http.port = " + httpPort));
    Path workerConf = ClusterTestSupport.write(dir, "worker.conf", ClusterTestSupport.settings(
        dir.resolve("worker-work"), 0, seed, EXTRA));
    List<Process> procs = new ArrayList<>();
    HttpClient http = HttpClient.newHttpClient();
    String url = "http://127.0.0.1:" + httpPort;
    try {
      Process coordinator = startCoordinator(coordConf, dir.resolve("coordinator-1.log"));
      procs.add(coordinator);
      TestCluster.waitForLog(dir.resolve("coordinator-1.log"), " ready; API on port", Duration.ofSeconds(60));
      // None configured: the coordinator generated its token at this first start (the restart reads it back).
      String token = OperatorCalls.token(dir.resolve("coordinator-work"), Duration.ofSeconds(10));
      procs.add(EmbeddedSession.startWorkerProcess(workerConf, "cpu", dir.resolve("w1.log")));
      procs.add(EmbeddedSession.startWorkerProcess(workerConf, "cpu", dir.resolve("w2.log")));
      awaitJson(http, url + "/api/v1/workers", token, s -> s.getAsJsonArray("workers").size() == 2, Duration.ofSeconds(60));

      SessionConfig session = ClusterTestSupport.session(general, domain, "crash").toBuilder()
          .setPartitionBudgetBytes(11_800_000).build(); // 2 partitions of the Fisher-only sums, as in
      String body = ClusterTestSupport.sessionJson(general, domain, "crash", 11_800_000); // SessionEquivalenceTest
      var start = OperatorCalls.post(http, url + "/api/v1/sessions", body, token);
      assertEquals(201, start.statusCode(), start.body());

      String sessionUrl = url + "/api/v1/sessions/crash";
      awaitJson(http, sessionUrl, token, s -> s.get("units_done").getAsInt() >= 6, Duration.ofSeconds(90));
      coordinator.destroyForcibly();
      assertTrue(coordinator.waitFor(10, TimeUnit.SECONDS));
      // The workers notice, lose the cluster, and keep trying to rejoin while the coordinator is down.
      TestCluster.waitForLog(dir.resolve("w1.log"), "rejoining", Duration.ofSeconds(60));

      Process restarted = startCoordinator(coordConf, dir.resolve("coordinator-2.log"));
      procs.add(restarted);
      TestCluster.waitForLog(dir.resolve("coordinator-2.log"), "session coordinator up: RUNNING", Duration.ofSeconds(60));
      JsonObject done = awaitJson(http, sessionUrl, token, s -> s.get("state").getAsString().equals("DONE"), Duration.ofSeconds(180));
      String log2 = Files.readString(dir.resolve("coordinator-2.log"));
      assertTrue(log2.contains("session coordinator up: RUNNING (session crash, 20 units"), TestCluster.tail(log2));

      var cfg = ClusterTestSupport.load(coordConf);
      var result = TestCluster.result(cfg, session, 43, 41, done);

      // The same session undisturbed, in one JVM with one worker.
      Path refConf = ClusterTestSupport.write(dir, "reference.conf", ClusterTestSupport.settings(
          dir.resolve("reference-work"), 0, null, TestCluster.TENSORS + "\ngaprune.http.enabled = off"));
      var reference = EmbeddedSession.run(session, ClusterTestSupport.load(refConf), 1, Duration.ofSeconds(120));
      TestCluster.assertSameResult(reference, result);
    } finally {
      procs.forEach(Process::destroyForcibly);
    }
  }

  static Process startCoordinator(Path conf, Path log) throws Exception {
    return ClusterTestSupport.startNode(log, Map.of(), "coordinator", "--config", conf.toString());
  }

  /** Polls {@code GET url} (with the bearer token) until the JSON answer satisfies p. */
  public static JsonObject awaitJson(HttpClient http, String url, String token,
      java.util.function.Predicate<JsonObject> p, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      try {
        var r = http.send(OperatorCalls.request(url, token).timeout(Duration.ofSeconds(10)).build(),
            HttpResponse.BodyHandlers.ofString());
        last = r.body();
        if (r.statusCode() == 200) {
          JsonObject s = JsonParser.parseString(r.body()).getAsJsonObject();
          if (p.test(s)) {
            return s;
          }
        }
      } catch (java.io.IOException e) {
        last = e.toString();
      }
      Thread.sleep(300);
    }
    throw new AssertionError(url + ": condition not met within " + timeout.toSeconds() + " s; last: " + last);
  }
}
