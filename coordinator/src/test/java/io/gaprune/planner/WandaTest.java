package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class WandaTest {

  @Test
  void scoresAreTheWeightTimesTheInputChannelsNormComputedFromTheTokens() {
    var rnd = new Random(3);
    int rows = 5;
    int cols = 7;
    int tokens = 23;
    var w = new float[rows * cols];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) rnd.nextGaussian();
    }
    var x = new double[tokens][cols];
    var squares = new double[cols];
    for (var token : x) {
      for (int j = 0; j < cols; j++) {
        token[j] = rnd.nextGaussian() * (j + 1);
        squares[j] += token[j] * token[j];
      }
    }
    var scores = Wanda.scores("t", w, rows, cols, squares);
    for (int r = 0; r < rows; r++) {
      for (int j = 0; j < cols; j++) {
        double norm = 0;
        for (var token : x) {
          norm += token[j] * token[j];
        }
        assertEquals(Math.abs(w[r * cols + j]) * Math.sqrt(norm), scores[r * cols + j], 1e-12);
      }
    }
  }

  @Test
  void masksPruneTheLowestPerRowWithTheLayersBudgetExactly() {
    int rows = 4;
    int cols = 6;
    var scores = new double[] {
        6, 5, 4, 3, 2, 1,
        1, 2, 3, 4, 5, 6,
        3, 3, 3, 3, 3, 3,
        9, 1, 8, 2, 7, 3};
    var mask = Wanda.mask(scores, rows, cols, 0.5, Structure.UNSTRUCTURED);
    assertEquals("000111", row(mask, 0, cols, true));
    assertEquals("111000", row(mask, 0, cols, false));
    assertEquals("000111", row(mask, 1, cols, false));
    assertEquals("000111", row(mask, 2, cols, false)); // ties: lower columns first
    assertEquals("101010", row(mask, 3, cols, false));
    // 0.3 of 24 = 7: 1 per row and the remainder of 3 to the first rows
    var m = Wanda.mask(scores, rows, cols, 0.3, Structure.UNSTRUCTURED);
    int[] perRow = new int[rows];
    int total = 0;
    for (int i = 0; i < m.length; i++) {
      if (m[i] == 0) {
        perRow[i / cols]++;
        total++;
      }
    }
    assertEquals(7, total);
    assertEquals(2, perRow[0]);
    assertEquals(2, perRow[1]);
    assertEquals(2, perRow[2]);
    assertEquals(1, perRow[3]);
  }

  @Test
  void nmKeepsNPerGroupOfEachRow() {
    var rnd = new Random(8);
    int rows = 6;
    int cols = 16;
    var scores = new double[rows * cols];
    for (int i = 0; i < scores.length; i++) {
      scores[i] = rnd.nextDouble();
    }
    var mask = Wanda.mask(scores, rows, cols, 0, new Structure(2, 4));
    for (int r = 0; r < rows; r++) {
      for (int g = 0; g < cols; g += 4) {
        int kept = 0;
        double minKept = Double.MAX_VALUE;
        double maxPruned = -1;
        for (int j = g; j < g + 4; j++) {
          int i = r * cols + j;
          kept += mask[i];
          if (mask[i] == 1) {
            minKept = Math.min(minKept, scores[i]);
          } else {
            maxPruned = Math.max(maxPruned, scores[i]);
          }
        }
        assertEquals(2, kept);
        assertTrue(maxPruned <= minKept);
      }
    }
  }

  @Test
  void badStatisticsAreNamed() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> Wanda.scores("layer.3.up", new float[6], 2, 3, new double[] {1, 2}));
    assertTrue(e.getMessage().contains("layer.3.up") && e.getMessage().contains("do not match"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Wanda.scores("layer.3.up", new float[6], 2, 3, new double[] {1, Double.NaN, 2}));
    assertTrue(e.getMessage().contains("channel 1"), e.getMessage());
  }

  /** The row's mask as digits; {@code inverted} flips them (for the first assertion's readability). */
  private static String row(byte[] mask, int r, int cols, boolean inverted) {
    var sb = new StringBuilder();
    for (int j = 0; j < cols; j++) {
      sb.append(inverted ? 1 - mask[r * cols + j] : mask[r * cols + j]);
    }
    return sb.toString();
  }
}
