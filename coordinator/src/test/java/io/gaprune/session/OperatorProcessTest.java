package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The operator interface of a real deployment on 127.0.0.1: {@code gaprune coordinator} and
 * {@code gaprune worker} as separate processes, the token given through {@code GAPRUNE_HTTP_TOKEN} (which
 * overrides the file), Pekko Management on both, and {@code gaprune session ...} driving a session to its
 * report and draining the worker process, which then exits 0.
 */
@Tag("slow")
class OperatorProcessTest {
  static final String TOKEN = "process-token";

  @Test
  void cliOperatesARealCoordinatorAndDrainsAWorkerProcess() throws Exception {
    Path dir = ClusterTestSupport.testDir("operator-process");
    int port = ClusterTestSupport.freePort();
    int httpPort = ClusterTestSupport.freePort();
    int coordinatorManagement = ClusterTestSupport.freePort();
    int workerManagement = ClusterTestSupport.freePort();
    String seed = "pekko://gaprune@127.0.0.1:" + port;
    String extra = "gaprune.test.batch-millis = 200";
    Path coordConf = ClusterTestSupport.write(dir, "coordinator.conf", ClusterTestSupport.settings(dir.resolve("coordinator-work"),
        port, seed, extra + "\ngaprune.http { port = " + httpPort + ", token = \"the-file-token\" }"
            + "\ngaprune.management.port = " + coordinatorManagement));
    Path workerConf = ClusterTestSupport.write(dir, "worker.conf", ClusterTestSupport.settings(dir.resolve("worker-work"),
        0, seed, extra + "\ngaprune.management.worker-port = " + workerManagement));
    Path general = ClusterTestSupport.triplets(dir, "general.json", 24);
    Path domain = ClusterTestSupport.triplets(dir, "domain.json", 20);
    String url = "http://127.0.0.1:" + httpPort;
    HttpClient http = HttpClient.newHttpClient();
    List<Process> procs = new ArrayList<>();
    try {
      List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx1g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
          "io.gaprune.cli.Main", "coordinator", "--config", coordConf.toString());
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("coordinator.log").toFile());
      pb.environment().put("GAPRUNE_HTTP_TOKEN", TOKEN);
      procs.add(pb.start());
      TestCluster.waitForLog(dir.resolve("coordinator.log"), " ready; API on port " + httpPort, Duration.ofSeconds(90));
      Process worker = EmbeddedSession.startWorkerProcess(workerConf, "cpu", dir.resolve("worker.log"));
      procs.add(worker);

      // The environment's token wins over the file's.
      assertEquals(401, get(http, url + "/api/v1/workers", "the-file-token").statusCode());
      JsonObject workers = await(http, url + "/api/v1/workers", o -> o.getAsJsonArray("workers").size() == 1);
      String workerId = workers.getAsJsonArray("workers").get(0).getAsJsonObject().get("id").getAsString();
      assertTrue(workerId.endsWith(":" + worker.pid()), workerId);

      // Management on both processes: each lists both members Up and is ready.
      for (int m : List.of(coordinatorManagement, workerManagement)) {
        JsonObject members = await(http, "http://127.0.0.1:" + m + "/cluster/members", o -> {
          int up = 0;
          for (JsonElement e : o.getAsJsonArray("members")) {
            up += e.getAsJsonObject().get("status").getAsString().equals("Up") ? 1 : 0;
          }
          return up == 2;
        });
        assertTrue(members.get("selfNode").getAsString().startsWith("pekko://gaprune@127.0.0.1:"), members.toString());
        assertEquals(200, get(http, "http://127.0.0.1:" + m + "/health/ready", null).statusCode());
      }

      var started = OperatorApiTest.cli("session", "start", "--coordinator", url, "--general", general.toString(),
          "--domain", domain.toString(), "--session-id", "proc", "--batch-size", "4", "--batches-per-unit", "1",
          "--partition-budget-mb", "1");
      assertEquals(1, started.code(), "no token given: " + started.out());
      assertTrue(started.err().contains("HTTP 401"), started.err());
      String[] auth = {"--coordinator", url, "--token", TOKEN};
      started = OperatorApiTest.cli(concat(new String[] {"session", "start", "--general", general.toString(),
          "--domain", domain.toString(), "--session-id", "proc", "--batch-size", "4", "--batches-per-unit", "1"}, auth));
      assertEquals(0, started.code(), started.err());
      await(http, url + "/api/v1/sessions/proc", o -> o.get("state").getAsString().equals("DONE"));
      var report = OperatorApiTest.cli(concat(new String[] {"session", "report", "proc"}, auth));
      assertEquals(0, report.code(), report.err());
      assertTrue(JsonParser.parseString(report.out()).getAsJsonObject().getAsJsonObject("plan")
          .get("pruned_weights").getAsLong() > 0, report.out());

      // Drain by a fragment of the id (the pid), the way an operator would type it: the process leaves and exits 0.
      var drain = OperatorApiTest.cli(concat(new String[] {"session", "drain", Long.toString(worker.pid())}, auth));
      assertEquals(0, drain.code(), drain.err());
      assertTrue(worker.waitFor(60, TimeUnit.SECONDS), "the drained worker did not exit");
      assertEquals(0, worker.exitValue());
      await(http, url + "/api/v1/workers", o -> o.getAsJsonArray("workers").isEmpty());
      var health = get(http, url + "/health", null);
      assertEquals(200, health.statusCode(), health.body());
    } finally {
      procs.forEach(Process::destroyForcibly);
    }
  }

  static String[] concat(String[] a, String[] b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  static HttpResponse<String> get(HttpClient http, String url, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonObject await(HttpClient http, String url, java.util.function.Predicate<JsonObject> p) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      try {
        var r = get(http, url, TOKEN);
        last = r.statusCode() + " " + r.body();
        if (r.statusCode() == 200 && p.test(JsonParser.parseString(r.body()).getAsJsonObject())) {
          return JsonParser.parseString(r.body()).getAsJsonObject();
        }
      } catch (java.io.IOException e) {
        last = e.toString();
      }
      Thread.sleep(300);
    }
    throw new AssertionError(url + ": condition not met within 120 s; last: " + last);
  }
}
