package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.TensorGroup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Merger groups spread over two nodes of role {@code merger}: the coordinator's node (in this JVM) and a worker
 * process that carries the role ({@code gaprune.worker.merger = on}). Each node receives only its groups' shard
 * bytes, straight from the worker, and the statistics are the same bits as a one-process run; a merger node
 * killed mid-session has its groups reopened on the remaining merger node and the units they held recomputed
 * (lineage), none folded twice. A session that plans with groups on both nodes plans by histograms (each owner
 * scores its own groups) and writes the masks a one-process plan writes; one whose scoring updates the kept
 * weights (the adaptive DAI) has each owner run the layer-wise step on its groups and writes the masks and
 * weights a one-process plan writes.
 */
@Tag("slow")
class MergerNodesTest {
  /** Four MLP tensors of one size: four merger groups of equal bytes (one layer partition). */
  static final String TENSORS = "gaprune.test.tensors = [\"encoder.layer.0.intermediate.dense.weight:384x384\", "
      + "\"encoder.layer.0.output.dense.weight:384x384\", \"encoder.layer.1.intermediate.dense.weight:384x384\", "
      + "\"encoder.layer.1.output.dense.weight:384x384\"]\ngaprune.session.merger-groups = 4";

  static SessionConfig session(Path dir, String id, int triplets) throws Exception {
    Path general = ClusterTestSupport.triplets(dir, "general.json", triplets);
    Path domain = ClusterTestSupport.triplets(dir, "domain.json", triplets);
    return ClusterTestSupport.session(general, domain, id).toBuilder().setPartitionBudgetBytes(1L << 30).build();
  }

  /** The groups that have a directory under a node's work dir (the node owned them at some point). */
  static Set<Integer> groupsOn(Path workDir, String sessionId, Iterable<TensorGroup> groups) {
    Set<Integer> out = new HashSet<>();
    for (TensorGroup g : groups) {
      if (Files.exists(TensorGroups.dir(workDir, sessionId, g))) {
        out.add(g.getIndex());
      }
    }
    return out;
  }

  @Test
  @Timeout(value = 8, unit = TimeUnit.MINUTES)
  void twoMergerNodesEachReceiveTheirShare() throws Exception {
    Path dir = ClusterTestSupport.testDir("merger-nodes");
    SessionConfig session = session(dir, "spread", 24).toBuilder().setStatisticsOnly(true).build();
    try (TestCluster cluster = new TestCluster(dir, TENSORS)) {
      cluster.startCoordinator();
      cluster.startWorker("w1", "gaprune.worker.merger = on");
      cluster.awaitStatus(s -> s.getWorkersCount() == 1, Duration.ofSeconds(90));
      // the worker's node registers its shard region once it is Up: give it a moment before shards are allocated
      Thread.sleep(3000);
      cluster.start(session);
      SessionStatus done = cluster.awaitStatus(s -> !s.getState().equals("RUNNING") && !s.getState().equals("PLANNING"),
          Duration.ofSeconds(180));
      assertEquals("DONE", done.getState(), done.getMessage());
      assertEquals(4, done.getGroupsCount());

      Path coordinatorWork = cluster.coordinator.workDir();
      Path workerWork = dir.resolve("w1-work");
      Set<Integer> onCoordinator = groupsOn(coordinatorWork, "spread", done.getGroupsList());
      Set<Integer> onWorker = groupsOn(workerWork, "spread", done.getGroupsList());
      assertTrue(!onCoordinator.isEmpty() && !onWorker.isEmpty(), "groups on the coordinator's node " + onCoordinator
          + ", on the worker's " + onWorker);
      // the bytes: every unit once in total, and no node received all of them
      var counters = done.getSession();
      long unitBytes = 4L * 384 * 384 * 2 * Float.BYTES;
      assertEquals(done.getUnitsTotal() * unitBytes, counters.getShardBytes());
      assertTrue(counters.getShardBytesMaxNode() > 0 && counters.getShardBytesMaxNode() < counters.getShardBytes(),
          "busiest merger node " + counters.getShardBytesMaxNode() + " of " + counters.getShardBytes());
      assertEquals(Math.max(onCoordinator.size(), onWorker.size()) * done.getUnitsTotal() * unitBytes / 4,
          counters.getShardBytesMaxNode());

      // the statistics, read where each group's owner keeps them, equal a one-process run bit for bit
      var spread = new SessionAccumulators(coordinatorWork.resolve("sessions").resolve("spread"), "spread",
          done.getGroupsList(), io.gaprune.worker.ShardCodec.statistics(done.getSession().getStatistics()),
          g -> TensorGroups.dir(onCoordinator.contains(g.getIndex()) ? coordinatorWork : workerWork, "spread", g));
      var result = TestCluster.result(spread, done);

      // A session that plans, with groups on the worker's node: planning by histograms, each owner scoring its
      // own groups and streaming its masks; the masks file is the one a one-process plan writes, byte for byte.
      SessionConfig planning = session.toBuilder().setSessionId("spread-plan").setStatisticsOnly(false).build();
      cluster.start(planning);
      SessionStatus planned = cluster.awaitStatus(s -> s.getSessionId().equals("spread-plan")
          && !s.getState().equals("RUNNING") && !s.getState().equals("PLANNING"), Duration.ofSeconds(180));
      assertEquals("DONE", planned.getState(), planned.getMessage());
      assertTrue(!groupsOn(workerWork, "spread-plan", planned.getGroupsList()).isEmpty()
          && !groupsOn(coordinatorWork, "spread-plan", planned.getGroupsList()).isEmpty(),
          "the planning session's groups should be on both nodes");
      assertTrue(planned.getPlan().getPrunedWeights() > 0, planned.getPlan().toString());
      for (TensorGroup g : planned.getGroupsList()) {
        // an owner's masks file is gone once the planner has pulled it
        assertTrue(!Files.exists(TensorGroups.dir(workerWork, "spread-plan", g).resolve("plan-masks.u8")), g.toString());
      }
      Path refConf = ClusterTestSupport.write(dir, "reference.conf", ClusterTestSupport.settings(
          dir.resolve("reference-work"), 0, null, TENSORS + "\ngaprune.session.merger-groups = 1\n"
              + "gaprune.http.enabled = off"));
      var reference = EmbeddedSession.run(session, ClusterTestSupport.load(refConf), 1, Duration.ofSeconds(120));
      TestCluster.assertSameResult(reference, result);
      var referencePlan = EmbeddedSession.run(planning, ClusterTestSupport.load(refConf), 1, Duration.ofSeconds(120));
      assertEquals(referencePlan.plan().getMasksSha256(), planned.getPlan().getMasksSha256(),
          "masks planned by histograms over two nodes differ from a one-process plan");
      assertEquals(referencePlan.plan().getPrunedWeights(), planned.getPlan().getPrunedWeights());

      // A scoring that updates the kept weights: each owner runs the layer-wise step on its own groups (its Gram
      // matrices never leave its node) and streams its final masks and new weights; both files are a one-process
      // plan's, byte for byte, and no owner keeps a scratch file.
      SessionConfig adaptive = session.toBuilder().setSessionId("spread-adaptive").setStatisticsOnly(false)
          .setScoring("dai-calibrated:adaptive=1").build();
      cluster.start(adaptive);
      SessionStatus adapted = cluster.awaitStatus(s -> s.getSessionId().equals("spread-adaptive")
          && !s.getState().equals("RUNNING") && !s.getState().equals("PLANNING"), Duration.ofSeconds(180));
      assertEquals("DONE", adapted.getState(), adapted.getMessage());
      assertTrue(!groupsOn(workerWork, "spread-adaptive", adapted.getGroupsList()).isEmpty(),
          "the adaptive session's groups should be on both nodes");
      for (TensorGroup g : adapted.getGroupsList()) {
        for (String scratch : new String[] {"plan-masks.u8", "plan-weights.f32"}) {
          assertTrue(!Files.exists(TensorGroups.dir(workerWork, "spread-adaptive", g).resolve(scratch)), scratch);
        }
      }
      var referenceAdaptive = EmbeddedSession.run(adaptive, ClusterTestSupport.load(refConf), 1,
          Duration.ofSeconds(120));
      assertEquals(referenceAdaptive.plan().getMasksSha256(), adapted.getPlan().getMasksSha256(),
          "masks of the layer-wise step over two nodes differ from a one-process plan");
      assertEquals(referenceAdaptive.plan().getWeightsSha256(), adapted.getPlan().getWeightsSha256(),
          "weights of the layer-wise step over two nodes differ from a one-process plan");
      assertEquals(referenceAdaptive.plan().getPrunedWeights(), adapted.getPlan().getPrunedWeights());
    }
  }

