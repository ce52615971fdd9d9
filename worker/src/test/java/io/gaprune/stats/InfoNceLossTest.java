package io.gaprune.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

class InfoNceLossTest {

  /**
   * Two triplets in 2-D. Query 1 = (1,0): cosines to [p1, p2, n1, n2] = [1, 1/√2, 0, −1], target p1.
   * Query 2 = (0,1): cosines [0, 1/√2, 1, 0], target p2 (the hard negative n1 of the other triplet is closer,
   * so this query's loss is large). Loss = mean of −20·cos(target) + log Σ exp(20·cos) = (0.0028532670 + 5.8607176453) / 2.
   */
  @Test
  void handCheckedValue() {
    try (var m = NDManager.newBaseManager()) {
      double r = Math.sqrt(0.5);
      var q = m.create(new double[][] {{1, 0}, {0, 1}});
      var p = m.create(new double[][] {{1, 0}, {r, r}});
      var n = m.create(new double[][] {{0, 1}, {-1, 0}});
      double expected = 2.931785456155901; // computed by hand with the formula above (python: math.log/exp)
      assertEquals(expected, InfoNceLoss.loss(q, p, n).getDouble(), 1e-14);
      // cosine, not dot product: scaling embeddings changes nothing
      assertEquals(expected, InfoNceLoss.loss(q.mul(3), p.mul(0.5), n.mul(7)).getDouble(), 1e-14);
    }
  }

  @Test
  void theTargetIsTheQuerysOwnPositive() {
    try (var m = NDManager.newBaseManager()) {
      var q = m.create(new double[][] {{1, 0}, {0, 1}});
      var n = m.create(new double[][] {{-1, 0}, {0, -1}});
      // swapping the positives makes each query's target the far one: the loss must rise sharply
      double right = InfoNceLoss.loss(q, m.create(new double[][] {{1, 0}, {0, 1}}), n).getDouble();
      double wrong = InfoNceLoss.loss(q, m.create(new double[][] {{0, 1}, {1, 0}}), n).getDouble();
      assertEquals(Math.log(1 + 2 * Math.exp(-20) + Math.exp(-40)), right, 1e-15);
      assertEquals(Math.log(2 + Math.exp(20) + Math.exp(-20)), wrong, 1e-12);
    }
  }

  @Test
  void rejectsMismatchedShapes() {
    try (var m = NDManager.newBaseManager()) {
      var e = assertThrows(IllegalArgumentException.class,
          () -> InfoNceLoss.loss(m.zeros(new ai.djl.ndarray.types.Shape(2, 4)),
              m.zeros(new ai.djl.ndarray.types.Shape(3, 4)), m.zeros(new ai.djl.ndarray.types.Shape(2, 4))));
      assertEquals("InfoNCE needs queries and positives [B, H] and negatives [N, H], got (2, 4), (3, 4), (2, 4)",
          e.getMessage());
    }
  }
}
