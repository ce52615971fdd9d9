package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.planner.Structure;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A session's {@code structure} reaches the coordinator's planner; sessions from before it are unstructured. */
class StructuredSessionTest {
  @TempDir Path tmp;

  /**
   * 1:4 by magnitude: every group of 4 consecutive input weights keeps exactly its largest |w| (the later one of
   * equals: ties are pruned first-come), so 3/4 of the candidates go, whatever the session's sparsity field says.
   */
  @Test
  void aStructuredSessionKeepsNOfEveryM() throws Exception {
    Path general = ClusterTestSupport.triplets(tmp, "general.json", 16);
    Path domain = ClusterTestSupport.triplets(tmp, "domain.json", 16);
    Path conf = ClusterTestSupport.write(tmp, "nm.conf", ClusterTestSupport.settings(tmp.resolve("nm"), 0, null, ""));
    var session = ClusterTestSupport.session(general, domain, "nm").toBuilder().setScoring("magnitude")
        .setStructure("1:4").build();
    assertEquals(0.5, session.getSparsity()); // not what 1:4 prunes: the structure decides
    var result = EmbeddedSession.run(session, ClusterTestSupport.load(conf), 1, Duration.ofSeconds(90));
    assertEquals("DONE", result.status().getState());
    long candidates = result.plan().getCandidateWeights();
    assertEquals(4 * 48 * 16, candidates);
    assertEquals(candidates * 3 / 4, result.plan().getPrunedWeights());
    assertEquals(0.75, result.plan().getSparsity());

    var runtime = new io.gaprune.worker.testing.SyntheticRuntime(ClusterTestSupport.load(conf));
    assertEquals(4, result.masks().size());
    for (var spec : runtime.candidateTensors("mlp")) {
      byte[] mask = result.masks().get(spec.getName());
      double[] w = runtime.weights(spec.getName());
      assertEquals(w.length, mask.length, spec.getName());
      for (int base = 0; base < w.length; base += 4) {
        int best = base;
        for (int i = base + 1; i < base + 4; i++) {
          if (Math.abs((float) w[i]) >= Math.abs((float) w[best])) {
            best = i;
          }
        }
        for (int i = base; i < base + 4; i++) {
          assertEquals(i == best ? 1 : 0, mask[i], spec.getName() + " [" + i + "]");
        }
      }
    }
  }

  @Test
  void aSessionWithoutAStructureIsUnstructured() {
    var old = ClusterTestSupport.session(Path.of("g.json"), Path.of("d.json"), "old");
    assertEquals("", old.getStructure());
    assertEquals(Structure.UNSTRUCTURED, AccumulatorPlanner.structure(old));
    assertEquals(new Structure(2, 4), AccumulatorPlanner.structure(old.toBuilder().setStructure("2:4").build()));
  }
}
