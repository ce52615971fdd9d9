package io.gaprune.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.gaprune.config.GapruneConfig;
import io.gaprune.ops.OperatorAccess;
import io.gaprune.protocol.OperatorCounters;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.WorkerInfo;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pieces of the operator API that need no cluster: parsing, rendering, access rules. */
class ApiPartsTest {
  static final com.typesafe.config.Config CONFIG = GapruneConfig.load(null, ConfigFactory.empty());

  @Test
  void aSessionBodyTakesTheDefaultsForWhatItLeavesOut() {
    SessionConfig s = SessionRequest.parse("{\"general_path\":\"/g.json\",\"domain_path\":\"/d.json\",\"sparsity\":0.6,"
        + "\"partition_budget_bytes\":5000000000}", CONFIG);
    assertEquals("/g.json", s.getGeneralPath());
    assertEquals(0.6, s.getSparsity());
    assertEquals(5_000_000_000L, s.getPartitionBudgetBytes());
    assertEquals(CONFIG.getInt("gaprune.session.batch-size"), s.getBatchSize());
    assertEquals(CONFIG.getString("gaprune.model"), s.getModel());
    assertEquals(CONFIG.getDouble("gaprune.session.gamma"), s.getGamma());
    assertEquals("global", s.getBudget());
  }

  /**
   * An N:M structure fixes the sparsity at 1 − N/M: the session records it (the node's default sparsity does not
   * count); a sparsity the client gave must agree; a bad structure is a 400 naming the field.
   */
  @Test
  void aStructuredSessionBodyGetsTheStructuresSparsity() {
    String paths = "{\"general_path\":\"/g.json\",\"domain_path\":\"/d.json\",";
    SessionConfig s = SessionRequest.parse(paths + "\"structure\":\" 1:4 \"}", CONFIG);
    assertEquals("1:4", s.getStructure());
    assertEquals(0.75, s.getSparsity());
    assertEquals(0.5, SessionRequest.parse(paths + "\"structure\":\"2:4\",\"sparsity\":0.5}", CONFIG).getSparsity());
    SessionConfig plain = SessionRequest.parse(paths + "\"sparsity\":0.7}", CONFIG);
    assertEquals("", plain.getStructure());
    assertEquals(0.7, plain.getSparsity());
    assertEquals(0.7, SessionRequest.parse(paths + "\"structure\":\"unstructured\",\"sparsity\":0.7}", CONFIG)
        .getSparsity());
    Map<String, String> cases = Map.of(
        paths + "\"structure\":\"2:4\",\"sparsity\":0.7}", "sparsity 0.7 conflicts with structure 2:4",
        paths + "\"structure\":\"4:2\"}", "session field \"structure\": structure \"4:2\" is not valid",
        paths + "\"structure\":24}", "must be a string");
    cases.forEach((body, fragment) -> {
      ApiException e = assertThrows(ApiException.class, () -> SessionRequest.parse(body, CONFIG), body);
      assertEquals(400, e.status, body);
      assertTrue(e.getMessage().contains(fragment), body + " → " + e.getMessage());
    });
  }

  /** The half wanda and sparsegpt calibrate on: one of three names, else a 400 naming the field. */
  @Test
  void aSessionBodysCalibrationIsOneOfThreeHalves() {
    String paths = "{\"general_path\":\"/g.json\",\"domain_path\":\"/d.json\",\"scoring\":\"wanda\",";
    assertEquals("both", SessionRequest.parse(paths + "\"calibration\":\"both\"}", CONFIG).getCalibration());
    assertEquals("", SessionRequest.parse(paths + "\"sparsity\":0.5}", CONFIG).getCalibration());
    Map<String, String> cases = Map.of(
        paths + "\"calibration\":\"chem\"}", "calibration: \"chem\" is not one of domain, general, both",
        paths + "\"calibration\":2}", "must be a string");
    cases.forEach((body, fragment) -> {
      ApiException e = assertThrows(ApiException.class, () -> SessionRequest.parse(body, CONFIG), body);
      assertEquals(400, e.status, body);
      assertTrue(e.getMessage().contains(fragment), body + " → " + e.getMessage());
    });
  }

