package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Workers the coordinator must refuse (another build, another model) leave with a clear message and exit
 * code 3; a worker whose coordinator cannot be reached keeps retrying and says so in its log.
 */
@Tag("slow")
class WorkerAdmissionTest {

  @Test
  void wrongVersionsAreRefusedAndUnreachableCoordinatorIsRetried() throws Exception {
    Path dir = ClusterTestSupport.testDir("admission");
    // Nothing listens on this port: the worker cannot join and must say so, repeatedly.
    int deadPort = ClusterTestSupport.freePort();
    Path lonelyConf = ClusterTestSupport.write(dir, "lonely.conf", ClusterTestSupport.settings(dir.resolve("lonely"), 0,
        "pekko://gaprune@127.0.0.1:" + deadPort, ""));
    Process lonely = EmbeddedSession.startWorkerProcess(lonelyConf, "cpu", dir.resolve("lonely.log"));
    try (TestCluster cluster = new TestCluster(dir, "")) {
      cluster.startCoordinator();
      Process oldBuild = cluster.startWorker("old-build", "gaprune.code-version = \"0.0.1-old\"");
      Process otherModel = cluster.startWorker("other-model", "gaprune.test.model-hash = \"another-model\"");
      assertTrue(oldBuild.waitFor(60, TimeUnit.SECONDS), "refused worker did not exit");
      assertTrue(otherModel.waitFor(60, TimeUnit.SECONDS), "refused worker did not exit");
      assertEquals(3, oldBuild.exitValue());
      assertEquals(3, otherModel.exitValue());
      String oldLog = Files.readString(cluster.log("old-build"));
      assertTrue(oldLog.contains("refused by the coordinator: code version \"0.0.1-old\" differs from the coordinator's \"dev\""),
          TestCluster.tail(oldLog));
      String modelLog = Files.readString(cluster.log("other-model"));
      assertTrue(modelLog.contains("model hash another-model differs from the coordinator's synthetic-v1"),
          TestCluster.tail(modelLog));

      TestCluster.waitForLog(dir.resolve("lonely.log"), "coordinator unreachable (seed nodes [pekko://gaprune@127.0.0.1:"
          + deadPort + "]); retrying", Duration.ofSeconds(30));
      Thread.sleep(2500);
      String lonelyLog = Files.readString(dir.resolve("lonely.log"));
      long retries = lonelyLog.lines().filter(l -> l.contains("coordinator unreachable")).count();
      assertTrue(retries >= 2, "expected repeated retry lines:\n" + TestCluster.tail(lonelyLog));
      assertTrue(lonely.isAlive(), "a worker without coordinator must keep waiting, not exit");
    } finally {
      lonely.destroyForcibly();
    }
  }
}
