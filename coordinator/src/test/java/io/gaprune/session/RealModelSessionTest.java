package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.stats.TensorStats;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The real runtime (all-MiniLM-L6-v2 on DJL/PyTorch, real chemistry and general triplets): a session in the
 * embedded mode with one worker, and again with a second worker in a child process. Two batches of 8
 * triplets, the MLP weights of all six layers in three partitions: the statistics must be the same bits and
 * the masks the same bytes.
 */
@Tag("slow")
class RealModelSessionTest {
  static final Path DATA = Path.of(System.getProperty("gaprune.shared.data", "/work/shared/data"));

  @Test
  void miniLmStatisticsAndMasksDoNotDependOnTheWorkerCount() throws Exception {
    Path dir = ClusterTestSupport.testDir("real-model");
    String settings = ClusterTestSupport.settings(dir.resolve("work-1"), 0, null, "")
        .replace("io.gaprune.worker.testing.SyntheticRuntime", "io.gaprune.worker.ModelUnitComputer")
        + "\ngaprune.model = minilm\ngaprune.http.enabled = off\ngaprune.coordinator.lease-timeout = 60s\n";
    SessionConfig session = SessionConfig.newBuilder().setSessionId("minilm").setModel("minilm")
        .setGeneralPath(DATA.resolve("general/train.json").toString())
        .setDomainPath(DATA.resolve("chem/train.json").toString())
        .setGeneralLimit(16).setDomainLimit(16).setSeed(7).setBatchSize(8).setBatchesPerUnit(1)
        // the paper's DAI reads the gradient alignment: all four statistics travel. A layer's MLP sums take
        // 1.18 M weights × 36 bytes = 42 MB on the worker, so 90 MB holds two layers: 3 partitions.
        .setScoring("dai").setPartitionBudgetBytes(90L << 20).setCandidates("mlp").setSparsity(0.5)
        .setMaxSeqLen(64).setAlpha(0.2).setBeta(1.0).setGamma(0.5).setBudget("global").build();

    var one = EmbeddedSession.run(session, ClusterTestSupport.load(
        ClusterTestSupport.write(dir, "one.conf", settings + "gaprune.session.max-seq-len = 64")), 1, Duration.ofMinutes(5));
    assertEquals(6, one.status().getUnitsTotal(), "3 partitions × 2 batches");
    assertEquals(3, one.status().getPartitionsCount());
    assertEquals(12, one.statistics().tensors().size());
    assertEquals(StatisticSet.FISHER_AND_GRADIENTS, one.status().getSession().getStatistics());
    assertTrue(one.statistics().tensors().values().stream().allMatch(TensorStats::hasGradientSums));
    assertEquals(3, one.status().getSession().getPasses(), "one pass per partition");
    // every batch once per MLP weight (12 × 384 × 1536), 4 statistics of 4 bytes (float32) each
    assertEquals(2L * 12 * 384 * 1536 * 4 * Float.BYTES, one.status().getSession().getShardBytes());
    assertEquals(2, one.statistics().batches());
    assertEquals(16, one.statistics().domainSamples());
    assertEquals(12L * 384 * 1536 / 2, one.plan().getPrunedWeights());
    double meanLoss = one.statistics().domainLossSum() / one.statistics().domainSamples();
    assertTrue(meanLoss > 0 && meanLoss < Math.log(16), "mean domain loss " + meanLoss);

    var two = EmbeddedSession.run(session, ClusterTestSupport.load(ClusterTestSupport.write(dir, "two.conf",
        settings.replace("work-1", "work-2") + "gaprune.session.max-seq-len = 64")), 2, Duration.ofMinutes(5));
    TestCluster.assertSameResult(one, two);
  }
}
