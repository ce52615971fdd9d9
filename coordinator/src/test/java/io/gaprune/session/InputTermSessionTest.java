package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The calibrated DAI's input term in a cluster session: the session collects the input norms for it, the merger
 * groups' planner reads them (a plan without them fails, naming Σx²), and they change which weights go.
 */
class InputTermSessionTest {
  @TempDir Path tmp;

  @Test
  void aSessionWithTheInputTermCollectsTheNormsAndPlansWithThem() throws Exception {
    Path general = ClusterTestSupport.triplets(tmp, "general.json", 16);
    Path domain = ClusterTestSupport.triplets(tmp, "domain.json", 16);
    var plain = run(general, domain, "plain", "dai-calibrated");
    var withInput = run(general, domain, "input", "dai-calibrated:input=1");
    assertTrue(plain.statistics().tensors().values().stream().noneMatch(t -> t.inputs().hasSquares()));
    assertTrue(withInput.statistics().tensors().values().stream().allMatch(t -> t.inputs().hasSquares()
        && !t.inputs().hasGrams()), "Σx² of every candidate, no Gram matrices");
    assertEquals(plain.plan().getPrunedWeights(), withInput.plan().getPrunedWeights());
    long differ = 0;
    for (var e : plain.masks().entrySet()) {
      var other = withInput.masks().get(e.getKey());
      for (int i = 0; i < other.length; i++) {
        differ += e.getValue()[i] != other[i] ? 1 : 0;
      }
    }
    assertTrue(differ > 0, "the input term changed no weight's fate");
  }

  private EmbeddedSession.SessionResult run(Path general, Path domain, String id, String scoring) throws Exception {
    Path conf = ClusterTestSupport.write(tmp, id + ".conf", ClusterTestSupport.settings(tmp.resolve(id), 0, null, ""));
    var session = ClusterTestSupport.session(general, domain, id).toBuilder().setScoring(scoring).build();
    var result = EmbeddedSession.run(session, ClusterTestSupport.load(conf), 1, Duration.ofSeconds(90));
    assertEquals("DONE", result.status().getState(), scoring);
    return result;
  }
}