  @Test
  @Timeout(value = 8, unit = TimeUnit.MINUTES)
  void aLostMergerNodesGroupsAreRecomputed() throws Exception {
    Path dir = ClusterTestSupport.testDir("merger-node-lost");
    String extra = TENSORS + "\ngaprune.test.batch-millis = 400";
    SessionConfig session = session(dir, "lost", 64);
    try (TestCluster cluster = new TestCluster(dir, extra)) {
      cluster.startCoordinator();
      Process merging = cluster.startWorker("w1", "gaprune.worker.merger = on");
      cluster.startWorker("w2", "");
      cluster.awaitStatus(s -> s.getWorkersCount() == 2, Duration.ofSeconds(90));
      Thread.sleep(3000);
      cluster.start(session);
      cluster.awaitStatus(s -> s.getUnitsDone() >= 3, Duration.ofSeconds(120));
      SessionStatus before = cluster.status();
      assertEquals("RUNNING", before.getState(), "the session must still run when the merger node dies");
      Set<Integer> onWorker = groupsOn(dir.resolve("w1-work"), "lost", before.getGroupsList());
      assertTrue(!onWorker.isEmpty(), "the worker's node owns no merger group: nothing to lose");
      merging.destroyForcibly(); // kill -9: its groups' staged files and accumulators are gone with the node
      assertTrue(merging.waitFor(10, TimeUnit.SECONDS));

      SessionStatus done = cluster.awaitStatus(s -> !s.getState().equals("RUNNING") && !s.getState().equals("PLANNING"),
          Duration.ofSeconds(240));
      assertEquals("DONE", done.getState(), done.getMessage());
      // a reopened unit is counted done twice: more shard bytes than the units once each
      long unitBytes = 4L * 384 * 384 * 2 * Float.BYTES;
      assertTrue(done.getSession().getShardBytes() > done.getUnitsTotal() * unitBytes,
          "no unit was reopened after the merger node's loss: " + done.getSession());
      // every group now lives on the coordinator's node: the plan ran there, and the bits equal a one-process run
      var result = TestCluster.result(cluster.coordinator.workDir(), done);
      Path refConf = ClusterTestSupport.write(dir, "reference.conf", ClusterTestSupport.settings(
          dir.resolve("reference-work"), 0, null, TENSORS + "\ngaprune.http.enabled = off"));
      var reference = EmbeddedSession.run(session, ClusterTestSupport.load(refConf), 1, Duration.ofSeconds(120));
      TestCluster.assertSameResult(reference, result);
    }
  }
}
