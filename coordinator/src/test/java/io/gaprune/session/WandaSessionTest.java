package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.planner.Calibration;
import io.gaprune.planner.Structure;
import io.gaprune.planner.Wanda;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Wanda planned by a cluster session: the session collects the input norms, and its merger groups' masks are
 * {@link Wanda#mask} over {@link Wanda#scores} of each tensor with the merged {@code Σx²} of the session's
 * calibration half (the domain by default, the general half, or both) — what {@code gaprune run --scoring wanda
 * --calibration ...} plans — unstructured (the row budget the session fills in) and 2:4.
 */
class WandaSessionTest {
  @TempDir Path tmp;

  @Test
  void aSessionPlansWandaAsTheLayerwisePrunerDoes() throws Exception {
    Path general = ClusterTestSupport.triplets(tmp, "general.json", 16);
    Path domain = ClusterTestSupport.triplets(tmp, "domain.json", 16);
    var rows = check(general, domain, "rows", "", "", Structure.UNSTRUCTURED, 0.6);
    check(general, domain, "nm", "2:4", "", new Structure(2, 4), 0.5);
    var onGeneral = check(general, domain, "general", "", "general", Structure.UNSTRUCTURED, 0.6);
    check(general, domain, "both", "2:4", "both", new Structure(2, 4), 0.5);
    // the half matters: a session that read the domain's norms whatever it was asked would fail here
    assertTrue(rows.keySet().stream().anyMatch(t -> !java.util.Arrays.equals(rows.get(t), onGeneral.get(t))),
        "the general half's norms gave the domain's masks");
  }

  private Map<String, byte[]> check(Path general, Path domain, String id, String structure, String calibration,
      Structure expected, double sparsity) throws Exception {
    Path conf = ClusterTestSupport.write(tmp, id + ".conf", ClusterTestSupport.settings(tmp.resolve(id), 0, null, ""));
    var session = ClusterTestSupport.session(general, domain, id).toBuilder().setScoring("wanda")
        .setStructure(structure).setSparsity(sparsity).setCalibration(calibration).build();
    var result = EmbeddedSession.run(session, ClusterTestSupport.load(conf), 1, Duration.ofSeconds(90));
    assertEquals("DONE", result.status().getState(), id);
    var statistics = result.statistics().tensors();
    var runtime = new io.gaprune.worker.testing.SyntheticRuntime(ClusterTestSupport.load(conf));
    var half = calibration.isEmpty() ? Calibration.DOMAIN : Calibration.parse(calibration);
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
          half.squares(statistics.get(spec.getName()).inputs()));
      var mask = Wanda.mask(scores, rows, cols, sparsity, expected);
      assertArrayEquals(mask, result.masks().get(spec.getName()), id + " " + spec.getName());
      for (byte b : mask) {
        pruned += 1 - b;
      }
    }
    assertEquals(pruned, result.plan().getPrunedWeights(), id);
    return result.masks();
  }
}
