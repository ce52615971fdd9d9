package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BudgetsTest {

  @Test
  void globalIsTheFloorOfTheDecimalSparsity() {
    assertEquals(29, Budgets.global(0.29, 100)); // (long) (0.29 * 100) would be 28
    assertEquals(3, Budgets.global(0.3, 10));
    assertEquals(0, Budgets.global(0.5, 1));
    assertEquals(1, Budgets.global(0.5, 2));
    assertEquals(0, Budgets.global(0, 1000));
    assertEquals(1000, Budgets.global(1, 1000));
    assertEquals(5_000_000_000L, Budgets.global(0.5, 10_000_000_000L));
  }

  @Test
  void apportionSplitsExactlyByShareWithTheDeficitToTheLargest() {
    // 10 of sizes 3, 6, 3: floors 2, 5, 2 = 9; the one left goes to the largest
    assertArrayEquals(new long[] {2, 6, 2}, Budgets.apportion(10, new long[] {3, 6, 3}));
    // equal sizes: the earlier first
    assertArrayEquals(new long[] {2, 1, 1}, Budgets.apportion(4, new long[] {5, 5, 5}));
    assertArrayEquals(new long[] {5, 5}, Budgets.apportion(10, new long[] {5, 5}));
    assertArrayEquals(new long[] {0, 0}, Budgets.apportion(0, new long[] {0, 0}));
    // k·n would overflow a long: still exact
    long big = 30_000_000_000L;
    assertArrayEquals(new long[] {big * 3 / 4 * 2 / 3 + 1, big * 3 / 4 / 3},
        Budgets.apportion(big * 3 / 4 + 1, new long[] {big * 2 / 3, big / 3}));
    var rnd = new java.util.SplittableRandom(4);
    for (int c = 0; c < 500; c++) {
      var sizes = new long[1 + rnd.nextInt(6)];
      long total = 0;
      for (int i = 0; i < sizes.length; i++) {
        sizes[i] = rnd.nextLong(1000);
        total += sizes[i];
      }
      long k = total == 0 ? 0 : rnd.nextLong(total + 1);
      var parts = Budgets.apportion(k, sizes);
      long sum = 0;
      for (int i = 0; i < sizes.length; i++) {
        assertTrue(parts[i] >= 0 && parts[i] <= sizes[i]);
        assertTrue(Math.abs(parts[i] - (double) k * sizes[i] / Math.max(1, total)) < 1 + 1e-9, "case " + c);
        sum += parts[i];
      }
      assertEquals(k, sum);
    }
    var e = assertThrows(IllegalArgumentException.class, () -> Budgets.apportion(7, new long[] {3, 3}));
    assertTrue(e.getMessage().contains("7 of 6"), e.getMessage());
  }

  @Test
  void uniformGivesTheDeficitToTheLargestLayers() {
    // sizes 10, 30, 20, 30 at 0.55: floors 5, 16, 11, 16 = 48; floor(0.55·90) = 49: one more to the largest,
    // the first of the two 30s (layer 1)
    assertArrayEquals(new long[] {5, 17, 11, 16}, Budgets.uniform(0.55, new long[] {10, 30, 20, 30}, 0.05, 0.95));
    // sizes 7, 7, 7 at 0.5: floors 3, 3, 3 = 9; floor(10.5) = 10: one more to the first (ties by order)
    assertArrayEquals(new long[] {4, 3, 3}, Budgets.uniform(0.5, new long[] {7, 7, 7}, 0.05, 0.95));
    // no deficit
    assertArrayEquals(new long[] {5, 10}, Budgets.uniform(0.5, new long[] {10, 20}, 0.05, 0.95));
  }

  @Test
  void uniformClampsTheRatioButNotTheExtremes() {
    // 0.99 is clamped to 0.95: 95 of 100 and 9 of 10 (floor 9.5), total floor(0.95·110) = 104: 95 + 9 = 104
    assertArrayEquals(new long[] {95, 9}, Budgets.uniform(0.99, new long[] {100, 10}, 0.05, 0.95));
    // 0.01 is raised to 0.05: 5 of 100, 0 of 10 (floor 0.5), total floor(5.5) = 5
    assertArrayEquals(new long[] {5, 0}, Budgets.uniform(0.01, new long[] {100, 10}, 0.05, 0.95));
    // 0 and 1 ask for nothing and everything
    assertArrayEquals(new long[] {0, 0}, Budgets.uniform(0, new long[] {100, 10}, 0.05, 0.95));
    assertArrayEquals(new long[] {100, 10}, Budgets.uniform(1, new long[] {100, 10}, 0.05, 0.95));
  }

  @Test
  void sparsityOutsideTheUnitIntervalIsRefused() {
    for (double s : new double[] {-0.1, 1.0000001, Double.NaN, Double.POSITIVE_INFINITY}) {
      var e = assertThrows(IllegalArgumentException.class, () -> Budgets.global(s, 10));
      assertTrue(e.getMessage().contains("sparsity must be in [0, 1]"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> PlannerConfig.of(s));
    }
    assertThrows(IllegalArgumentException.class, () -> Budgets.uniform(0.5, new long[] {1}, 0.6, 0.5));
  }
}
