package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionStatus;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Does a session get faster as workers are added? The cluster machinery measured alone: a synthetic runtime
 * whose batches take a fixed time (as an accelerator's would; {@code gaprune.test.batch-millis}) over tensors of
 * MiniLM's MLP size (7.1 M weights, 57 MB of float32 Fisher shards per unit), so that the coordinator, the
 * leases, the shard streams, the merger groups' staging and folds are what can stop the speed-up, not this
 * machine's two cores. Workers are child JVMs, registered before the clock starts; the clock runs from the
 * session's start to DONE (statistics only). By default every worker's node carries the merger role too, so the
 * merger groups (8) spread over as many processes as there are workers, plus the coordinator's. Prints, per
 * worker count and compute-ahead setting ({@code gaprune.worker.compute-ahead}: off and on, measured in turn
 * within each round), the median seconds, the speed-up against the first count, the share of the ideal (one
 * worker's compute ÷ workers) and the bytes through the busiest merger process, then on ÷ off. Run alone:
 * {@code mvn -B -ntp -Pbench -pl coordinator -am verify -Dtest=WorkerScaleBenchmark -Dsurefire.failIfNoSpecifiedTests=false}
 * ({@code -Dgaprune.bench.workers=1,2,4 -Dgaprune.bench.rounds=3 -Dgaprune.bench.batch-millis=500
 * -Dgaprune.bench.merger-workers=off -Dgaprune.bench.merger-groups=4 -Dgaprune.bench.compute-ahead=on} to change it).
 */
@Tag("bench")
class WorkerScaleBenchmark {

  static String tensors() {
    var names = new ArrayList<String>();
    for (int layer = 0; layer < 6; layer++) {
      names.add("\"encoder.layer." + layer + ".intermediate.dense.weight:1536x384\"");
      names.add("\"encoder.layer." + layer + ".output.dense.weight:384x1536\"");
    }
    return "gaprune.test.tensors = [" + String.join(", ", names) + "]";
  }

  @Test
  void sessionsGetFasterAsWorkersAreAdded() throws Exception {
    int[] counts = Arrays.stream(System.getProperty("gaprune.bench.workers", "1,2,4,8").split(","))
        .mapToInt(s -> Integer.parseInt(s.trim())).toArray();
    int rounds = Integer.getInteger("gaprune.bench.rounds", 2);
    long batchMillis = Long.getLong("gaprune.bench.batch-millis", 400);
    boolean mergerWorkers = System.getProperty("gaprune.bench.merger-workers", "on").equals("on");
    int groups = Integer.getInteger("gaprune.bench.merger-groups", 8);
    String[] modes = System.getProperty("gaprune.bench.compute-ahead", "off,on").split(",");
    int units = 16;
    String extra = tensors() + "\ngaprune.test.batch-millis = " + batchMillis + "\ngaprune.test.cheap-values = on"
        + "\ngaprune.session.merger-groups = " + groups;
    var medians = new double[modes.length][counts.length];
    var busiest = new long[modes.length][counts.length];
    var lines = new ArrayList<String>();
    for (int c = 0; c < counts.length; c++) {
      var seconds = new double[modes.length][rounds];
      for (int r = 0; r < rounds; r++) {
        for (int m = 0; m < modes.length; m++) {
          String mode = modes[m].trim();
          Measured run = session(counts[c], mode, "scale-" + counts[c] + "-" + r + "-" + mode, units, extra,
              mergerWorkers);
          SessionStatus done = run.status();
          seconds[m][r] = run.seconds();
          lines.add(String.format(Locale.ROOT,
              "  workers %d round %d compute-ahead %s: %.1f s, %d MB of shards, busiest merger node %d MB",
              counts[c], r + 1, mode, seconds[m][r], done.getSession().getShardBytes() >> 20,
              done.getSession().getShardBytesMaxNode() >> 20));
          busiest[m][c] = Math.max(busiest[m][c], done.getSession().getShardBytesMaxNode());
          System.out.println(lines.get(lines.size() - 1)); // as it comes: a later session's failure keeps it
        }
      }
      for (int m = 0; m < modes.length; m++) {
        Arrays.sort(seconds[m]);
        medians[m][c] = rounds % 2 == 1 ? seconds[m][rounds / 2]
            : (seconds[m][rounds / 2 - 1] + seconds[m][rounds / 2]) / 2;
      }
    }
    double compute = units * 2 * batchMillis / 1000.0;
    var out = new StringBuilder(String.format(Locale.ROOT,
        "worker scale: %d units of 2 batches at %d ms each (compute %.1f s for one worker), merger groups %d%s%n",
        units, batchMillis, compute, groups, mergerWorkers ? " (workers carry the merger role)" : ""));
    lines.forEach(l -> out.append(l).append('\n'));
    out.append("| compute-ahead | workers | median s | speed-up vs " + counts[0]
        + " | efficiency | of ideal | busiest merger process MB |\n|---|---|---|---|---|---|---|\n");
    for (int m = 0; m < modes.length; m++) {
      for (int c = 0; c < counts.length; c++) {
        double speedup = medians[m][0] / medians[m][c];
        out.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.2f | %.0f%% | %.2f | %d |%n", modes[m].trim(),
            counts[c], medians[m][c], speedup, 100 * speedup * counts[0] / counts[c], compute / counts[c] / medians[m][c],
            busiest[m][c] >> 20));
      }
    }
    if (modes.length == 2) {
      out.append("session time " + modes[1].trim() + " ÷ " + modes[0].trim() + ":");
      for (int c = 0; c < counts.length; c++) {
        out.append(String.format(Locale.ROOT, " %d workers %.2f;", counts[c], medians[1][c] / medians[0][c]));
      }
      out.append('\n');
    }
    System.out.print(out);
    System.err.print(out);
  }

  /** A session's seconds from its start to DONE, and its status then. */
  private record Measured(double seconds, SessionStatus status) {}

  /**
   * One statistics-only session on a fresh cluster of {@code workers} child JVMs, registered before the clock
   * starts.
   */
  private static Measured session(int workers, String computeAhead, String name, int units, String extra,
      boolean mergerWorkers) throws Exception {
    Path dir = ClusterTestSupport.testDir(name);
    Path general = ClusterTestSupport.triplets(dir, "general.json", units * 2 * 4);
    Path domain = ClusterTestSupport.triplets(dir, "domain.json", units * 2 * 4);
    // 2 batches of 4 + 4 triplets per unit: 16 units, one partition
    SessionConfig session = ClusterTestSupport.session(general, domain, "scale").toBuilder()
        .setBatchesPerUnit(2).setPartitionBudgetBytes(1L << 33).setStatisticsOnly(true).build();
    try (TestCluster cluster = new TestCluster(dir, extra)) {
      cluster.startCoordinator();
      for (int w = 0; w < workers; w++) {
        cluster.startWorker("w" + w, (mergerWorkers ? "gaprune.worker.merger = on\n" : "")
            + "gaprune.worker.compute-ahead = " + computeAhead);
      }
      cluster.awaitStatus(s -> s.getWorkersCount() == workers, Duration.ofSeconds(180));
      Thread.sleep(3000); // the workers' shard regions register once their nodes are Up
      long t0 = System.nanoTime();
      cluster.start(session);
      SessionStatus done = cluster.awaitStatus(s -> !s.getState().equals("RUNNING")
          && !s.getState().equals("PLANNING"), Duration.ofSeconds(900));
      double seconds = (System.nanoTime() - t0) / 1e9;
      assertEquals("DONE", done.getState(), done.getMessage());
      assertEquals(units, done.getUnitsTotal());
      return new Measured(seconds, done);
    }
  }
}
