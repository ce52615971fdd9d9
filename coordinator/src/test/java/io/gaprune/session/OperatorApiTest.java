package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.gaprune.cli.Main;
import io.gaprune.worker.WorkerActor;
import io.gaprune.worker.WorkerSettings;
import io.gaprune.worker.testing.SyntheticRuntime;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.Props;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import picocli.CommandLine;

/**
 * The operator API against a real one-node cluster in this JVM: the coordinator singleton on the H2 journal,
 * two workers on the synthetic runtime, the API with a token, Pekko Management on a free port. Everything
 * goes over HTTP (JDK client) or through the real CLI; nothing is mocked. The tests build on each other in
 * order: a session runs to its report, a second one is drained and cancelled, then the list shows both.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OperatorApiTest {
  static final String TOKEN = "s3cret-token";
  static final Pattern SAMPLE = Pattern.compile(
      "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\",?)*\\})? (\\S+)");

  Path dir;
  CoordinatorNode node;
  io.gaprune.transfer.ShardServer shardPort;
  String url;
  final HttpClient http = HttpClient.newHttpClient();
  final List<ExecutorService> computeThreads = new ArrayList<>();
  Path general;
  Path domain;

  @BeforeAll
  void start() throws Exception {
    // The token comes from the config file here; an operator's environment variable would override it.
    assumeTrue(System.getenv("GAPRUNE_HTTP_TOKEN") == null, "GAPRUNE_HTTP_TOKEN is set in this environment");
    dir = ClusterTestSupport.testDir("operator-api");
    general = ClusterTestSupport.triplets(dir, "general.json", 24);
    domain = ClusterTestSupport.triplets(dir, "domain.json", 20);
    Path conf = ClusterTestSupport.write(dir, "node.conf", ClusterTestSupport.settings(dir.resolve("work"), 0, null,
        "gaprune.http.token = \"" + TOKEN + "\"\ngaprune.http.max-body = 4KiB\ngaprune.test.batch-millis = 250\n"
            + "pekko.actor.serialize-messages = on"));
    var config = ClusterTestSupport.load(conf);
    var model = new SyntheticRuntime(config);
    node = CoordinatorNode.start(config, model, List.of("coordinator", "worker"), new AccumulatorPlanner());
    url = "http://127.0.0.1:" + node.httpPort();
    // Two workers in this JVM (labels "test-a", "test-b"), each with its own compute thread, one shard port for both.
    shardPort = io.gaprune.transfer.ShardServer.start(config);
    for (String device : List.of("test-a", "test-b")) {
      ExecutorService t = Executors.newSingleThreadExecutor();
      computeThreads.add(t);
      node.system().systemActorOf(WorkerActor.create(WorkerSettings.from(config, device), model, t,
          new CompletableFuture<>(), new CopyOnWriteArrayList<>(), shardPort), "worker-" + device, Props.empty());
    }
    awaitJson("/api/v1/workers", o -> o.getAsJsonArray("workers").size() == 2, Duration.ofSeconds(60));
  }

  @AfterAll
  void stop() {
    if (node != null) {
      node.close();
    }
    computeThreads.forEach(ExecutorService::shutdownNow);
    if (shardPort != null) {
      shardPort.close();
    }
  }

  @Test
  @Order(1)
  void healthIsOpenEverythingElseNeedsTheToken() throws Exception {
    var health = call("GET", "/health", null, null);
    assertEquals(200, health.statusCode(), health.body());
    assertEquals("ok", json(health).get("status").getAsString());

    for (String path : List.of("/metrics", "/api/v1/sessions", "/api/v1/workers", "/api/v1/sessions/x/report")) {
      var none = call("GET", path, null, null);
      assertEquals(401, none.statusCode(), path);
      assertTrue(json(none).get("error").getAsString().contains("missing"), none.body());
      assertEquals("Bearer realm=\"gaprune\"", none.headers().firstValue("WWW-Authenticate").orElse(""));
      var wrong = call("GET", path, null, "not-" + TOKEN);
      assertEquals(401, wrong.statusCode(), path);
      assertEquals("wrong token", json(wrong).get("error").getAsString());
    }
    assertEquals(401, call("POST", "/api/v1/sessions", "{}", null).statusCode());
    assertEquals(200, call("GET", "/api/v1/sessions", null, TOKEN).statusCode());
    assertEquals(200, call("GET", "/metrics", null, TOKEN).statusCode());
  }

  @Test
  @Order(2)
  void errorsAreJsonWithTheRightStatus() throws Exception {
    assertError(404, "no such endpoint", call("GET", "/api/v2/sessions", null, TOKEN));
    assertError(404, "no such endpoint", call("GET", "/api/v1/sessions/a/b/c", null, TOKEN));
    assertError(404, "no session \"nope\"", call("GET", "/api/v1/sessions/nope", null, TOKEN));
    assertError(404, "no session \"nope\"", call("GET", "/api/v1/sessions/nope/report", null, TOKEN));
    assertError(404, "no session \"nope\"", call("POST", "/api/v1/sessions/nope/cancel", null, TOKEN));
    assertError(404, "no live worker \"cpu@nowhere:1\"", call("POST", "/api/v1/workers/cpu%40nowhere%3A1/drain", null, TOKEN));
    var delete = call("DELETE", "/api/v1/sessions", null, TOKEN);
    assertError(405, "DELETE is not allowed", delete);
    assertEquals("GET, POST", delete.headers().firstValue("Allow").orElse(""));
    assertError(405, "use POST", call("GET", "/api/v1/sessions/x/cancel", null, TOKEN));
    assertError(405, "use GET", call("POST", "/health", "", null));
    assertError(400, "not valid JSON", call("POST", "/api/v1/sessions", "{\"general_path\": ", TOKEN));
    assertError(400, "not valid JSON", call("POST", "/api/v1/sessions", "{general_path: \"a\"}", TOKEN));
    assertError(400, "must be a JSON object", call("POST", "/api/v1/sessions", "[1, 2]", TOKEN));
    assertError(400, "unknown session field \"sparsty\"", call("POST", "/api/v1/sessions", "{\"sparsty\": 0.5}", TOKEN));
    assertError(400, "must be a whole number", call("POST", "/api/v1/sessions",
        "{\"general_path\":\"" + general + "\",\"domain_path\":\"" + domain + "\",\"batch_size\":-4}", TOKEN));
    assertError(400, "set by the coordinator", call("POST", "/api/v1/sessions", "{\"model_hash\":\"x\"}", TOKEN));
    assertError(400, "needs \"general_path\" and \"domain_path\"", call("POST", "/api/v1/sessions", "{\"seed\": 1}", TOKEN));
    // A file that is not there: the same refusal as any path outside the data roots, which says nothing about it.
    assertError(400, "must be the absolute path of a readable regular file under the data roots", call("POST",
        "/api/v1/sessions", "{\"general_path\":\"" + dir.resolve("missing.json") + "\",\"domain_path\":\"" + domain
            + "\"}", TOKEN));
    // A file under the roots that is no triplet file: refused by the coordinator itself when it reads it, still a 400.
    Path notTriplets = ClusterTestSupport.write(dir, "not-triplets.json", "{\"query\": \"q\"}");
    assertError(400, "cannot start the session", call("POST", "/api/v1/sessions",
        "{\"general_path\":\"" + notTriplets + "\",\"domain_path\":\"" + domain + "\"}", TOKEN));
    assertError(413, "larger than 4096 bytes", call("POST", "/api/v1/sessions", "{\"x\":\"" + "a".repeat(5000) + "\"}", TOKEN));
  }

  @Test
  @Order(3)
  void aSessionRunsToItsReportAndTheMetricsAgreeWithItsStatus() throws Exception {
    String body = "{\"session_id\":\"ops-1\",\"model\":\"synthetic\",\"general_path\":\"" + general
        + "\",\"domain_path\":\"" + domain + "\",\"batch_size\":4,\"batches_per_unit\":1,"
        + "\"partition_budget_bytes\":" + (48 * 16 * 32 * 2) + "}";
    var started = call("POST", "/api/v1/sessions", body, TOKEN);
    assertEquals(201, started.statusCode(), started.body());
    assertEquals("/api/v1/sessions/ops-1", started.headers().firstValue("Location").orElse(""));
    JsonObject s0 = json(started).getAsJsonObject("session");
    assertEquals("RUNNING", s0.get("state").getAsString());
    // 20 domain triplets / batch 4 = 5 batches; 2 partitions × 5 = 10 units. The rest came from the defaults.
    assertEquals(10, s0.get("units_total").getAsInt());

    // A second start while one runs is a conflict.
    assertError(409, "still running", call("POST", "/api/v1/sessions", body.replace("ops-1", "ops-x"), TOKEN));

    double fastest = 0;
    boolean sawStatistics = false;
    JsonObject s;
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (true) {
      s = json(call("GET", "/api/v1/sessions/ops-1", null, TOKEN));
      assertEquals(10, s.get("units_total").getAsInt());
      assertTrue(s.get("current").getAsBoolean());
      sawStatistics |= s.get("phase").getAsString().equals("statistics");
      fastest = Math.max(fastest, s.get("triplets_per_second").getAsDouble());
      for (JsonElement w : s.getAsJsonArray("workers")) {
        assertTrue(List.of("idle", "computing", "streaming").contains(w.getAsJsonObject().get("state").getAsString()), s.toString());
      }
      if (!s.get("state").getAsString().equals("RUNNING") && !s.get("state").getAsString().equals("PLANNING")) {
        break;
      }
      assertTrue(System.nanoTime() < deadline, "session did not end: " + s);
      Thread.sleep(100);
    }
    assertEquals("DONE", s.get("state").getAsString(), s.toString());
    assertEquals("done", s.get("phase").getAsString());
    assertEquals(10, s.get("units_done").getAsInt());
    assertEquals(1.0, s.get("progress").getAsDouble());
    assertEquals(0, s.get("merge_lag_units").getAsInt());
    assertTrue(sawStatistics, "never saw the statistics phase");
    assertTrue(fastest > 0, "triplets/s never above 0");
    assertNotNull(s.get("started_at").getAsString());
    assertNotNull(s.get("ended_at").getAsString());
    assertEquals(2, s.getAsJsonArray("workers").size());

    // Metrics: the same numbers as the status, in a well-formed exposition.
    var m = call("GET", "/metrics", null, TOKEN);
    assertEquals("text/plain; version=0.0.4; charset=utf-8", m.headers().firstValue("Content-Type").orElse(""));
    Map<String, Double> metrics = parseExposition(m.body());
    assertEquals(10.0, metrics.get("gaprune_units_total{session=\"ops-1\"}"));
    assertEquals(10.0, metrics.get("gaprune_units_done_total{session=\"ops-1\"}"));
    assertEquals(10.0, metrics.get("gaprune_units_folded_total{session=\"ops-1\"}"));
    assertEquals(0.0, metrics.get("gaprune_merge_lag_units{session=\"ops-1\"}"));
    assertEquals(1.0, metrics.get("gaprune_session_info{session=\"ops-1\",state=\"DONE\",phase=\"done\"}"));
    assertEquals(2.0, metrics.get("gaprune_workers{state=\"idle\"}"));
    assertEquals(0.0, metrics.get("gaprune_workers{state=\"computing\"}"));
    assertEquals(0.0, metrics.get("gaprune_workers{state=\"streaming\"}"));
    assertEquals(0.0, metrics.get("gaprune_workers{state=\"draining\"}"));
    assertEquals(1.0, metrics.get("gaprune_sessions_started_total"));
    assertEquals(0.0, metrics.get("gaprune_unit_failures_total"));
    // 10 units, each one partition of 2 tensors of 48×16 weights × 2 statistics (the default scoring reads the
    // Fisher only) × 4 bytes (float32 on the wire).
    assertEquals(10.0 * 2 * 48 * 16 * 2 * 4, metrics.get("gaprune_shard_bytes_total"));
    double triplets = 0;
    for (JsonElement w : json(call("GET", "/api/v1/workers", null, TOKEN)).getAsJsonArray("workers")) {
      String id = w.getAsJsonObject().get("id").getAsString();
      assertTrue(metrics.containsKey("gaprune_worker_triplets_per_second{worker=\"" + id + "\"}"), id);
      triplets += metrics.get("gaprune_worker_triplets_total{worker=\"" + id + "\"}");
    }
    // Every unit: one batch of 4 general + 4 domain triplets, computed at least once.
    assertTrue(triplets >= 10 * 8, "triplets counted: " + triplets);

    // The report: plan.json as the session wrote it, and the masks byte for byte.
    var report = call("GET", "/api/v1/sessions/ops-1/report", null, TOKEN);
    assertEquals(200, report.statusCode(), report.body());
    JsonObject r = json(report);
    String sha = r.getAsJsonObject("plan").get("masks_sha256").getAsString();
    assertEquals(r.getAsJsonObject("plan").get("pruned_weights").getAsLong(),
        s.getAsJsonObject("plan").get("pruned_weights").getAsLong());
    assertTrue(r.getAsJsonObject("report").size() > 0, "plan.json is empty");
    var masks = http.send(request("GET", "/api/v1/sessions/ops-1/report?file=masks.safetensors", null, TOKEN),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, masks.statusCode());
    assertEquals("application/octet-stream", masks.headers().firstValue("Content-Type").orElse(""));
    assertEquals(sha, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(masks.body())));
    var planFile = call("GET", "/api/v1/sessions/ops-1/report?file=plan.json", null, TOKEN);
    assertEquals(200, planFile.statusCode());
    assertEquals(r.get("report"), JsonParser.parseString(planFile.body()));
    assertError(400, "file must be one of", call("GET", "/api/v1/sessions/ops-1/report?file=../../etc/passwd", null, TOKEN));
    // weights.safetensors is only a plan's whose scoring updates the kept weights (LayerwiseSessionTest)
    assertError(404, "does not update the kept weights",
        call("GET", "/api/v1/sessions/ops-1/report?file=weights.safetensors", null, TOKEN));
    assertEquals(java.util.Set.of("masks.safetensors", "plan.json"), r.getAsJsonObject("files").keySet());

    // The CLI on the same API: list, status, report to a file, and a refusal without the token.
    var list = cli("session", "list", "--coordinator", url, "--token", TOKEN);
    assertEquals(0, list.code(), list.err());
    assertTrue(list.out().contains("\"current\": \"ops-1\""), list.out());
    var status = cli("session", "status", "--coordinator", url, "--token", TOKEN);
    assertEquals(0, status.code(), status.err());
    assertEquals("DONE", JsonParser.parseString(status.out()).getAsJsonObject().get("state").getAsString());
    Path out = dir.resolve("masks-from-cli.safetensors");
    var download = cli("session", "report", "ops-1", "--file", "masks.safetensors", "--out", out.toString(),
        "--coordinator", url, "--token", TOKEN);
    assertEquals(0, download.code(), download.err());
    assertEquals(sha, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(out))));
    var refused = cli("session", "list", "--coordinator", url);
    assertEquals(1, refused.code());
    assertTrue(refused.err().contains("missing Authorization") && refused.err().contains("HTTP 401"), refused.err());
  }

  @Test
  @Order(4)
  void aWorkerIsDrainedAndTheNextSessionCancelled() throws Exception {
    Path bigGeneral = ClusterTestSupport.triplets(dir, "general-big.json", 400);
    Path bigDomain = ClusterTestSupport.triplets(dir, "domain-big.json", 400);
    var started = cli("session", "start", "--general", bigGeneral.toString(), "--domain", bigDomain.toString(),
        "--session-id", "ops-2", "--batch-size", "4", "--batches-per-unit", "1", "--coordinator", url, "--token", TOKEN);
    assertEquals(0, started.code(), started.err());
    awaitJson("/api/v1/sessions/ops-2", o -> o.get("units_done").getAsInt() >= 2, Duration.ofSeconds(60));

    JsonObject workers = json(call("GET", "/api/v1/workers", null, TOKEN));
    String b = null;
    for (JsonElement w : workers.getAsJsonArray("workers")) {
      String id = w.getAsJsonObject().get("id").getAsString();
      if (id.startsWith("test-b@")) {
        b = id;
      }
    }
    assertNotNull(b, workers.toString());
    var drain = call("POST", "/api/v1/workers/" + java.net.URLEncoder.encode(b, StandardCharsets.UTF_8) + "/drain", null, TOKEN);
    assertEquals(202, drain.statusCode(), drain.body());
    assertEquals(b, json(drain).getAsJsonObject("worker").get("id").getAsString());
    String drained = b;
    // It finishes its unit, then leaves: one worker is left, and the session goes on with it.
    awaitJson("/api/v1/workers", o -> o.getAsJsonArray("workers").size() == 1
        && !o.toString().contains(drained), Duration.ofSeconds(30));
    Map<String, Double> metrics = parseExposition(call("GET", "/metrics", null, TOKEN).body());
    assertEquals(1.0, metrics.get("gaprune_workers{state=\"idle\"}") + metrics.get("gaprune_workers{state=\"computing\"}")
        + metrics.get("gaprune_workers{state=\"streaming\"}") + metrics.get("gaprune_workers{state=\"draining\"}"));
    assertFalse(metrics.containsKey("gaprune_worker_triplets_per_second{worker=\"" + drained + "\"}"));
    assertEquals(2.0, metrics.get("gaprune_sessions_started_total"));

    assertError(404, "its report exists once it is DONE", call("GET", "/api/v1/sessions/ops-2/report", null, TOKEN));
    assertError(409, "already ended DONE", call("POST", "/api/v1/sessions/ops-1/cancel", null, TOKEN));
    var cancelled = call("POST", "/api/v1/sessions/ops-2/cancel", null, TOKEN);
    assertEquals(200, cancelled.statusCode(), cancelled.body());
    JsonObject c = json(cancelled).getAsJsonObject("session");
    assertEquals("CANCELLED", c.get("state").getAsString());
    assertTrue(c.get("units_done").getAsInt() < c.get("units_total").getAsInt(), c.toString());
    assertError(409, "no running session", call("POST", "/api/v1/sessions/ops-2/cancel", null, TOKEN));
    assertError(404, "ended CANCELLED", call("GET", "/api/v1/sessions/ops-2/report", null, TOKEN));

    // The list: the cancelled session is current, the finished one is still known (and its report served).
    JsonObject list = json(call("GET", "/api/v1/sessions", null, TOKEN));
    assertTrue(list.get("one_session_at_a_time").getAsBoolean());
    assertEquals("ops-2", list.get("current").getAsString());
    var sessions = list.getAsJsonArray("sessions");
    assertEquals(2, sessions.size());
    assertEquals("CANCELLED", sessions.get(0).getAsJsonObject().get("state").getAsString());
    assertEquals("ops-1", sessions.get(1).getAsJsonObject().get("session_id").getAsString());
    assertEquals("DONE", sessions.get(1).getAsJsonObject().get("state").getAsString());
    JsonObject earlier = json(call("GET", "/api/v1/sessions/ops-1", null, TOKEN));
    assertFalse(earlier.get("current").getAsBoolean());
    assertEquals(10, earlier.get("units_done").getAsInt());
    assertEquals(200, call("GET", "/api/v1/sessions/ops-1/report", null, TOKEN).statusCode());
  }

  @Test
  @Order(5)
  void pekkoManagementListsThisNodeAsUp() throws Exception {
    String management = node.managementUri();
    assertNotNull(management, "management did not start");
    assertTrue(management.startsWith("http://127.0.0.1:"), management);
    var members = http.send(HttpRequest.newBuilder(URI.create(management + "/cluster/members")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, members.statusCode(), members.body());
    JsonObject m = JsonParser.parseString(members.body()).getAsJsonObject();
    String self = m.get("selfNode").getAsString();
    assertEquals(node.address(), self);
    boolean up = false;
    for (JsonElement e : m.getAsJsonArray("members")) {
      JsonObject member = e.getAsJsonObject();
      up |= member.get("node").getAsString().equals(self) && member.get("status").getAsString().equals("Up");
    }
    assertTrue(up, members.body());
    for (String probe : List.of("/health/alive", "/health/ready")) {
      var r = http.send(HttpRequest.newBuilder(URI.create(management + probe)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), probe + ": " + r.body());
    }
    // Read-only: nobody downs a member over HTTP.
    var down = http.send(HttpRequest.newBuilder(URI.create(management + "/cluster/members/" + self))
        .method("PUT", HttpRequest.BodyPublishers.ofString("operation=Down")).build(), HttpResponse.BodyHandlers.ofString());
    assertTrue(down.statusCode() >= 400, down.statusCode() + " " + down.body());
  }

  @Test
  @Order(6)
  void refusesToListenBeyondLoopbackWithoutAToken() throws Exception {
    Path conf = ClusterTestSupport.write(dir, "open.conf", ClusterTestSupport.settings(dir.resolve("open-work"), 0, null,
        "gaprune.http.hostname = \"0.0.0.0\""));
    var config = ClusterTestSupport.load(conf);
    var e = assertThrows(IllegalArgumentException.class, () -> CoordinatorNode.start(config, new SyntheticRuntime(config),
        List.of("coordinator"), new AccumulatorPlanner()));
    assertTrue(e.getMessage().contains("gaprune.http.hostname") && e.getMessage().contains("gaprune.http.token")
        && e.getMessage().contains("GAPRUNE_HTTP_TOKEN") && e.getMessage().contains("not a loopback address"), e.getMessage());

    Path mconf = ClusterTestSupport.write(dir, "open-management.conf", ClusterTestSupport.settings(
        dir.resolve("open-work"), 0, null, "gaprune.http.enabled = off\ngaprune.management.hostname = \"0.0.0.0\""));
    var mconfig = ClusterTestSupport.load(mconf);
    var me = assertThrows(IllegalArgumentException.class, () -> CoordinatorNode.start(mconfig,
        new SyntheticRuntime(mconfig), List.of("coordinator"), new AccumulatorPlanner()));
    assertTrue(me.getMessage().contains("gaprune.management.hostname") && me.getMessage().contains("gaprune.http.token"),
        me.getMessage());
    // A worker refuses the same before it loads its model.
    var we = assertThrows(IllegalArgumentException.class, () -> new io.gaprune.worker.WorkerNode(mconfig, "cpu").run());
    assertTrue(we.getMessage().contains("gaprune.management.hostname"), we.getMessage());
    // The CLI says it in one line and exits 1.
    var cli = cli("coordinator", "--config", conf.toString());
    assertEquals(1, cli.code());
    assertTrue(cli.err().startsWith("gaprune coordinator: the operator HTTP API would listen on 0.0.0.0"), cli.err());
  }

  @Test
  @Order(7)
  void withoutACoordinatorTheApiAnswers503() throws Exception {
    // A node of the same cluster name that never joins anyone: the API is up, no singleton can answer.
    Path conf = ClusterTestSupport.write(dir, "lonely.conf", ClusterTestSupport.settings(dir.resolve("lonely-work"), 0,
        null, "gaprune.http.health-timeout = 1s\ngaprune.http.ask-timeout = 2s"));
    var config = ClusterTestSupport.load(conf);
    var lonely = org.apache.pekko.actor.typed.ActorSystem.create(
        org.apache.pekko.actor.typed.javadsl.Behaviors.empty(), "gaprune", config);
    try (var front = io.gaprune.api.HttpFront.start(lonely, io.gaprune.api.HttpSettings.from(config, Map.of()), config)) {
      String base = "http://127.0.0.1:" + front.port();
      long t0 = System.nanoTime();
      var health = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(503, health.statusCode(), health.body());
      assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(5).toNanos(), "health took longer than its timeout");
      assertEquals("unavailable", json(health).get("status").getAsString());
      // No token configured here: the front generated one in the work dir.
      String generated = Files.readString(io.gaprune.api.OperatorToken.file(dir.resolve("lonely-work"))).strip();
      var sessions = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/sessions"))
              .header("Authorization", "Bearer " + generated).build(), HttpResponse.BodyHandlers.ofString());
      assertError(503, "no session coordinator registered", sessions);
    } finally {
      lonely.terminate();
    }
  }

  // ------------------------------------------------------------------ helpers

  HttpRequest request(String method, String path, String body, String token) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(30))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (method.equals("POST")) {
      // What every client of the API sends with a POST (a request without it is refused with 415).
      b.header("Content-Type", "application/json");
    }
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return b.build();
  }

  HttpResponse<String> call(String method, String path, String body, String token) throws Exception {
    return http.send(request(method, path, body, token), HttpResponse.BodyHandlers.ofString());
  }

  static JsonObject json(HttpResponse<String> r) {
    return JsonParser.parseString(r.body()).getAsJsonObject();
  }

  /** An error reply: the status expected, {@code {"error": "..."}} as JSON, the message holding the fragment. */
  static void assertError(int status, String fragment, HttpResponse<String> r) {
    assertEquals(status, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), r.headers().toString());
    String error = json(r).get("error").getAsString();
    assertTrue(error.contains(fragment), "\"" + fragment + "\" not in: " + error);
  }

  JsonObject awaitJson(String path, Predicate<JsonObject> p, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      var r = call("GET", path, null, TOKEN);
      last = r.body();
      if (r.statusCode() == 200 && p.test(json(r))) {
        return json(r);
      }
      Thread.sleep(200);
    }
    throw new AssertionError(path + ": condition not met within " + timeout.toSeconds() + " s; last: " + last);
  }

  /**
   * Checks the text exposition format 0.0.4 line by line (HELP and TYPE before a family's samples, samples
   * of a family together, well-formed labels and values) and returns each series' value.
   */
  static Map<String, Double> parseExposition(String text) {
    assertTrue(text.endsWith("\n"), "the exposition must end with a line feed");
    Map<String, Double> out = new HashMap<>();
    Map<String, String> types = new HashMap<>();
    List<String> familiesSeen = new ArrayList<>();
    String current = null;
    for (String line : text.split("\n")) {
      if (line.startsWith("# HELP ")) {
        String name = line.split(" ")[2];
        assertFalse(familiesSeen.contains(name), "family twice: " + name);
        familiesSeen.add(name);
        current = name;
      } else if (line.startsWith("# TYPE ")) {
        String[] parts = line.split(" ");
        assertEquals(current, parts[2], "TYPE must follow its HELP: " + line);
        assertTrue(List.of("counter", "gauge").contains(parts[3]), line);
        types.put(parts[2], parts[3]);
      } else {
        Matcher m = SAMPLE.matcher(line);
        assertTrue(m.matches(), "not a sample line: " + line);
        assertEquals(current, m.group(1), "sample outside its family: " + line);
        assertNotNull(types.get(m.group(1)), "no TYPE for " + line);
        double v = Double.parseDouble(m.group(3));
        if (types.get(m.group(1)).equals("counter")) {
          assertTrue(v >= 0, "negative counter: " + line);
        }
        assertFalse(out.containsKey(m.group(1) + (m.group(2) == null ? "" : m.group(2))), "series twice: " + line);
        out.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), v);
      }
    }
    for (String family : List.of("gaprune_units_total", "gaprune_units_done_total", "gaprune_workers",
        "gaprune_worker_triplets_per_second", "gaprune_shard_bytes_total", "gaprune_merge_lag_units",
        "gaprune_unit_failures_total", "gaprune_sessions_started_total")) {
      assertTrue(familiesSeen.contains(family), "missing family " + family);
    }
    return out;
  }

  record CliRun(int code, String out, String err) {}

  static CliRun cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new CliRun(code, out.toString(), err.toString());
  }
}
