package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.SessionConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * SIGTERM to a worker in the middle of a unit: the process stops its compute at the next batch boundary (here
 * the synthetic batch's sleep is interrupted) and only then exits, instead of tearing native resources down
 * under a running forward or backward pass; no JVM crash file is left anywhere.
 */
@Tag("slow")
class WorkerStopTest {

  @Test
  @Timeout(value = 3, unit = TimeUnit.MINUTES)
  void sigtermStopsComputeBeforeTheProcessExits() throws Exception {
    Path dir = ClusterTestSupport.testDir("worker-stop");
    Path general = ClusterTestSupport.triplets(dir, "general.json", 16);
    Path domain = ClusterTestSupport.triplets(dir, "domain.json", 16);
    // one unit of 4 batches of 3 s: 12 s of compute that SIGTERM must cut short
    SessionConfig session = ClusterTestSupport.session(general, domain, "stop").toBuilder()
        .setBatchesPerUnit(4).setPartitionBudgetBytes(1L << 30).build();
    try (TestCluster cluster = new TestCluster(dir, TestCluster.TENSORS + "\ngaprune.test.batch-millis = 3000")) {
      cluster.startCoordinator();
      Process worker = cluster.startWorker("w1", "");
      cluster.awaitStatus(s -> s.getWorkersCount() == 1, Duration.ofSeconds(90));
      cluster.start(session);
      cluster.awaitStatus(s -> s.getUnitsLeased() == 1, Duration.ofSeconds(60));
      Thread.sleep(1500); // inside the first batch
      long t0 = System.nanoTime();
      worker.destroy(); // SIGTERM
      assertTrue(worker.waitFor(40, TimeUnit.SECONDS), "the worker did not exit after SIGTERM");
      double seconds = (System.nanoTime() - t0) / 1e9;
      String log = Files.readString(cluster.log("w1"));
      assertTrue(log.contains("compute stopped; exiting"), "no sign the exit waited for the compute:\n"
          + TestCluster.tail(log));
      // a stop is not the unit's failure (three failures of a unit fail the session)
      assertTrue(log.contains("unit p000-b000000 stopped: the worker is stopping")
          && !log.contains("unit p000-b000000 failed"), TestCluster.tail(log));
      // the unit had about 10 s of compute left: the exit came from the interrupt at the batch boundary
      assertTrue(seconds < 9, "the worker took " + seconds + " s to exit");
      try (Stream<Path> files = Stream.concat(Files.walk(dir), Files.list(Path.of("").toAbsolutePath()))) {
        var crashes = files.filter(f -> f.getFileName().toString().startsWith("hs_err_pid")).toList();
        assertTrue(crashes.isEmpty(), "JVM crash files: " + crashes);
      }
    }
  }
}