  @Test
  void aBadSessionBodyIsA400NamingTheProblem() {
    Map<String, String> cases = Map.of(
        "", "it is empty",
        "{\"general_path\":\"/g\"} trailing", "not valid JSON: malformed JSON at line 1 column 24",
        "{'general_path':'/g'}", "not valid JSON",
        "{\"general_path\":\"/g\",\"domain_path\":\"/d\",\"batch_size\":1.5}", "must be a whole number",
        "{\"general_path\":\"/g\",\"domain_path\":\"/d\",\"batch_size\":4294967296}", "must be a whole number",
        "{\"general_path\":\"/g\",\"domain_path\":\"/d\",\"seed\":\"42\"}", "must be a whole number",
        "{\"general_path\":7,\"domain_path\":\"/d\"}", "must be a string",
        "{\"general_path\":\"/g\",\"domain_path\":\"/d\",\"sparsity\":\"half\"}", "must be a finite number",
        "{\"code_version\":\"x\"}", "set by the coordinator",
        "{\"domain_path\":\"/d\"}", "needs \"general_path\" and \"domain_path\"");
    cases.forEach((body, fragment) -> {
      ApiException e = assertThrows(ApiException.class, () -> SessionRequest.parse(body, CONFIG), body);
      assertEquals(400, e.status, body);
      assertTrue(e.getMessage().contains(fragment), body + " → " + e.getMessage());
      assertFalse(e.getMessage().contains("LENIENT") || e.getMessage().contains("http"), e.getMessage());
    });
  }

  @Test
  void metricsEscapeLabelsAndListEveryWorkerState() {
    SessionStatus s = SessionStatus.newBuilder().setSessionId("s\"1\\").setState("RUNNING").setUnitsTotal(10)
        .setUnitsDone(7).setUnitsFolded(5).setCounters(OperatorCounters.newBuilder().setShardBytes(123).setSessionsStarted(2))
        .addWorkers(WorkerInfo.newBuilder().setWorkerRef("r1").setDevice("cpu").setHost("h").setPid(1)
            .setState("computing").setTripletsPerSecond(12.5).setTripletsDone(40))
        .build();
    String text = PrometheusText.render(s);
    assertTrue(text.contains("gaprune_units_total{session=\"s\\\"1\\\\\"} 10\n"), text);
    assertTrue(text.contains("gaprune_merge_lag_units{session=\"s\\\"1\\\\\"} 2\n"), text);
    assertTrue(text.contains("gaprune_session_info{session=\"s\\\"1\\\\\",state=\"RUNNING\",phase=\"statistics\"} 1\n"), text);
    assertTrue(text.contains("gaprune_workers{state=\"computing\"} 1\n"), text);
    assertTrue(text.contains("gaprune_workers{state=\"draining\"} 0\n"), text);
    assertTrue(text.contains("gaprune_worker_triplets_per_second{worker=\"cpu@h:1\"} 12.5\n"), text);
    assertTrue(text.contains("gaprune_shard_bytes_total 123\n"), text);
    assertTrue(text.contains("# TYPE gaprune_sessions_started_total counter\ngaprune_sessions_started_total 2\n"), text);
    assertEquals("NaN", PrometheusText.number(Double.NaN));
    assertEquals("+Inf", PrometheusText.number(Double.POSITIVE_INFINITY));
  }

