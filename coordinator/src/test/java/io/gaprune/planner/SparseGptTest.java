package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SparseGptTest {

  /** A tiny layer with correlated random inputs: X = A·Z, so the Hessian is far from diagonal. */
  record Layer(int rows, int cols, int tokens, double[] w, double[] x) {
    static Layer random(long seed, int rows, int cols, int tokens) {
      var rnd = new Random(seed);
      var w = new double[rows * cols];
      for (int i = 0; i < w.length; i++) {
        w[i] = rnd.nextGaussian();
      }
      var mix = new double[cols * cols];
      for (int i = 0; i < mix.length; i++) {
        mix[i] = rnd.nextGaussian() * (i % (cols + 1) == 0 ? 2 : 0.5);
      }
      var z = new double[cols * tokens];
      for (int i = 0; i < z.length; i++) {
        z[i] = rnd.nextGaussian();
      }
      var x = new double[cols * tokens]; // [cols, tokens]
      for (int i = 0; i < cols; i++) {
        double scale = 0.2 + 3.0 * rnd.nextDouble(); // channels of very different sizes, as activations are
        for (int t = 0; t < tokens; t++) {
          double s = 0;
          for (int k = 0; k < cols; k++) {
            s += mix[i * cols + k] * z[k * tokens + t];
          }
          x[i * tokens + t] = scale * s;
        }
      }
      return new Layer(rows, cols, tokens, w, x);
    }

    /** H = Σ_t x_t·x_tᵀ, computed directly. */
    double[] hessian() {
      var h = new double[cols * cols];
      for (int i = 0; i < cols; i++) {
        for (int j = 0; j < cols; j++) {
          double s = 0;
          for (int t = 0; t < tokens; t++) {
            s += x[i * tokens + t] * x[j * tokens + t];
          }
          h[i * cols + j] = s;
        }
      }
      return h;
    }

    /** ‖W·X − Ŵ·X‖_F, computed from X directly (not from H). */
    double error(double[] pruned) {
      double sum = 0;
      for (int r = 0; r < rows; r++) {
        for (int t = 0; t < tokens; t++) {
          double d = 0;
          for (int j = 0; j < cols; j++) {
            d += (w[r * cols + j] - pruned[r * cols + j]) * x[j * tokens + t];
          }
          sum += d * d;
        }
      }
      return Math.sqrt(sum);
    }

    double[] masked(byte[] mask) {
      var out = w.clone();
      for (int i = 0; i < out.length; i++) {
        if (mask[i] == 0) {
          out[i] = 0;
        }
      }
      return out;
    }

    /** Magnitude pruning of exactly k weights of the layer (ties to the lower index). */
    byte[] magnitudeMask(long k) {
      var order = new Integer[w.length];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      java.util.Arrays.sort(order, (a, b) -> {
        int c = Double.compare(Math.abs(w[a]), Math.abs(w[b]));
        return c != 0 ? c : Integer.compare(a, b);
      });
      var mask = new byte[w.length];
      java.util.Arrays.fill(mask, (byte) 1);
      for (int i = 0; i < k; i++) {
        mask[order[i]] = 0;
      }
      return mask;
    }
  }

  static long zeros(byte[] mask) {
    long n = 0;
    for (byte b : mask) {
      n += b == 0 ? 1 : 0;
    }
    return n;
  }

  @Test
  void reconstructionErrorIsBelowMagnitudeAndBelowItsOwnMaskWithoutUpdates() {
    for (long seed = 1; seed <= 3; seed++) {
      var layer = Layer.random(seed, 12, 40, 300);
      for (double sparsity : new double[] {0.5, 0.7}) {
        var result = SparseGpt.prune("t", layer.w(), 12, 40, layer.hessian(), sparsity, Structure.UNSTRUCTURED, 16,
            SparseGpt.DEFAULT_DAMPENING);
        long k = Budgets.global(sparsity, 12 * 40);
        double sparseGpt = layer.error(result.weights());
        double magnitude = layer.error(layer.masked(layer.magnitudeMask(k)));
        double maskOnly = layer.error(layer.masked(result.mask()));
        assertTrue(sparseGpt < magnitude, "seed " + seed + " @" + sparsity + ": SparseGPT " + sparseGpt
            + " vs magnitude " + magnitude);
        assertTrue(sparseGpt < maskOnly, "seed " + seed + " @" + sparsity + ": SparseGPT " + sparseGpt
            + " vs its mask without updates " + maskOnly);
        assertTrue(sparseGpt < 0.8 * magnitude, "the updates should win clearly: " + sparseGpt + " vs " + magnitude);
      }
    }
  }

  @Test
  void unstructuredMasksHaveTheLayersSparsityExactlyAndPrunedWeightsAreZero() {
    var layer = Layer.random(7, 9, 37, 100); // 37 columns: a last block of 5 with block 16
    var h = layer.hessian();
    for (double sparsity : new double[] {0, 0.01, 0.29, 0.5, 0.77, 1}) {
      var r = SparseGpt.prune("t", layer.w(), 9, 37, h, sparsity, Structure.UNSTRUCTURED, 16, 0.01);
      assertEquals(Budgets.global(sparsity, 9 * 37), zeros(r.mask()), "sparsity " + sparsity);
      assertEquals(zeros(r.mask()), r.pruned());
      for (int i = 0; i < r.mask().length; i++) {
        if (r.mask()[i] == 0) {
          assertEquals(0.0, r.weights()[i], "pruned weight " + i);
        }
      }
    }
  }

  @Test
  void nmMasksKeepNOfEveryGroupOfMInEveryRow() {
    var layer = Layer.random(11, 10, 32, 200);
    for (var structure : new Structure[] {new Structure(2, 4), new Structure(4, 8), new Structure(1, 4)}) {
      var r = SparseGpt.prune("t", layer.w(), 10, 32, layer.hessian(), 0, structure, 16, 0.01);
      for (int row = 0; row < 10; row++) {
        for (int g = 0; g < 32; g += structure.m()) {
          int kept = 0;
          for (int j = g; j < g + structure.m(); j++) {
            kept += r.mask()[row * 32 + j];
          }
          assertEquals(structure.n(), kept, structure + " row " + row + " group " + g);
        }
      }
      long k = 10L * 32 * (structure.m() - structure.n()) / structure.m();
      double magnitudeNm = layer.error(layer.masked(Wanda.mask(absolute(layer.w()), 10, 32, 0, structure)));
      assertTrue(layer.error(r.weights()) < magnitudeNm, structure + ": SparseGPT " + layer.error(r.weights())
          + " vs magnitude " + magnitudeNm + " (" + k + " pruned)");
    }
  }

  @Test
  void reconstructingAFixedMaskLowersTheErrorAndKeepsTheMask() {
    var layer = Layer.random(5, 16, 48, 250);
    var mask = layer.magnitudeMask(Budgets.global(0.6, 16 * 48));
    var r = SparseGpt.reconstruct("t", layer.w(), 16, 48, layer.hessian(), mask, 16, 0.01);
    assertArrayEquals(mask, r.mask());
    double before = layer.error(layer.masked(mask));
    double after = layer.error(r.weights());
    assertTrue(after < before, "after " + after + " vs before " + before);
    // kept weights changed, pruned stayed 0
    for (int i = 0; i < mask.length; i++) {
      if (mask[i] == 0) {
        assertEquals(0.0, r.weights()[i]);
      }
    }
  }

  @Test
  void aPriorOfZerosSelectsWhatSparseGptSelectsAndAStrongPriorDecides() {
    var layer = Layer.random(13, 12, 40, 300);
    var h = layer.hessian();
    long k = Budgets.global(0.6, 12 * 40);
    for (var structure : new Structure[] {Structure.UNSTRUCTURED, new Structure(2, 4)}) {
      var plain = SparseGpt.prune("t", layer.w(), 12, 40, h, k, structure, 16, 0.01);
      var zero = SparseGpt.pruneWithPrior("t", layer.w(), 12, 40, h, k, new double[12 * 40], structure, 16, 0.01);
      assertArrayEquals(plain.mask(), zero.mask(), structure.toString());
      assertArrayEquals(plain.weights(), zero.weights(), 0.0, structure.toString());
      // +30 on every fourth column: those weights are kept whatever their saliency; unstructured, +30 on row 0
      // (kept) and −30 on row 1 (pruned first: each block's budget, 60% of it, holds row 1 and more)
      var prior = new double[12 * 40];
      for (int r = 0; r < 12; r++) {
        for (int j = 0; j < 40; j++) {
          prior[r * 40 + j] = j % 4 == 0 ? 30 : !structure.unstructured() ? 0 : r == 0 ? 30 : r == 1 ? -30 : 0;
        }
      }
      var guided = SparseGpt.pruneWithPrior("t", layer.w(), 12, 40, h, k, prior, structure, 16, 0.01);
      assertEquals(structure.unstructured() ? k : 12 * 40 / 2, zeros(guided.mask()), structure.toString());
      for (int r = 0; r < 12; r++) {
        for (int j = 0; j < 40; j++) {
          byte m = guided.mask()[r * 40 + j];
          if (j % 4 == 0 || (structure.unstructured() && r == 0)) {
            assertEquals(1, m, structure + ": row " + r + " column " + j + " has the strong prior");
          } else if (structure.unstructured() && r == 1) {
            assertEquals(0, m, structure + ": row 1 column " + j + " has the weak prior");
          }
        }
      }
      assertTrue(layer.error(guided.weights()) < layer.error(layer.masked(guided.mask())),
          structure + ": the updates still lower the error of the guided mask");
    }
    var nan = new double[12 * 40];
    nan[17] = Double.NaN;
    assertTrue(assertThrows(IllegalArgumentException.class, () -> SparseGpt.pruneWithPrior("layer.3", layer.w(), 12,
        40, h, k, nan, Structure.UNSTRUCTURED, 16, 0.01)).getMessage().contains("layer.3: prior of weight 17 is NaN"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> SparseGpt.pruneWithPrior("layer.3", layer.w(), 12,
        40, h, k, new double[3], Structure.UNSTRUCTURED, 16, 0.01)).getMessage().contains("prior has 3 values"));
  }

  @Test
  void theInverseHessiansFactorIsExact() {
    var layer = Layer.random(3, 4, 20, 60);
    var h = layer.hessian();
    int n = 20;
    var u = SparseGpt.upperCholeskyOfInverse("t", h.clone(), n, ParallelRows.shared());
    // (Uᵀ·U)·H = I
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int k = 0; k < n; k++) {
          double inv = 0;
          for (int t = 0; t <= Math.min(i, k); t++) {
            inv += u[t * n + i] * u[t * n + k];
          }
          s += inv * h[k * n + j];
        }
        assertEquals(i == j ? 1 : 0, s, 1e-8, "(" + i + ", " + j + ")");
      }
      for (int j = 0; j < i; j++) {
        assertEquals(0.0, u[i * n + j], "U is upper triangular");
      }
    }
  }

  /**
   * Rows, factor columns and pivots go to threads only above {@link ParallelRows#MIN_PARALLEL_WORK}: 544 inputs
   * put every loop of the layer (the Cholesky's rows below a pivot included) on several threads.
   */
  @Test
  void theSameBitsOnOneThreadAndOnMany() {
    int rows = 40;
    int cols = 544;
    var layer = Layer.random(21, rows, cols, 1200);
    var h = layer.hessian();
    long k = (long) (0.6 * rows * cols);
    var prior = new double[rows * cols];
    var rnd = new Random(4);
    for (int i = 0; i < prior.length; i++) {
      prior[i] = rnd.nextGaussian();
    }
    var mask = layer.magnitudeMask(k);
    var one = ParallelRows.of(1);
    var many = ParallelRows.of(4);
    var nm = Structure.parse("2:4");
    record Case(String what, byte[] fixedMask, double[] prior, Structure structure) {}
    for (var c : new Case[] {new Case("unstructured", null, null, Structure.UNSTRUCTURED),
        new Case("2:4", null, null, nm), new Case("with a prior", null, prior, Structure.UNSTRUCTURED),
        new Case("2:4 with a prior", null, prior, nm), new Case("a fixed mask", mask, null, Structure.UNSTRUCTURED)}) {
      var a = SparseGpt.run("t", layer.w(), rows, cols, h, c.fixedMask(), c.prior(), c.structure(), k, 128, 0.01, one);
      var b = SparseGpt.run("t", layer.w(), rows, cols, h, c.fixedMask(), c.prior(), c.structure(), k, 128, 0.01, many);
      assertArrayEquals(a.mask(), b.mask(), c.what());
      assertArrayEquals(a.weights(), b.weights(), c.what());
      assertEquals(c.structure().unstructured() ? k : rows * cols / 2, b.pruned(), c.what());
    }
    assertArrayEquals(SparseGpt.upperCholeskyOfInverse("t", h.clone(), cols, one),
        SparseGpt.upperCholeskyOfInverse("t", h.clone(), cols, many));
    var indefinite = h.clone();
    indefinite[300 * cols + 300] = -1; // pivot 300 fails, after the parallel rows of the pivots before it
    var e = assertThrows(IllegalArgumentException.class, () -> SparseGpt.upperCholeskyOfInverse("layer.2.down",
        indefinite, cols, many));
    assertTrue(e.getMessage().contains("layer.2.down") && e.getMessage().contains("pivot 300"), e.getMessage());
  }

  @Test
  void deadInputsAreHandledAndBadHessiansAreNamed() {
    var layer = Layer.random(9, 4, 8, 30);
    var h = layer.hessian();
    for (int j = 0; j < 8; j++) { // input 3 never active
      h[3 * 8 + j] = 0;
      h[j * 8 + 3] = 0;
    }
    var r = SparseGpt.prune("t", layer.w(), 4, 8, h, 0.5, Structure.UNSTRUCTURED, 4, 0.01);
    assertEquals(16, r.pruned());
    for (int row = 0; row < 4; row++) {
      assertEquals(0.0, r.weights()[row * 8 + 3]);
    }
    var indefinite = new double[] {1, 2, 2, 1};
    var e = assertThrows(IllegalArgumentException.class, () -> SparseGpt.prune("layer.0.up", new double[] {1, 2},
        1, 2, indefinite, 0.5, Structure.UNSTRUCTURED, 128, 0.0));
    assertTrue(e.getMessage().contains("layer.0.up") && e.getMessage().contains("not positive definite"),
        e.getMessage());
    var nan = layer.hessian();
    nan[5] = Double.NaN;
    e = assertThrows(IllegalArgumentException.class, () -> SparseGpt.prune("layer.1.down", layer.w(), 4, 8, nan, 0.5,
        Structure.UNSTRUCTURED, 128, 0.01));
    assertTrue(e.getMessage().contains("layer.1.down") && e.getMessage().contains("NaN"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> SparseGpt.prune("t", layer.w(), 4, 8, layer.hessian(),
        0, new Structure(2, 3), 128, 0.01));
    assertTrue(e.getMessage().contains("not a multiple"), e.getMessage());
  }

  @Test
  void blockBudgetsSumToTheLayersBudget() {
    for (long k : new long[] {0, 1, 7, 100, 333}) {
      long[] b = SparseGpt.blockBudgets(k, 9, 37, 16);
      long sum = 0;
      for (long v : b) {
        sum += v;
      }
      assertEquals(k, sum);
      assertTrue(b[2] <= 9 * 5);
    }
  }

  static double[] absolute(double[] w) {
    var out = new double[w.length];
    for (int i = 0; i < w.length; i++) {
      out[i] = Math.abs(w[i]);
    }
    return out;
  }
}
