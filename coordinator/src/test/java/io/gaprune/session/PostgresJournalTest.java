package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionEvent;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL as the coordinator's journal (gaprune.persistence.backend = postgres, gaprune-postgres.conf):
 * a private server started by the test, a coordinator process killed (kill -9) mid-session and started again
 * through the CLI. It recovers the session from PostgreSQL, finishes it with the same bits as an undisturbed
 * run, and the journal in PostgreSQL records every unit exactly once, as protobuf. Skipped, saying how to
 * install the server, where PostgreSQL's binaries are absent.
 */
@Tag("postgres")
@Tag("slow")
class PostgresJournalTest {
  static final int GENERAL = 40;
  static final int DOMAIN = 40;
  // Slow enough batches that the kill lands mid-session (20 units of 0.4 s on one worker).
  static final String EXTRA = "gaprune.test.batch-millis = 400";

  @Test
  void coordinatorRecoversItsSessionFromPostgres() throws Exception {
    Path bin = LocalPostgres.findBinaries();
    Assumptions.assumeTrue(bin != null, "PostgreSQL server binaries (initdb, pg_ctl) not found: "
        + LocalPostgres.INSTALL_HINT);
    Path dir = ClusterTestSupport.testDir("postgres-journal");
    LocalPostgres pg;
    try {
      pg = LocalPostgres.start(bin, ClusterTestSupport.freePort());
    } catch (LocalPostgres.Unavailable e) {
      Assumptions.abort(e.getMessage());
      return;
    }
    try (pg) {
      String password = TestPki.password();
      pg.createDatabase("gaprune", "gaprune", password);
      run(dir, pg, password);
    }
  }