  @Test
  void workerIdsAreUniqueAndSessionPhasesReadable() {
    WorkerInfo a = WorkerInfo.newBuilder().setWorkerRef("pekko://g@h:1/user/a").setDevice("cpu").setHost("h").setPid(9).build();
    WorkerInfo b = a.toBuilder().setWorkerRef("pekko://g@h:2/user/a").build();
    WorkerInfo c = a.toBuilder().setWorkerRef("pekko://g@h:3/user/b").setDevice("gpu:1").build();
    var ids = OperatorJson.workers(SessionStatus.newBuilder().addWorkers(a).addWorkers(b).addWorkers(c).build())
        .stream().map(OperatorJson.Worker::id).toList();
    assertEquals(3, ids.stream().distinct().count(), ids.toString());
    assertTrue(ids.get(0).startsWith("cpu@h:9~") && ids.get(1).startsWith("cpu@h:9~"), ids.toString());
    assertEquals("gpu:1@h:9", ids.get(2));
    SessionStatus.Builder st = SessionStatus.newBuilder().setState("RUNNING").setUnitsTotal(4);
    assertEquals("statistics", OperatorJson.phase(st.setUnitsDone(3).build()));
    assertEquals("merging", OperatorJson.phase(st.setUnitsDone(4).setUnitsFolded(3).build()));
    assertEquals("planning", OperatorJson.phase(st.setUnitsFolded(4).build()));
    assertEquals("planning", OperatorJson.phase(st.setState("PLANNING").build()));
    assertEquals("cancelled", OperatorJson.phase(st.setState("CANCELLED").build()));
  }

  @Test
  void pathsDecodeSegmentByKeepingPlusAndEncodedSlashes() {
    assertEquals(List.of("api", "v1", "workers", "cpu@h:1", "drain"), Paths.segments("/api/v1/workers/cpu%40h%3A1/drain"));
    assertEquals(List.of("a/b", "c+d"), Paths.segments("/a%2Fb/c+d"));
    assertEquals("gpu%3A0%40host%3A12", Paths.encode("gpu:0@host:12"));
    assertEquals(Map.of("file", "plan.json"), Paths.query("file=plan.json"));
    assertEquals(400, assertThrows(ApiException.class, () -> Paths.segments("/%zz")).status);
  }

  @Test
  void theTokenRulesAreTheSameForEveryEndpoint() {
    assertTrue(OperatorAccess.matches("abc", "abc"));
    assertFalse(OperatorAccess.matches("abc", "abd"));
    assertFalse(OperatorAccess.matches("abc", "abcd"));
    assertFalse(OperatorAccess.matches("abc", null));
    assertFalse(OperatorAccess.matches("", ""));
    var withToken = ConfigFactory.parseString("gaprune.http.token = \" file \"");
    assertEquals("file", OperatorAccess.token(withToken, Map.of()));
    assertEquals("env", OperatorAccess.token(withToken, Map.of(OperatorAccess.TOKEN_ENV, "env")));
    assertEquals("file", OperatorAccess.token(withToken, Map.of(OperatorAccess.TOKEN_ENV, "  ")));
    OperatorAccess.requireSafeBinding("x", "k", "127.0.0.1", "");
    OperatorAccess.requireSafeBinding("x", "k", "localhost", "");
    OperatorAccess.requireSafeBinding("x", "k", "::1", "");
    OperatorAccess.requireSafeBinding("x", "k", "0.0.0.0", "t");
    var e = assertThrows(IllegalArgumentException.class, () -> OperatorAccess.requireSafeBinding("the API",
        "gaprune.http.hostname", "0.0.0.0", ""));
    assertTrue(e.getMessage().contains("gaprune.http.token") && e.getMessage().contains("GAPRUNE_HTTP_TOKEN"), e.getMessage());
    // And the settings the coordinator reads refuse the same.
    var open = GapruneConfig.load(null, ConfigFactory.parseString("gaprune.http.hostname = \"0.0.0.0\""));
    assertThrows(IllegalArgumentException.class, () -> HttpSettings.from(open, Map.of()).check());
    HttpSettings.from(open, Map.of(OperatorAccess.TOKEN_ENV, "t")).check();
    assertThrows(IllegalArgumentException.class, () -> HttpSettings.from(
        GapruneConfig.load(null, ConfigFactory.parseString("gaprune.http.max-body = 0")), Map.of()));
  }

