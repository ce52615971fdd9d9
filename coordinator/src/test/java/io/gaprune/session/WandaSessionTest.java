package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gaprune.planner.Structure;
import io.gaprune.planner.Wanda;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Wanda planned by a cluster session: the session collects the input norms, and its merger groups' masks are
 * {@link Wanda#mask} over {@link Wanda#scores} of each tensor with the merged domain {@code Σx²} — what
 * {@code gaprune run --scoring wanda} plans — unstructured (the row budget the session fills in) and 2:4.
 */
class WandaSessionTest {
  @TempDir Path tmp;

  @Test
  void aSessionPlansWandaAsTheLayerwisePrunerDoes() throws Exception {
    Path general = ClusterTestSupport.triplets(tmp, "general.json", 16);
    Path domain = ClusterTestSupport.triplets(tmp, "domain.json", 16);
    check(general, domain, "rows", "", Structure.UNSTRUCTURED, 0.6);
    check(general, domain, "nm", "2:4", new Structure(2, 4), 0.5);
  }

  private void check(Path general, Path domain, String id, String structure, Structure expected, double sparsity)
      throws Exception {
    Path conf = ClusterTestSupport.write(tmp, id + ".conf", ClusterTestSupport.settings(tmp.resolve(id), 0, null, ""));
    var session = ClusterTestSupport.session(general, domain, id).toBuilder().setScoring("wanda")
        .setStructure(structure).setSparsity(sparsity).build();
    var result = EmbeddedSession.run(session, ClusterTestSupport.load(conf), 1, Duration.ofSeconds(90));
    assertEquals("DONE", result.status().getState(), id);
    var statistics = result.statistics().tensors();
    var runtime = new io.gaprune.worker.testing.SyntheticRuntime(ClusterTestSupport.load(conf));
    long pruned = 0;
    for (var spec : runtime.candidateTensors("mlp")) {
      double[] w = runtime.weights(spec.getName());
      var weights = new float[w.length];
      for (int i = 0; i < w.length; i++) {
        weights[i] = (float) w[i];
      }
      int rows = (int) spec.getShape(0);
      int cols = (int) spec.getShape(1);
      var scores = Wanda.scores(spec.getName(), weights, rows, cols,
          statistics.get(spec.getName()).inputs().squaresDomain());
      var mask = Wanda.mask(scores, rows, cols, sparsity, expected);
      assertArrayEquals(mask, result.masks().get(spec.getName()), id + " " + spec.getName());
      for (byte b : mask) {
        pruned += 1 - b;
      }
    }
    assertEquals(pruned, result.plan().getPrunedWeights(), id);
  }
}
