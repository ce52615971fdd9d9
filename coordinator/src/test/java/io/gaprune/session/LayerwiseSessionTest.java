package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.model.LayerType;
import io.gaprune.planner.Calibration;
import io.gaprune.planner.LayerwisePruner;
import io.gaprune.planner.MethodSpec;
import io.gaprune.planner.Scorer;
import io.gaprune.planner.SparseGpt;
import io.gaprune.planner.Structure;
import io.gaprune.planner.TensorMeta;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.stats.InputSums;
import io.gaprune.stats.MergedStatistics;
import io.gaprune.worker.testing.SyntheticRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A session that plans with a scoring that updates the kept weights ({@code sparsegpt}, {@code reconstruct=1},
 * {@code adaptive=p}) ends with the layer-wise step: its masks.safetensors and weights.safetensors are what
 * {@link LayerwisePruner} makes of the session's own merged statistics and the model's weights, bit for bit, as
 * {@code gaprune run} plans them. (The same step by remote owners: {@code MergerNodesTest}.)
 */
class LayerwiseSessionTest {
  @TempDir Path tmp;

  @Test
  void aSessionsLayerwiseStepIsTheLayerwisePrunersOnItsStatistics() throws Exception {
    Path general = ClusterTestSupport.triplets(tmp, "general.json", 16);
    Path domain = ClusterTestSupport.triplets(tmp, "domain.json", 16);
    Path conf = ClusterTestSupport.write(tmp, "node.conf", ClusterTestSupport.settings(tmp.resolve("work"), 0, null,
        ""));
    var base = ClusterTestSupport.session(general, domain, "base").toBuilder().setSparsity(0.6).build();
    var runtime = new SyntheticRuntime(ClusterTestSupport.load(conf));
    var candidates = runtime.candidateTensors("mlp").stream()
        .map(t -> new TensorMeta(t.getName(), t.getShapeList().stream().mapToLong(Long::longValue).toArray()))
        .toList();

    // SparseGPT, unstructured and 2:4, on the domain's Hessians (the default) and on both halves': its own masks
    // and updates
    var sparseGptMasks = new java.util.HashMap<String, Map<String, byte[]>>();
    for (var structureAndHalf : new String[][] {{"", ""}, {"2:4", ""}, {"", "both"}}) {
      var structure = structureAndHalf[0];
      var half = structureAndHalf[1];
      var s = base.toBuilder().setSessionId("sgpt" + structure.replace(":", "of") + half).setScoring("sparsegpt")
          .setStructure(structure).setCalibration(half).build();
      var result = run(s, conf);
      var layers = new Layers(candidates, result.merged(), runtime);
      var expected = Structure.parse(structure.isEmpty() ? "unstructured" : structure);
      var settings = LayerwisePruner.Settings.of(LayerType.parse("mlp"), expected.unstructured() ? 0.6
          : expected.sparsity()).withStructure(expected)
          .withCalibration(half.isEmpty() ? Calibration.DOMAIN : Calibration.parse(half));
      Path reference = tmp.resolve(s.getSessionId() + "-reference.safetensors");
      LayerwisePruner.sparseGpt(layers, settings, reference, null);
      assertSame(s.getSessionId(), EmbeddedSession.readMasks(reference), layers.updated, result);
      assertTrue(result.plan().getPrunedWeights() > 0);
      sparseGptMasks.put(s.getSessionId(), result.masks());
    }
    // the half matters: a step that read the domain's Hessians whatever the session asked would fail here
    var domainMasks = sparseGptMasks.get("sgpt");
    var bothMasks = sparseGptMasks.get("sgptboth");
    assertTrue(domainMasks.keySet().stream().anyMatch(t -> !java.util.Arrays.equals(domainMasks.get(t),
        bothMasks.get(t))), "calibration both gave the domain's masks");

    // the reconstructing and the adaptive DAI: the masks of the plain calibrated DAI's session, then the step
    var plain = run(base.toBuilder().setSessionId("plain").setScoring("dai-calibrated").build(), conf);
    var reconstructing = base.toBuilder().setSessionId("recon").setScoring("dai-calibrated:reconstruct=1").build();
    var result = run(reconstructing, conf);
    var layers = new Layers(candidates, result.merged(), runtime);
    double lambda = AccumulatorPlanner.scoring(reconstructing).calibrated().generalWeight();
    var errors = LayerwisePruner.reconstruct(layers, plain.masks(), lambda, SparseGpt.DEFAULT_BLOCK,
        SparseGpt.DEFAULT_DAMPENING);
    assertSame("recon", plain.masks(), layers.updated, result);
    assertEquals(plain.plan().getPrunedWeights(), result.plan().getPrunedWeights());
    assertTrue(errors.stream().allMatch(e -> e.after() < e.before()), errors.toString());

    var adaptive = base.toBuilder().setSessionId("adaptive").setScoring("dai-calibrated:adaptive=1").build();
    result = run(adaptive, conf);
    layers = new Layers(candidates, result.merged(), runtime);
    var source = new AccumulatorPlanner.AccumulatorTensorSource(result.status().getPartitionsList(), result.merged(),
        runtime, false);
    var priors = LayerwisePruner.scorePriors(source, new Scorer(AccumulatorPlanner.scoring(adaptive)),
        MethodSpec.parse(adaptive.getScoring()).priorExponent());
    var reference = LayerwisePruner.adaptive(layers, plain.masks(), priors, Structure.UNSTRUCTURED, lambda,
        SparseGpt.DEFAULT_BLOCK, SparseGpt.DEFAULT_DAMPENING);
    assertSame("adaptive", reference.masks(), layers.updated, result);
    boolean moved = false;
    for (var t : candidates) { // each tensor keeps the plan's count; which weights may change
      assertEquals(zeros(plain.masks().get(t.name())), zeros(result.masks().get(t.name())), t.name());
      moved |= !java.util.Arrays.equals(plain.masks().get(t.name()), result.masks().get(t.name()));
    }
    assertTrue(moved, "the adaptive step kept every mask of the plan as it was");
    // the operator's files: the masks' metadata names the step; the owner's scratch files are gone
    try (var file = io.gaprune.model.safetensors.SafetensorsFile.open(Path.of(result.plan().getMasksPath()))) {
      assertEquals("dai-calibrated:adaptive=1", file.metadata().get("gaprune.layerwise"));
    }
    try (var files = Files.list(Path.of(result.plan().getMasksPath()).getParent())) {
      assertEquals(List.of("masks.safetensors", "plan.json", "weights.safetensors"),
          files.map(f -> f.getFileName().toString()).sorted().toList());
    }
  }