  @Test
  void theGuardKnowsThisApisNamesAndNoOtherOrigin() {
    RequestGuard g = new RequestGuard("0.0.0.0", List.of("Coordinator", "gaprune.example.org."), "tok");
    for (String ok : List.of("localhost", "localhost:8558", "127.0.0.1:1", "127.9.9.9", "[::1]:8558", "10.0.0.7:8558",
        "coordinator:8558", "COORDINATOR", "gaprune.example.org", "gaprune.example.org.:443")) {
      g.host(List.of(ok));
    }
    for (String bad : List.of("evil.example", "evil.example:8558", "localhost.evil.example", "0.0.0.0.evil", "",
        "coordinator.evil.example", "127.0.0.1.nip.io")) {
      var e = assertThrows(ApiException.class, () -> g.host(List.of(bad)), bad);
      assertTrue(e.status == 403 || e.status == 400, bad);
    }
    assertEquals(400, assertThrows(ApiException.class, () -> g.host(List.of())).status);
    assertEquals(400, assertThrows(ApiException.class, () -> g.host(List.of("a", "b"))).status);
    // A bound hostname is one of the API's names; a wildcard is not a name.
    new RequestGuard("gaprune-1.internal", List.of(), "t").host(List.of("gaprune-1.internal:8558"));
    g.sameOrigin(List.of(), List.of(), "http", "127.0.0.1:8558");
    g.sameOrigin(List.of("http://127.0.0.1:8558"), List.of("same-origin"), "http", "127.0.0.1:8558");
    g.sameOrigin(List.of("https://gaprune.example.org"), List.of(), "https", "gaprune.example.org:443");
    g.sameOrigin(List.of(), List.of("none"), "http", "127.0.0.1:8558");
    for (String origin : List.of("http://evil.example", "null", "http://127.0.0.1:8559", "https://127.0.0.1:8558")) {
      assertEquals(403, assertThrows(ApiException.class,
          () -> g.sameOrigin(List.of(origin), List.of(), "http", "127.0.0.1:8558")).status, origin);
    }
    for (String site : List.of("cross-site", "same-site")) {
      assertEquals(403, assertThrows(ApiException.class,
          () -> g.sameOrigin(List.of(), List.of(site), "http", "127.0.0.1:8558")).status, site);
    }
    g.authorize(List.of("Bearer tok"));
    g.authorize(List.of("bearer   tok"));
    for (String bad : List.of("Bearer tok2", "Bearer tok x", "Basic dG9r", "tok", "Bearer", "Bearer \"tok\"")) {
      assertEquals(401, assertThrows(ApiException.class, () -> g.authorize(List.of(bad))).status, bad);
    }
    assertEquals(401, assertThrows(ApiException.class, () -> g.authorize(List.of())).status);
    assertEquals(401, assertThrows(ApiException.class, () -> g.authorize(List.of("Bearer tok", "Bearer tok"))).status);
  }

  @Test
  void aGeneratedTokenIsTheOwnersOnlyAndSurvivesRestarts() throws Exception {
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("gaprune-token");
    java.nio.file.Path work = dir.resolve("work");
    String t = OperatorToken.ensure(work);
    assertTrue(OperatorToken.wellFormed(t) && t.length() >= 43, t);
    java.nio.file.Path f = OperatorToken.file(work);
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
        java.nio.file.Files.getPosixFilePermissions(f)));
    assertEquals(t, OperatorToken.ensure(work), "read back, not generated again");
    assertTrue(!t.equals(OperatorToken.ensure(dir.resolve("other"))), "each work dir its own");
    java.nio.file.Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    var e = assertThrows(IllegalStateException.class, () -> OperatorToken.ensure(work));
    assertTrue(e.getMessage().contains("chmod 600"), e.getMessage());
    // A configured token must fit the header it travels in.
    assertThrows(IllegalArgumentException.class, () -> HttpSettings.from(CONFIG, Map.of(OperatorAccess.TOKEN_ENV, "a b")));
    HttpSettings.from(CONFIG, Map.of(OperatorAccess.TOKEN_ENV, "abc-._~+/=="));
  }
}
