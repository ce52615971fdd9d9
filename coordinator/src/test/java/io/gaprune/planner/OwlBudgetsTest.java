package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class OwlBudgetsTest {

  private static List<String> names(int count) {
    return IntStream.range(0, count).mapToObj(l -> "layer." + l).toList();
  }

  /** OWL's own lines (prune_wanda_outlier), transcribed: for layers of equal size the ratios are these. */
  private static double[] owlsCode(double[] ratios, double sparsity, double lambda) {
    double min = java.util.Arrays.stream(ratios).min().orElseThrow();
    double max = java.util.Arrays.stream(ratios).max().orElseThrow();
    var r = new double[ratios.length];
    for (int l = 0; l < r.length; l++) {
      r[l] = (ratios[l] - min) * (1 / (max - min) * lambda * 2);
    }
    double mean = java.util.Arrays.stream(r).average().orElseThrow();
    var s = new double[r.length];
    for (int l = 0; l < r.length; l++) {
      s[l] = 1 - (r[l] - mean + (1 - sparsity));
    }
    return s;
  }

  @Test
  void equalSizedLayersGetOwlsRatios() {
    double[] outliers = {0.012, 0.034, 0.021, 0.008, 0.05, 0.017};
    var sizes = new long[6];
    java.util.Arrays.fill(sizes, 1536L * 384);
    var s = OwlBudgets.ratios(0.7, names(6), outliers, sizes, 0.08);
    assertArrayEquals(owlsCode(outliers, 0.7, 0.08), s, 1e-12);
    // the most outliers, the least pruned: layer 4 at 0.7 − (0.16 − mean), layer 3 at 0.7 + mean
    assertEquals(java.util.Arrays.stream(s).min().orElseThrow(), s[4]);
    assertEquals(java.util.Arrays.stream(s).max().orElseThrow(), s[3]);
    assertEquals(0.16, s[3] - s[4], 1e-12);
    assertEquals(0.7, java.util.Arrays.stream(s).average().orElseThrow(), 1e-12);
  }

  @Test
  void budgetsSumToTheGlobalBudgetAndRoundEachLayerByLessThanOne() {
    var rnd = new SplittableRandom(8);
    for (int c = 0; c < 2000; c++) {
      int count = 1 + rnd.nextInt(40);
      var sizes = new long[count];
      var outliers = new double[count];
      long total = 0;
      for (int l = 0; l < count; l++) {
        sizes[l] = 1 + rnd.nextLong(c % 2 == 0 ? 50 : 5_000_000);
        outliers[l] = rnd.nextInt(4) == 0 ? 0.02 : rnd.nextDouble() * 0.1; // some equal ratios
        total += sizes[l];
      }
      double sparsity = Math.round((0.2 + rnd.nextDouble() * 0.6) * 100) / 100.0;
      double lambda = rnd.nextDouble() * 0.1;
      var s = OwlBudgets.ratios(sparsity, names(count), outliers, sizes, lambda);
      var k = OwlBudgets.budgets(sparsity, names(count), outliers, sizes, lambda);
      double weighted = 0;
      long sum = 0;
      for (int l = 0; l < count; l++) {
        double target = s[l] * sizes[l];
        assertTrue(k[l] >= Math.floor(target - 1e-6) && k[l] <= Math.ceil(target + 1e-6) && k[l] <= sizes[l],
            "case " + c + " layer " + l + ": k " + k[l] + ", target " + target);
        weighted += target;
        sum += k[l];
        for (int o = 0; o < count; o++) { // more outliers, never more pruned
          if (outliers[o] > outliers[l]) {
            assertTrue(s[o] <= s[l], "case " + c);
          }
        }
      }
      assertEquals(Budgets.floorOf(sparsity, total), sum, "case " + c);
      assertEquals(sparsity * total, weighted, 1e-9 * total, "case " + c + ": Σ s·n = S·Σ n");
    }
  }

  @Test
  void noSpreadGivesTheUniformSparsity() {
    long[] sizes = {10, 20, 30};
    assertArrayEquals(new double[] {0.5, 0.5, 0.5}, OwlBudgets.ratios(0.5, names(3), new double[] {0.03, 0.03, 0.03},
        sizes, 0.08), 0);
    assertArrayEquals(new double[] {0.5, 0.5, 0.5}, OwlBudgets.ratios(0.5, names(3), new double[] {0.01, 0.02, 0.03},
        sizes, 0), 0);
    assertArrayEquals(new long[] {5, 10, 15}, OwlBudgets.budgets(0.5, names(3), new double[] {0.01, 0.02, 0.03},
        sizes, 0));
    assertArrayEquals(new long[] {0, 0, 0}, OwlBudgets.budgets(0, names(3), new double[] {0.01, 0.02, 0.03},
        sizes, 0));
    assertArrayEquals(sizes, OwlBudgets.budgets(1, names(3), new double[] {0.01, 0.02, 0.03}, sizes, 0));
    // targets 3.5, 3.5, 3.5 of 10 and a total of floor(10.5) = 10: the one weight rounding leaves over goes to
    // the largest fractional part, of equal ones the earliest
    assertArrayEquals(new long[] {4, 3, 3}, OwlBudgets.budgets(0.35, names(3), new double[] {0.02, 0.02, 0.02},
        new long[] {10, 10, 10}, 0.05));
    // targets 0.9 and 2.7 (3 and 9 weights at 0.3), floors 0 + 2 of a total floor(3.6) = 3: the larger
    // fractional part gets the weight, not the larger layer (as the uniform budget would give it)
    assertArrayEquals(new long[] {1, 2}, OwlBudgets.budgets(0.3, names(2), new double[] {0.01, 0.01},
        new long[] {3, 9}, 0.05));
  }

  @Test
  void outlierRatioCountsScoresAboveMTimesTheLayersMean() {
    // mean 30/10 = 3: M = 5 puts the threshold at 15, which only 21 exceeds; at M = 7 it is 21, not exceeded
    double[] a = {1, 1, 1, 1, 1};
    double[] b = {1, 1, 1, 1, 21};
    assertEquals(0.1, OwlBudgets.outlierRatio(List.of(a, b), 5));
    assertEquals(0.0, OwlBudgets.outlierRatio(List.of(a, b), 7));
    assertEquals(0.0, OwlBudgets.outlierRatio(List.of(new double[] {2, 2, 2}), 1));
    var e = assertThrows(IllegalArgumentException.class, () -> OwlBudgets.outlierRatio(List.of(new double[] {-1}), 5));
    assertTrue(e.getMessage().contains("≥ 0"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> OwlBudgets.outlierRatio(List.of(a), 0));
    assertThrows(IllegalArgumentException.class, () -> OwlBudgets.outlierRatio(new ArrayList<>(), 5));
  }

  @Test
  void badInputIsNamed() {
    long[] sizes = {100, 100, 100};
    double[] outliers = {0.0, 0.05, 0.1};
    var tooWide = assertThrows(IllegalArgumentException.class,
        () -> OwlBudgets.ratios(0.95, names(3), outliers, sizes, 0.08));
    assertTrue(tooWide.getMessage().contains("layer layer.0 would get sparsity 1.03")
        && tooWide.getMessage().contains("choose a smaller λ"), tooWide.getMessage());
    var ratio = assertThrows(IllegalArgumentException.class,
        () -> OwlBudgets.ratios(0.5, names(3), new double[] {0.1, 1.5, Double.NaN}, sizes, 0.08));
    assertTrue(ratio.getMessage().contains("layer layer.1: outlier ratio must be in [0, 1], got 1.5"),
        ratio.getMessage());
    var lambda = assertThrows(IllegalArgumentException.class,
        () -> OwlBudgets.ratios(0.5, names(3), outliers, sizes, Double.NaN));
    assertTrue(lambda.getMessage().contains("λ must be a number ≥ 0"), lambda.getMessage());
    var lengths = assertThrows(IllegalArgumentException.class,
        () -> OwlBudgets.ratios(0.5, names(2), outliers, sizes, 0.08));
    assertTrue(lengths.getMessage().contains("2 layers, 3 ratios, 3 sizes"), lengths.getMessage());
    var size = assertThrows(IllegalArgumentException.class,
        () -> OwlBudgets.ratios(0.5, names(3), outliers, new long[] {100, 0, 100}, 0.08));
    assertTrue(size.getMessage().contains("layer layer.1: size must be positive"), size.getMessage());
    assertThrows(IllegalArgumentException.class, () -> OwlBudgets.ratios(1.5, names(3), outliers, sizes, 0.08));
  }
}
