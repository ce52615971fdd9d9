package io.gaprune.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DiversitySamplerTest {

  /** Clusters of very different sizes: one sample per cluster, which a random sample would rarely give. */
  @Test
  void keepsOneExamplePerWellSeparatedCluster() {
    int clusters = 6;
    int[] sizes = {400, 200, 50, 20, 5, 2};
    var random = new Random(7);
    int n = Arrays.stream(sizes).sum();
    float[][] points = new float[n][];
    int[] cluster = new int[n];
    int row = 0;
    for (int c = 0; c < clusters; c++) {
      for (int i = 0; i < sizes[c]; i++) {
        float[] p = new float[8];
        for (int j = 0; j < p.length; j++) {
          p[j] = (float) (random.nextGaussian() * 0.05);
        }
        p[c] += 10f;
        cluster[row] = c;
        points[row++] = p;
      }
    }
    var selection = new DiversitySampler().select(points, clusters, 42);
    assertEquals(clusters, selection.indices().length);
    boolean[] seen = new boolean[clusters];
    for (int index : selection.indices()) {
      seen[cluster[index]] = true;
    }
    for (int c = 0; c < clusters; c++) {
      assertTrue(seen[c], "cluster " + c + " of size " + sizes[c] + " has no representative");
    }
    assertTrue(selection.converged());
  }

  @Test
  void sameSeedSameSampleDistinctSortedIndices() {
    var random = new Random(1);
    float[][] points = new float[300][16];
    for (float[] p : points) {
      for (int j = 0; j < p.length; j++) {
        p[j] = (float) random.nextGaussian();
      }
    }
    var sampler = new DiversitySampler();
    var a = sampler.select(points, 40, 99);
    var b = sampler.select(points, 40, 99);
    assertArrayEquals(a.indices(), b.indices());
    assertEquals(40, Arrays.stream(a.indices()).distinct().count());
    for (int i = 1; i < a.indices().length; i++) {
      assertTrue(a.indices()[i - 1] < a.indices()[i]);
    }
  }

  /** Many identical points: still k distinct indices, never the same example twice. */
  @Test
  void duplicatesStillGiveDistinctIndices() {
    float[][] points = new float[50][];
    for (int i = 0; i < points.length; i++) {
      points[i] = new float[] {i % 2, 0};
    }
    var selection = new DiversitySampler().select(points, 10, 3);
    assertEquals(10, Arrays.stream(selection.indices()).distinct().count());
  }

  @Test
  void sampleAtLeastTheDataKeepsEverything() {
    float[][] points = {{1, 0}, {0, 1}, {1, 1}};
    assertArrayEquals(new int[] {0, 1, 2}, new DiversitySampler().select(points, 3, 0).indices());
    assertArrayEquals(new int[] {0, 1, 2}, new DiversitySampler().select(points, 10, 0).indices());
  }

  @Test
  void badInputIsNamed() {
    var sampler = new DiversitySampler();
    var zero = assertThrows(IllegalArgumentException.class, () -> sampler.select(new float[][] {{1}}, 0, 0));
    assertTrue(zero.getMessage().contains("at least 1"), zero.getMessage());
    var ragged = assertThrows(IllegalArgumentException.class,
        () -> sampler.select(new float[][] {{1, 2}, {1}}, 1, 0));
    assertTrue(ragged.getMessage().contains("embedding 1 has 1 dimensions"), ragged.getMessage());
    var nan = assertThrows(IllegalArgumentException.class,
        () -> sampler.select(new float[][] {{1, 2}, {Float.NaN, 0}}, 1, 0));
    assertTrue(nan.getMessage().contains("embedding 1"), nan.getMessage());
    assertThrows(IllegalArgumentException.class, () -> sampler.select(new float[0][], 1, 0));
  }
}