  private static EmbeddedSession.SessionResult run(SessionConfig s, Path conf) throws Exception {
    var result = EmbeddedSession.run(s, ClusterTestSupport.load(conf), 1, Duration.ofSeconds(120));
    assertEquals("DONE", result.status().getState(), s.getSessionId() + ": " + result.status().getMessage());
    return result;
  }

  private static void assertSame(String what, Map<String, byte[]> masks, Map<String, float[]> weights,
      EmbeddedSession.SessionResult result) throws IOException {
    var sessionWeights = result.weights();
    assertEquals(masks.keySet(), result.masks().keySet(), what);
    assertEquals(weights.keySet(), sessionWeights.keySet(), what);
    for (var name : masks.keySet()) {
      assertArrayEquals(masks.get(name), result.masks().get(name), what + " mask " + name);
      assertArrayEquals(weights.get(name), sessionWeights.get(name), what + " weights " + name);
      var mask = masks.get(name);
      for (int i = 0; i < mask.length; i++) {
        if (mask[i] == 0) {
          assertEquals(0f, sessionWeights.get(name)[i], what + " " + name + "[" + i + "] is pruned");
        }
      }
    }
    assertEquals(masks.values().stream().mapToLong(LayerwiseSessionTest::zeros).sum(),
        result.plan().getPrunedWeights(), what);
  }

  private static long zeros(byte[] mask) {
    long n = 0;
    for (byte b : mask) {
      n += 1 - b;
    }
    return n;
  }

  /** The synthetic model's candidates with a session's statistics; the updates kept as float32, as a session keeps them. */
  private static final class Layers implements LayerwisePruner.Model {
    final Map<String, float[]> updated = new LinkedHashMap<>();
    private final List<TensorMeta> tensors;
    private final MergedStatistics statistics;
    private final SyntheticRuntime runtime;

    Layers(List<TensorMeta> tensors, MergedStatistics statistics, SyntheticRuntime runtime) {
      this.tensors = tensors;
      this.statistics = statistics;
      this.runtime = runtime;
    }

    @Override
    public List<TensorMeta> tensors() {
      return tensors;
    }

    @Override
    public float[] weights(TensorMeta tensor) {
      double[] w = runtime.weights(tensor.name());
      var out = new float[w.length];
      for (int i = 0; i < w.length; i++) {
        out[i] = (float) w[i];
      }
      return out;
    }

    @Override
    public InputSums inputs(TensorMeta tensor) throws IOException {
      return statistics.tensor(tensor.name()).inputs();
    }

    @Override
    public void update(TensorMeta tensor, double[] weights) {
      var out = new float[weights.length];
      for (int i = 0; i < out.length; i++) {
        out[i] = (float) weights[i];
      }
      updated.put(tensor.name(), out);
    }
  }
}
