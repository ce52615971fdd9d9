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
