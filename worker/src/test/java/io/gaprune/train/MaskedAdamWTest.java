package io.gaprune.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MaskedAdamWTest {

  private static final MaskedAdamW.Settings SETTINGS = new MaskedAdamW.Settings(0.1, 0.9, 0.999, 1e-8, 0.01);

  /** Three steps against AdamW written out element by element in plain Java (float64). */
  @Test
  void matchesAdamWComputedByHand() {
    double[] w = {0.5, -1.0, 2.0, 0.0};
    double[][] grads = {{0.1, -0.2, 0.3, 0.4}, {-0.5, 0.1, 0.0, 0.2}, {0.2, 0.2, -0.1, -0.3}};
    double[] expected = w.clone();
    double[] m = new double[4];
    double[] v = new double[4];
    for (int t = 1; t <= grads.length; t++) {
      for (int i = 0; i < 4; i++) {
        double g = grads[t - 1][i];
        m[i] = 0.9 * m[i] + 0.1 * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        double mHat = m[i] / (1 - Math.pow(0.9, t));
        double vHat = v[i] / (1 - Math.pow(0.999, t));
        expected[i] = expected[i] * (1 - 0.1 * 0.01) - 0.1 * mHat / (Math.sqrt(vHat) + 1e-8);
      }
    }
    try (NDManager manager = NDManager.newBaseManager();
        var optimizer = new MaskedAdamW(SETTINGS, Map.of(), manager)) {
      NDArray weight = manager.create(w);
      var parameters = Map.of("w", weight);
      for (double[] g : grads) {
        optimizer.update(parameters, Map.of("w", manager.create(g)));
      }
      assertArrayEquals(expected, weight.toDoubleArray(), 1e-12);
      assertEquals(3, optimizer.step());
    }
  }

  /** Pruned weights are exactly zero after every step, even those that were not zero before the first. */
  @Test
  void prunedWeightsStayExactlyZero() {
    try (NDManager manager = NDManager.newBaseManager();
        var mask = manager.create(new byte[] {1, 0, 1, 0, 0, 1}, new Shape(2, 3)).toType(ai.djl.ndarray.types.DataType.UINT8, false);
        var optimizer = new MaskedAdamW(SETTINGS, Map.of("w", mask), manager)) {
      NDArray weight = manager.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3));
      var parameters = Map.of("w", weight);
      for (int step = 0; step < 20; step++) {
        NDArray gradient = manager.randomNormal(new Shape(2, 3));
        optimizer.update(parameters, Map.of("w", gradient));
        float[] values = weight.toFloatArray();
        assertEquals(0f, values[1]);
        assertEquals(0f, values[3]);
        assertEquals(0f, values[4]);
        assertTrue(values[0] != 0f && values[2] != 0f && values[5] != 0f);
        gradient.close();
      }
    }
  }

  @Test
  void aBadGradientChangesNothing() {
    try (NDManager manager = NDManager.newBaseManager();
        var optimizer = new MaskedAdamW(SETTINGS, Map.of(), manager)) {
      NDArray a = manager.create(new float[] {1, 2});
      NDArray b = manager.create(new float[] {3, 4});
      var parameters = Map.of("a", a, "b", b);
      var gradients = new java.util.LinkedHashMap<String, NDArray>();
      gradients.put("a", manager.create(new float[] {0.5f, 0.5f}));
      gradients.put("b", manager.create(new float[] {Float.NaN, 1}));
      var error = assertThrows(IllegalArgumentException.class, () -> optimizer.update(parameters, gradients));
      assertTrue(error.getMessage().contains("gradient of b holds NaN"), error.getMessage());
      assertArrayEquals(new float[] {1, 2}, a.toFloatArray());
      assertEquals(0, optimizer.step());
      var shape = assertThrows(IllegalArgumentException.class,
          () -> optimizer.update(parameters, Map.of("a", manager.create(new float[] {1, 2, 3}))));
      assertTrue(shape.getMessage().contains("gradient of a has shape"), shape.getMessage());
      var unknown = assertThrows(IllegalArgumentException.class,
          () -> optimizer.update(parameters, Map.of("c", manager.create(new float[] {1}))));
      assertTrue(unknown.getMessage().contains("unknown parameter c"), unknown.getMessage());
    }
  }

  @Test
  void settingsAreChecked() {
    assertThrows(IllegalArgumentException.class, () -> new MaskedAdamW.Settings(0, 0.9, 0.999, 1e-8, 0));
    assertThrows(IllegalArgumentException.class, () -> new MaskedAdamW.Settings(1e-3, 1, 0.999, 1e-8, 0));
    assertThrows(IllegalArgumentException.class, () -> new MaskedAdamW.Settings(1e-3, 0.9, 0.999, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new MaskedAdamW.Settings(1e-3, 0.9, 0.999, 1e-8, -1));
  }
}
