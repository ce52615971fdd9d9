package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.WorkerInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * One coordinator, worker processes on 127.0.0.1, the same session four times: with 1 worker, with 3, with 3
 * of which one is killed (kill -9) mid-unit, and with the live workers drained and another added mid-session. The
 * statistics must be the same bits and the masks the same bytes every time. Each unit carries a full
 * MiniLM MLP tensor (1536 × 384 float64, 4.7 MB per statistic), far above Artery's 256 KiB frame. The workers
 * compute ahead (the default, {@code auto}) except w2, so both ways of leasing fold the same units in the same
 * order.
 */
@Tag("slow")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SessionEquivalenceTest {
  static final String EXTRA = TestCluster.TENSORS + "\ngaprune.test.batch-millis = 300";

  Path dir;
  TestCluster cluster;
  SessionConfig base;
  EmbeddedSession.SessionResult reference;

  @BeforeAll
  void start() throws Exception {
    dir = ClusterTestSupport.testDir("equivalence");
    cluster = new TestCluster(dir, EXTRA);
    cluster.startCoordinator();
    Path general = ClusterTestSupport.triplets(dir, "general.json", 43);
    Path domain = ClusterTestSupport.triplets(dir, "domain.json", 41);
    // 10 batches of 4, one batch per unit. The default scoring reads the Fisher only: 2 × 8 + 4 = 20 bytes per
    // weight on the worker, so the big tensor (589,824 weights, 11,796,480 bytes) fills the 11.8 MB budget of
    // partition 0 and the small ones go to partition 1 → 20 units, 2 passes over the data
    base = ClusterTestSupport.session(general, domain, "x").toBuilder().setPartitionBudgetBytes(11_800_000).build();
  }

  @AfterAll
  void stop() {
    cluster.close();
  }

  @Test
  @Order(1)
  void oneWorker() throws Exception {
    cluster.startWorker("w1", "");
    cluster.start(base.toBuilder().setSessionId("one").build());
    reference = cluster.awaitResult("one", Duration.ofSeconds(120));
    assertEquals(20, reference.status().getUnitsTotal());
    assertEquals(2, reference.status().getPartitionsCount());
    assertEquals(2, reference.status().getSession().getPasses());
    assertEquals(10, reference.statistics().batches());
    assertEquals(1536 * 384 + 2 * 48 * 16, reference.plan().getCandidateWeights());
    // alone, w1 leased its next unit while the previous one's shards were pulled (or the default did nothing)
    String log = Files.readString(cluster.log("w1"));
    assertTrue(log.contains("computing ahead on"), TestCluster.tail(log));
    assertTrue(log.contains("computing ahead of unit"), TestCluster.tail(log));
  }

  @Test
  @Order(2)
  void threeWorkersGiveTheSameBits() throws Exception {
    cluster.startWorker("w2", "gaprune.worker.compute-ahead = off");
    cluster.startWorker("w3", "");
    cluster.awaitStatus(s -> s.getWorkersCount() == 3, Duration.ofSeconds(60));
    cluster.start(base.toBuilder().setSessionId("three").build());
    TestCluster.assertSameResult(reference, cluster.awaitResult("three", Duration.ofSeconds(120)));
    String offLog = Files.readString(cluster.log("w2"));
    assertTrue(offLog.contains("leased unit") && !offLog.contains("computing ahead"), TestCluster.tail(offLog));
  }

  @Test
  @Order(3)
  void threeWorkersOneKilledMidUnit() throws Exception {
    cluster.start(base.toBuilder().setSessionId("kill").build());
    // Wait until a worker holds a unit and has reported progress, then kill -9 its process.
    var s = cluster.awaitStatus(st -> st.getUnitsDone() >= 2 && st.getWorkersList().stream()
        .anyMatch(w -> !w.getUnitId().isEmpty()), Duration.ofSeconds(60));
    WorkerInfo victim = s.getWorkersList().stream().filter(w -> !w.getUnitId().isEmpty()).findFirst().orElseThrow();
    Process p = cluster.processes.stream().filter(pr -> pr.pid() == victim.getPid()).findFirst().orElseThrow();
    p.destroyForcibly();
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    var result = cluster.awaitResult("kill", Duration.ofSeconds(120));
    TestCluster.assertSameResult(reference, result);
  }

  @Test
  @Order(4)
  void workersDrainedAndOneAddedMidSession() throws Exception {
    cluster.start(base.toBuilder().setSessionId("scale").build());
    cluster.awaitStatus(st -> st.getUnitsDone() >= 1, Duration.ofSeconds(60));
    // Drain every live worker, then add one: the units the drained ones leave (they finish what they hold, at
    // most a unit and one leased ahead each) can only be computed by the added worker, however slowly it starts
    // on a loaded machine. (With one worker left running, a fast machine's running worker could finish every
    // unit before the new JVM joins, and the test would prove nothing about it.)
    var s = cluster.status();
    var drained = cluster.processes.stream()
        .filter(pr -> pr.isAlive() && s.getWorkersList().stream().anyMatch(w -> w.getPid() == pr.pid()))
        .toList();
    assertFalse(drained.isEmpty(), "no live worker to drain: " + s.getWorkersList());
    for (var pr : drained) {
      WorkerInfo info = s.getWorkersList().stream().filter(w -> w.getPid() == pr.pid()).findFirst().orElseThrow();
      assertTrue(cluster.drain(info.getWorkerRef()).getOk());
    }
    Process added = cluster.startWorker("w4", "");
    var result = cluster.awaitResult("scale", Duration.ofSeconds(120));
    assertTrue(added.isAlive());
    TestCluster.assertSameResult(reference, result);
    for (var pr : drained) {
      assertTrue(pr.waitFor(30, TimeUnit.SECONDS), "drained worker " + pr.pid() + " did not leave");
      assertEquals(0, pr.exitValue());
    }
    String addedLog = Files.readString(cluster.log("w4"));
    assertTrue(addedLog.contains("leased unit"), "the worker added mid-session took no unit:\n" + TestCluster.tail(addedLog));
  }
}
