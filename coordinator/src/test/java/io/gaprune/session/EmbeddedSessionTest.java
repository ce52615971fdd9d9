package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedSessionTest {
  @TempDir Path tmp;

  @Test
  void oneLocalWorkerRunsASessionToMasks() throws Exception {
    Path general = ClusterTestSupport.triplets(tmp, "general.json", 24);
    Path domain = ClusterTestSupport.triplets(tmp, "domain.json", 20);
    Path conf = ClusterTestSupport.write(tmp, "node.conf", ClusterTestSupport.settings(tmp.resolve("work"), 0, null,
        "pekko.actor.serialize-messages = on"));
    var result = EmbeddedSession.run(ClusterTestSupport.session(general, domain, "emb1"),
        ClusterTestSupport.load(conf), 1, Duration.ofSeconds(90));
    assertEquals("DONE", result.status().getState());
    // 20 domain triplets / batch 4 = 5 batches; 2 partitions (one layer each) × 5 ranges = 10 units
    assertEquals(10, result.status().getUnitsDone());
    assertEquals(5, result.statistics().batches());
    long candidates = result.plan().getCandidateWeights();
    assertEquals(4 * 48 * 16, candidates);
    assertEquals(candidates / 2, result.plan().getPrunedWeights());
    assertTrue(result.masks().containsKey("encoder.layer.1.output.dense.weight"));
  }

  /**
   * The session's scoring entry reaches the coordinator's planner: dai-calibrated with q = 0 is magnitude by
   * definition, so the two sessions' masks are the same bytes; a bad entry is refused before any work.
   */
  @Test
  void theSessionsScoringEntryChoosesThePlannersMethod() throws Exception {
    Path general = ClusterTestSupport.triplets(tmp, "general.json", 16);
    Path domain = ClusterTestSupport.triplets(tmp, "domain.json", 16);
    java.util.Map<String, java.util.Map<String, byte[]>> masks = new java.util.HashMap<>();
    for (var scoring : java.util.List.of("magnitude", "dai-calibrated:q=0")) {
      String id = scoring.replaceAll("[^a-z0-9]", "-");
      Path conf = ClusterTestSupport.write(tmp, id + ".conf", ClusterTestSupport.settings(tmp.resolve(id), 0, null, ""));
      var result = EmbeddedSession.run(ClusterTestSupport.session(general, domain, id).toBuilder()
          .setScoring(scoring).build(), ClusterTestSupport.load(conf), 1, Duration.ofSeconds(90));
      assertEquals("DONE", result.status().getState());
      masks.put(scoring, result.masks());
    }
    var magnitude = masks.get("magnitude");
    var calibrated = masks.get("dai-calibrated:q=0");
    assertEquals(magnitude.keySet(), calibrated.keySet());
    magnitude.forEach((name, m) -> assertTrue(java.util.Arrays.equals(m, calibrated.get(name)), name));

    var bad = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> StreamingDaiPlanner.scoring(
        ClusterTestSupport.session(general, domain, "bad").toBuilder().setScoring("dai-calibrated:q=abc").build()));
    assertTrue(bad.getMessage().contains("not a number"), bad.getMessage());
  }
}
