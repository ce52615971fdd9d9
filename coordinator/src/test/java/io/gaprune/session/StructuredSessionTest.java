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

  /**
   * {@code budget: rows} by magnitude: every output row of every candidate prunes its share of the tensor's
   * floor(0.3 × size) (k / rows each, one more in the first rows), its smallest |w|, ties to the lower index; the
   * merger groups decide their tensors alone, with no selection.
   */
  @Test
  void aSessionWithRowBudgetsPrunesEachRowsShare() throws Exception {
    Path general = ClusterTestSupport.triplets(tmp, "general.json", 16);
    Path domain = ClusterTestSupport.triplets(tmp, "domain.json", 16);
    Path conf = ClusterTestSupport.write(tmp, "rows.conf",
        ClusterTestSupport.settings(tmp.resolve("rows"), 0, null, ""));
    var session = ClusterTestSupport.session(general, domain, "rows").toBuilder().setScoring("magnitude")
        .setBudget("rows").setSparsity(0.3).build();
    var result = EmbeddedSession.run(session, ClusterTestSupport.load(conf), 1, Duration.ofSeconds(90));
    assertEquals("DONE", result.status().getState());

    var runtime = new io.gaprune.worker.testing.SyntheticRuntime(ClusterTestSupport.load(conf));
    long expectedPruned = 0;
    for (var spec : runtime.candidateTensors("mlp")) {
      byte[] mask = result.masks().get(spec.getName());
      double[] w = runtime.weights(spec.getName());
      var shape = spec.getShapeList();
      int cols = (int) (long) shape.get(shape.size() - 1);
      int rows = w.length / cols;
      long k = (long) Math.floor(0.3 * w.length + 1e-9);
      expectedPruned += k;
      for (int r = 0; r < rows; r++) {
        int prune = (int) (k / rows + (r < k % rows ? 1 : 0));
        var order = new java.util.ArrayList<Integer>();
        for (int j = 0; j < cols; j++) {
          order.add(j);
        }
        int base = r * cols;
        order.sort((a, b) -> {
          int c = Float.compare(Math.abs((float) w[base + a]), Math.abs((float) w[base + b]));
          return c != 0 ? c : Integer.compare(a, b);
        });
        for (int i = 0; i < cols; i++) {
          assertEquals(i < prune ? 0 : 1, mask[base + order.get(i)], spec.getName() + " row " + r + " rank " + i);
        }
      }
    }
    assertEquals(expectedPruned, result.plan().getPrunedWeights());
  }

  /**
   * An N:M plan over owners across the wire: no pass and no tie count is asked (the layout has no selection),
   * only the mask step, with empty thresholds; the owners' masks are the single planner's.
   */
  @Test
  void anNmPlanOverTheWireAsksOnlyForMasks() throws Exception {
    var source = new io.gaprune.planner.InMemoryTensorSource(PlanWireTest.model(11, 6, 64 * 40, 5));
    var config = PlanWire.forOwners(io.gaprune.planner.PlannerConfig.of(0.5)
        .withScoring(io.gaprune.planner.ScoringConfig.defaults()
            .withMethod(io.gaprune.planner.ScoringMethod.MAGNITUDE))
        .withStructure(Structure.parse("2:4")));
    var planner = new io.gaprune.planner.Planner(config);
    var layout = io.gaprune.planner.PlanLayout.of(config, source.tensors());
    var single = new java.util.LinkedHashMap<String, byte[]>();
    var whole = planner.plan(layout,
        java.util.List.of(planner.share(layout, source, layout.candidates(), (t, m) -> single.put(t.name(), m))));
    var split = new java.util.LinkedHashMap<String, byte[]>();
    var steps = new java.util.ArrayList<io.gaprune.protocol.PlanStep.StepCase>();
    var owners = new java.util.ArrayList<io.gaprune.planner.PlanParticipant>();
    var all = layout.candidates();
    for (int g = 0; g < 2; g++) {
      var run = all.subList(all.size() * g / 2, all.size() * (g + 1) / 2);
      var wire = PlanWireTest.overTheWire(planner.share(layout, source, run, (t, m) -> split.put(t.name(), m)),
          new java.util.concurrent.atomic.AtomicLong());
      owners.add(new RemoteParticipant("nm", g, run, step -> {
        steps.add(step.getStepCase());
        return wire.call(step);
      }, null));
    }
    var r = planner.plan(layout, owners);
    assertEquals(java.util.List.of(io.gaprune.protocol.PlanStep.StepCase.MASKS,
        io.gaprune.protocol.PlanStep.StepCase.MASKS), steps);
    assertEquals(single.keySet(), split.keySet());
    single.forEach((name, mask) -> assertTrue(java.util.Arrays.equals(mask, split.get(name)), name));
    assertEquals(whole.pruned(), r.pruned());
    assertEquals(layout.candidateWeights() / 2, r.pruned());
  }

  @Test
  void aSessionWithoutAStructureIsUnstructured() {
    var old = ClusterTestSupport.session(Path.of("g.json"), Path.of("d.json"), "old");
    assertEquals("", old.getStructure());
    assertEquals(Structure.UNSTRUCTURED, AccumulatorPlanner.structure(old));
    assertEquals(new Structure(2, 4), AccumulatorPlanner.structure(old.toBuilder().setStructure("2:4").build()));
  }
}
