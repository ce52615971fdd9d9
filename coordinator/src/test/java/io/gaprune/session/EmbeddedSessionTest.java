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
   * A session that names no scoring plans with the calibrated DAI and its defaults (the method that held at 70%,
   * docs/results.md); the paper's DAI is still there by name, with the session's α, β, γ.
   */
  @Test
  void aSessionWithoutAScoringEntryUsesTheCalibratedDai() {
    var session = ClusterTestSupport.session(Path.of("g.json"), Path.of("d.json"), "default");
    assertEquals("", session.getScoring());
    var scoring = AccumulatorPlanner.scoring(session);
    assertEquals(io.gaprune.planner.ScoringMethod.DAI_CALIBRATED, scoring.method());
    assertEquals(io.gaprune.planner.ScoringConfig.Calibrated.defaults(), scoring.calibrated());
    var paper = AccumulatorPlanner.scoring(session.toBuilder().setScoring("dai").setGamma(0.25).build());
    assertEquals(io.gaprune.planner.ScoringMethod.DAI, paper.method());
    assertEquals(0.25, paper.gamma());
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

    var bad = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> AccumulatorPlanner.scoring(
        ClusterTestSupport.session(general, domain, "bad").toBuilder().setScoring("dai-calibrated:q=abc").build()));
    assertTrue(bad.getMessage().contains("not a number"), bad.getMessage());
  }

  /**
   * A distributed {@code dai-reference} plans on the reference's Fisher scale (Σg² over the samples, as the
   * one-process pipeline does), not the paper's (over the batches): the session's masks are the masks the
   * planner gives on statistics divided that way, and differ from those of the paper's scale.
   */
  @Test
  void daiReferenceInASessionUsesTheReferenceFisherScale() throws Exception {
    Path general = ClusterTestSupport.triplets(tmp, "general.json", 16);
    Path domain = ClusterTestSupport.triplets(tmp, "domain.json", 16);
    Path conf = ClusterTestSupport.write(tmp, "ref.conf", ClusterTestSupport.settings(tmp.resolve("ref"), 0, null, ""));
    var session = ClusterTestSupport.session(general, domain, "ref").toBuilder().setScoring("dai-reference")
        .setGamma(1e-3).build();
    var result = EmbeddedSession.run(session, ClusterTestSupport.load(conf), 1, Duration.ofSeconds(90));
    assertEquals("DONE", result.status().getState());

    var runtime = new io.gaprune.worker.testing.SyntheticRuntime(ClusterTestSupport.load(conf));
    var statistics = result.statistics();
    var config = io.gaprune.planner.PlannerConfig.of(session.getSparsity())
        .withScoring(AccumulatorPlanner.scoring(session))
        .withLayerTypes(io.gaprune.model.LayerType.parse("mlp"));
    java.util.Map<Boolean, java.util.Map<String, byte[]>> expected = new java.util.HashMap<>();
    for (boolean reference : new boolean[] {true, false}) {
      var inputs = new java.util.ArrayList<io.gaprune.planner.TensorInput>();
      for (var spec : runtime.candidateTensors("mlp")) {
        var sums = statistics.tensors().get(spec.getName());
        double[] w = runtime.weights(spec.getName());
        float[] f = new float[w.length];
        for (int i = 0; i < w.length; i++) {
          f[i] = (float) w[i];
        }
        var stats = reference
            ? io.gaprune.planner.WeightStatistics.referenceFromSums(sums, statistics.generalSamples(),
                statistics.domainSamples(), statistics.batches(), statistics.batches())
            : io.gaprune.planner.WeightStatistics.fromSums(sums, statistics.batches());
        inputs.add(new io.gaprune.planner.TensorInput(new io.gaprune.planner.TensorMeta(spec.getName(),
            spec.getShapeList().stream().mapToLong(Long::longValue).toArray()), f, stats));
      }
      Path masks = tmp.resolve("expected-" + reference + ".safetensors");
      new io.gaprune.planner.Planner(config).plan(new io.gaprune.planner.InMemoryTensorSource(inputs), masks, null);
      expected.put(reference, EmbeddedSession.readMasks(masks));
    }
    assertEquals(expected.get(true).keySet(), result.masks().keySet());
    expected.get(true).forEach((name, m) -> assertTrue(java.util.Arrays.equals(m, result.masks().get(name)), name));
    boolean scaleMatters = expected.get(false).entrySet().stream()
        .anyMatch(e -> !java.util.Arrays.equals(e.getValue(), expected.get(true).get(e.getKey())));
    assertTrue(scaleMatters, "the two Fisher scales give the same masks here: the test would not tell them apart");
  }
}
