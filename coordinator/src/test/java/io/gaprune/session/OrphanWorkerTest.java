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
 * A child worker of the embedded mode ends when its parent ends, however the parent ends: here the parent is
 * killed with {@code kill -9} while the worker waits for a coordinator that will never answer, and the worker
 * must not stay behind retrying forever.
 */
@Tag("slow")
class OrphanWorkerTest {

  @Test
  void aChildWorkerExitsWhenItsParentIsKilled() throws Exception {
    Path dir = ClusterTestSupport.testDir("orphan");
    int deadPort = ClusterTestSupport.freePort();
    Path conf = ClusterTestSupport.write(dir, "child.conf", ClusterTestSupport.settings(dir.resolve("child"), 0,
        "pekko://gaprune@127.0.0.1:" + deadPort, ""));
    Process parent = new ProcessBuilder("sleep", "600").start();
    Process child = EmbeddedSession.startWorkerProcess(conf, "cpu", dir.resolve("child.log"), parent.pid());
    try {
      TestCluster.waitForLog(dir.resolve("child.log"), "coordinator unreachable", Duration.ofSeconds(60));
      assertTrue(child.isAlive(), "the worker waits for a coordinator while its parent lives");
      parent.destroyForcibly();
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the worker outlived its parent by 30 s");
      assertEquals(4, child.exitValue());
      String log = Files.readString(dir.resolve("child.log"));
      assertTrue(log.contains("parent process " + parent.pid() + " ended; exiting"), TestCluster.tail(log));
    } finally {
      parent.destroyForcibly();
      child.destroyForcibly();
    }
  }
}