  private void run(Path dir, LocalPostgres pg, String password) throws Exception {
    int port = ClusterTestSupport.freePort();
    int httpPort = ClusterTestSupport.freePort();
    String seed = "pekko://gaprune@127.0.0.1:" + port;
    Path general = ClusterTestSupport.triplets(dir, "general.json", GENERAL);
    Path domain = ClusterTestSupport.triplets(dir, "domain.json", DOMAIN);
    // The password is not in the file: the coordinator reads GAPRUNE_PG_PASSWORD from its environment.
    Path coordConf = ClusterTestSupport.write(dir, "coordinator.conf", ClusterTestSupport.settings(
        dir.resolve("coordinator-work"), port, seed, EXTRA + """

            gaprune.http.port = %d
            gaprune.persistence { backend = postgres, postgres { url = "%s", user = gaprune } }
            """.formatted(httpPort, pg.jdbcUrl("gaprune"))));
    Path workerConf = ClusterTestSupport.write(dir, "worker.conf", ClusterTestSupport.settings(
        dir.resolve("worker-work"), 0, seed, EXTRA));
    Map<String, String> env = Map.of("GAPRUNE_PG_PASSWORD", password);
    List<Process> procs = new ArrayList<>();
    HttpClient http = HttpClient.newHttpClient();
    String url = "http://127.0.0.1:" + httpPort;
    SessionConfig session = ClusterTestSupport.session(general, domain, "pg");
    try {
      Process coordinator = ClusterTestSupport.startNode(dir.resolve("coordinator-1.log"), env,
          "coordinator", "--config", coordConf.toString());
      procs.add(coordinator);
      TestCluster.waitForLog(dir.resolve("coordinator-1.log"), " ready; API on port", Duration.ofSeconds(90));
      String token = OperatorCalls.token(dir.resolve("coordinator-work"), Duration.ofSeconds(10));
      procs.add(EmbeddedSession.startWorkerProcess(workerConf, "cpu", dir.resolve("worker.log")));
      CoordinatorCrashTest.awaitJson(http, url + "/api/v1/workers", token, s -> s.getAsJsonArray("workers").size() == 1, Duration.ofSeconds(90));
      var start = OperatorCalls.post(http, url + "/api/v1/sessions", ClusterTestSupport.sessionJson(general, domain, "pg",
          session.getPartitionBudgetBytes()), token);
      assertEquals(201, start.statusCode(), start.body());

      CoordinatorCrashTest.awaitJson(http, url + "/api/v1/sessions/pg", token, s -> s.get("units_done").getAsInt() >= 5, Duration.ofSeconds(90));
      coordinator.destroyForcibly();
      assertTrue(coordinator.waitFor(10, TimeUnit.SECONDS));
      String log1 = Files.readString(dir.resolve("coordinator-1.log"));
      assertTrue(log1.contains("journal postgres"), TestCluster.tail(log1));

      // Same work dir (the accumulators live there), same database: the journal is the only record of the
      // session's progress, and it is in PostgreSQL.
      Process restarted = ClusterTestSupport.startNode(dir.resolve("coordinator-2.log"), env,
          "coordinator", "--config", coordConf.toString());
      procs.add(restarted);
      TestCluster.waitForLog(dir.resolve("coordinator-2.log"), "session coordinator up: RUNNING (session pg, 20 units",
          Duration.ofSeconds(90));
      JsonObject done = CoordinatorCrashTest.awaitJson(http, url + "/api/v1/sessions/pg", token, s -> s.get("state").getAsString().equals("DONE"),
          Duration.ofSeconds(180));
      String log2 = Files.readString(dir.resolve("coordinator-2.log"));
      assertFalse(log2.contains("session coordinator up: RUNNING (session pg, 20 units: 0 done"),
          "the restarted coordinator should resume, not restart:\n" + TestCluster.tail(log2));
      try (var files = Files.walk(dir.resolve("coordinator-work"))) {
        assertEquals(List.of(), files.filter(f -> f.getFileName().toString().endsWith(".mv.db")).toList(),
            "an H2 journal was written although the backend is postgres");
      }

      // Exactly once in the accumulators, and the same statistics and masks as one undisturbed run (H2).
      var result = TestCluster.result(ClusterTestSupport.load(coordConf), session, GENERAL, DOMAIN, done);
      Path refConf = ClusterTestSupport.write(dir, "reference.conf", ClusterTestSupport.settings(
          dir.resolve("reference-work"), 0, null, "gaprune.http.enabled = off"));
      var reference = EmbeddedSession.run(session, ClusterTestSupport.load(refConf), 1, Duration.ofSeconds(120));
      TestCluster.assertSameResult(reference, result);

      try (Connection c = pg.connect("gaprune", "gaprune", password)) {
        checkJournal(c, done);
      }
    } finally {
      procs.forEach(Process::destroyForcibly);
      for (Process p : procs) {
        p.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Reads the coordinator's events straight from PostgreSQL: all protobuf (serializer 2, one stable
   * manifest), one SessionStarted, every unit completed exactly once and folded exactly once, one plan.
   */
  private static void checkJournal(Connection c, JsonObject done) throws Exception {
    List<SessionEvent> events = new ArrayList<>();
    try (var q = c.prepareStatement("SELECT sequence_number, event_ser_id, event_ser_manifest, event_payload "
        + "FROM event_journal WHERE persistence_id = ? ORDER BY sequence_number")) {
      q.setString(1, SessionCoordinator.PERSISTENCE_ID.id());
      try (ResultSet r = q.executeQuery()) {
        long expected = 1;
        while (r.next()) {
          assertEquals(expected++, r.getLong(1), "gap in the journal's sequence numbers");
          assertEquals(2, r.getInt(2), "event not written by ProtobufSerializer");
          assertEquals(SessionEvent.class.getName(), r.getString(3));
          events.add(SessionEvent.parseFrom(r.getBytes(4)));
        }
      }
    }
    int total = done.get("units_total").getAsInt();
    List<String> completed = new ArrayList<>();
    List<String> folded = new ArrayList<>();
    int started = 0;
    int plans = 0;
    for (SessionEvent e : events) {
      switch (e.getEventCase()) {
        case STARTED -> started++;
        case UNIT_COMPLETED -> completed.add(e.getUnitCompleted().getUnitId());
        case UNITS_FOLDED -> folded.addAll(e.getUnitsFolded().getUnitIdsList());
        case PLAN_COMMITTED -> {
          plans++;
          assertEquals(done.getAsJsonObject("plan").get("masks_sha256").getAsString(),
              e.getPlanCommitted().getPlan().getMasksSha256());
        }
        default -> { }
      }
    }
    assertEquals(1, started, "SessionStarted events");
    assertEquals(1, plans, "PlanCommitted events");
    assertEquals(total, completed.size(), "UnitCompleted events: " + completed);
    assertEquals(total, new TreeSet<>(completed).size(), "a unit completed twice: " + completed);
    assertEquals(total, folded.size(), "units folded: " + folded);
    assertEquals(new TreeSet<>(completed), new TreeSet<>(folded));
  }
}
