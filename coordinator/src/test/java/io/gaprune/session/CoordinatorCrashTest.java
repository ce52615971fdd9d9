package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.worker.testing.SyntheticRuntime;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The coordinator process killed (kill -9) mid-session and started again: the session resumes from the
 * H2 journal and the accumulator files, the workers rejoin on their own, and the result is the same bits as
 * an undisturbed run. No unit is lost or counted twice (the accumulators' applied-unit records are checked).
 * Everything goes through the real CLI: {@code gaprune coordinator}, {@code gaprune worker}, the HTTP front.
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
      TestCluster.waitForLog(dir.resolve("coordinator-1.log"), "ready", Duration.ofSeconds(60));
      procs.add(EmbeddedSession.startWorkerProcess(workerConf, "cpu", dir.resolve("w1.log")));
      procs.add(EmbeddedSession.startWorkerProcess(workerConf, "cpu", dir.resolve("w2.log")));
      awaitJson(http, url, s -> s.getAsJsonArray("workers").size() == 2, Duration.ofSeconds(60));

      SessionConfig session = ClusterTestSupport.session(general, domain, "crash").toBuilder()
          .setPartitionBudgetBytes(18_900_000).build();
      String body = "{\"session_id\":\"crash\",\"general_path\":\"" + general + "\",\"domain_path\":\"" + domain
          + "\",\"seed\":42,\"batch_size\":4,\"batches_per_unit\":1,\"partition_budget_bytes\":18900000,"
          + "\"candidates\":\"mlp\",\"sparsity\":0.5,\"alpha\":0.2,\"beta\":1.0,\"gamma\":0.5,\"budget\":\"global\","
          + "\"model\":\"synthetic\"}";
      var start = http.send(HttpRequest.newBuilder(URI.create(url + "/session/start"))
          .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, start.statusCode(), start.body());

      awaitJson(http, url, s -> s.get("units_done").getAsInt() >= 6, Duration.ofSeconds(90));
      coordinator.destroyForcibly();
      assertTrue(coordinator.waitFor(10, TimeUnit.SECONDS));
      // The workers notice, lose the cluster, and keep trying to rejoin while the coordinator is down.
      TestCluster.waitForLog(dir.resolve("w1.log"), "rejoining", Duration.ofSeconds(60));

      Process restarted = startCoordinator(coordConf, dir.resolve("coordinator-2.log"));
      procs.add(restarted);
      TestCluster.waitForLog(dir.resolve("coordinator-2.log"), "session coordinator up: RUNNING", Duration.ofSeconds(60));
      JsonObject done = awaitJson(http, url, s -> s.get("state").getAsString().equals("DONE"), Duration.ofSeconds(180));
      String log2 = Files.readString(dir.resolve("coordinator-2.log"));
      assertTrue(log2.contains("session coordinator up: RUNNING (session crash, 20 units"), TestCluster.tail(log2));

      // Rebuild the status from the deterministic partitioning to read the accumulators.
      var cfg = ClusterTestSupport.load(coordConf);
      var plan = Partitioner.plan(session, new SyntheticRuntime(cfg).candidateTensors("mlp"), 43, 41);
      JsonObject p = done.getAsJsonObject("plan");
      SessionStatus status = SessionStatus.newBuilder().setSessionId("crash").setState("DONE").setUnitsTotal(20)
          .addAllPartitions(plan.partitions())
          .setPlan(MaskPlan.newBuilder().setMasksPath(p.get("masks_path").getAsString())
              .setMasksSha256(p.get("masks_sha256").getAsString())
              .setPrunedWeights(p.get("pruned_weights").getAsLong()))
          .build();
      var result = TestCluster.result(Path.of(cfg.getString("gaprune.work-dir")), status);

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
    List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx1g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        "io.gaprune.cli.Main", "coordinator", "--config", conf.toString());
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** Polls {@code GET url/session/status} until the status object satisfies p. */
  public static JsonObject awaitJson(HttpClient http, String url, java.util.function.Predicate<JsonObject> p, Duration timeout)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      try {
        var r = http.send(HttpRequest.newBuilder(URI.create(url + "/session/status")).timeout(Duration.ofSeconds(10))
            .build(), HttpResponse.BodyHandlers.ofString());
        last = r.body();
        if (r.statusCode() == 200) {
          JsonObject s = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonObject("status");
          if (p.test(s)) {
            return s;
          }
        }
      } catch (java.io.IOException e) {
        last = e.toString();
      }
      Thread.sleep(300);
    }
    throw new AssertionError("status condition not met within " + timeout.toSeconds() + " s; last: " + last);
  }
}
