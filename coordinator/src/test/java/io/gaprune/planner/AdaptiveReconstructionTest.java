package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.stats.InputSums;
import io.gaprune.stats.PackedSymmetric;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link LayerwisePruner#adaptive}: each tensor keeps the plan's budget (or N:M), its mask re-chosen by SparseGPT's
 * adaptive selection under the prior, on the reconstruction's Hessian {@code H_dom + λ·c·H_gen}.
 */
class AdaptiveReconstructionTest {

  /** Two layers with Gram matrices of both halves (the general one from another seed, on another scale). */
  static final class Model implements LayerwisePruner.Model {
    final List<TensorMeta> metas = List.of(new TensorMeta("layer.0.w", new long[] {12, 40}),
        new TensorMeta("layer.1.w", new long[] {40, 12}));
    final Map<String, SparseGptTest.Layer> domain = new LinkedHashMap<>();
    final Map<String, SparseGptTest.Layer> general = new LinkedHashMap<>();
    final Map<String, double[]> updated = new LinkedHashMap<>();
    final boolean grams;

    Model(boolean grams) {
      this.grams = grams;
      for (var t : metas) {
        int rows = (int) t.shape()[0];
        int cols = (int) t.shape()[1];
        domain.put(t.name(), SparseGptTest.Layer.random(rows * 7L + cols, rows, cols, 200));
        general.put(t.name(), SparseGptTest.Layer.random(rows * 11L + cols, rows, cols, 300));
      }
    }

    @Override
    public List<TensorMeta> tensors() {
      return metas;
    }

    @Override
    public float[] weights(TensorMeta tensor) {
      var w = domain.get(tensor.name()).w();
      var out = new float[w.length];
      for (int i = 0; i < w.length; i++) {
        out[i] = (float) w[i];
      }
      return out;
    }

    @Override
    public InputSums inputs(TensorMeta tensor) {
      int cols = (int) tensor.shape()[1];
      var squares = new double[cols];
      java.util.Arrays.fill(squares, 1);
      if (!grams) {
        return new InputSums(squares, squares, new double[0], new double[0], 200, 300);
      }
      return new InputSums(squares, squares, packed(general.get(tensor.name()).hessian(), cols),
          packed(domain.get(tensor.name()).hessian(), cols), 300, 200);
    }

    @Override
    public void update(TensorMeta tensor, double[] weights) {
      updated.put(tensor.name(), weights);
    }

    private static double[] packed(double[] full, int n) {
      var out = new double[PackedSymmetric.length(n)];
      PackedSymmetric.addUpper(out, full, n);
      return out;
    }

    /** The mask of magnitude at {@code sparsity} per tensor: a plan to start from. */
    Map<String, byte[]> magnitudeMasks(double sparsity) {
      var out = new LinkedHashMap<String, byte[]>();
      for (var t : metas) {
        out.put(t.name(), domain.get(t.name()).magnitudeMask(Budgets.global(sparsity, t.size())));
      }
      return out;
    }
  }

  @Test
  void eachTensorKeepsItsBudgetAndAZeroPriorIsSparseGptOnTheWeightedHessian() throws Exception {
    var model = new Model(true);
    // budgets that differ per tensor, as a global plan's do
    var plan = new LinkedHashMap<String, byte[]>();
    plan.put("layer.0.w", model.domain.get("layer.0.w").magnitudeMask(300));
    plan.put("layer.1.w", model.domain.get("layer.1.w").magnitudeMask(200));
    var result = LayerwisePruner.adaptive(model, plan, t -> new double[(int) t.size()], Structure.UNSTRUCTURED, 0.5,
        16, 0.01);
    assertEquals(List.copyOf(plan.keySet()), List.copyOf(result.masks().keySet()));
    for (var t : model.metas) {
      int rows = (int) t.shape()[0];
      int cols = (int) t.shape()[1];
      var mask = result.masks().get(t.name());
      assertEquals(SparseGptTest.zeros(plan.get(t.name())), SparseGptTest.zeros(mask), t.name() + " keeps the plan's budget");
      var h = LayerwisePruner.weightedHessian(t.name(), model.inputs(t), 0.5, cols);
      var floats = model.weights(t); // what the pruner reads: the weights as float32
      var w = new double[floats.length];
      for (int i = 0; i < w.length; i++) {
        w[i] = floats[i];
      }
      var expected = SparseGpt.prune(t.name(), w, rows, cols, h, SparseGptTest.zeros(plan.get(t.name())), Structure.UNSTRUCTURED,
          16, 0.01);
      assertArrayEquals(expected.mask(), mask, t.name());
      assertArrayEquals(expected.weights(), model.updated.get(t.name()), 0.0, t.name());
    }
    for (var e : result.errors()) {
      assertTrue(e.after() < e.before() && e.before() > 0, e.toString());
    }
  }

  @Test
  void thePriorDecidesWithinTheBudgetAndNmStaysExact() throws Exception {
    var model = new Model(true);
    var plan = model.magnitudeMasks(0.5);
    // a strong prior on the even input columns: kept whatever their saliency
    LayerwisePruner.LogPriors priors = t -> {
      int cols = (int) t.shape()[1];
      var p = new double[(int) t.size()];
      for (int i = 0; i < p.length; i++) {
        p[i] = (i % cols) % 2 == 0 ? 40 : 0;
      }
      return p;
    };
    var unstructured = LayerwisePruner.adaptive(model, plan, priors, Structure.UNSTRUCTURED, 1, 16, 0.01);
    for (var t : model.metas) {
      int cols = (int) t.shape()[1];
      var mask = unstructured.masks().get(t.name());
      assertEquals(SparseGptTest.zeros(plan.get(t.name())), SparseGptTest.zeros(mask), t.name());
      for (int i = 0; i < mask.length; i++) {
        if ((i % cols) % 2 == 0) {
          assertEquals(1, mask[i], t.name() + " weight " + i + " has the strong prior");
        }
      }
      var w = model.updated.get(t.name());
      for (int i = 0; i < mask.length; i++) {
        if (mask[i] == 0) {
          assertEquals(0.0, w[i], t.name() + " pruned weight " + i);
        }
      }
    }
    var nm = LayerwisePruner.adaptive(model, plan, priors, new Structure(2, 4), 1, 16, 0.01);
    for (var t : model.metas) {
      var mask = nm.masks().get(t.name());
      for (int g = 0; g < mask.length; g += 4) {
        assertEquals(2, mask[g] + mask[g + 1] + mask[g + 2] + mask[g + 3], t.name() + " group at " + g);
        assertEquals(2, mask[g] + mask[g + 2], t.name() + " keeps the even columns of group " + g);
      }
    }
  }

  @Test
  void missingGramsAreNamed() {
    var model = new Model(false);
    var e = assertThrows(IllegalArgumentException.class, () -> LayerwisePruner.adaptive(model,
        model.magnitudeMasks(0.5), t -> new double[(int) t.size()], Structure.UNSTRUCTURED, 1, 16, 0.01));
    assertTrue(e.getMessage().contains("tensor layer.0.w has no input Gram matrix"), e.getMessage());
  }
}
