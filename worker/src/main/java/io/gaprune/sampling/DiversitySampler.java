package io.gaprune.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The paper's representative sampling: cluster the query embeddings with k-means (k = the sample size,
 * seeded k-means++ start, Lloyd iterations) and keep, for each centroid, the nearest example not already
 * kept. The result covers the data's regions instead of its densest one, which a random sample favours.
 *
 * <p>Deterministic for a given seed: the initialisation draws from a {@link SplittableRandom}, ties in
 * distances go to the lower index, and the assignment loop runs in index order.
 */
public final class DiversitySampler {

  /** Upper bound on Lloyd iterations; assignments of real embeddings settle well before it. */
  public static final int DEFAULT_MAX_ITERATIONS = 30;

  private final int maxIterations;

  public DiversitySampler(int maxIterations) {
    if (maxIterations < 1) {
      throw new IllegalArgumentException("maxIterations must be at least 1, got " + maxIterations);
    }
    this.maxIterations = maxIterations;
  }

  public DiversitySampler() {
    this(DEFAULT_MAX_ITERATIONS);
  }

  /** The outcome: the kept indices in ascending order, and how the clustering went. */
  public record Selection(int[] indices, int iterations, boolean converged, double inertia) {}

  /**
   * Selects {@code k} rows of {@code points} (n × d). With {@code k >= n} every row is kept.
   *
   * @throws IllegalArgumentException for k &lt; 1, an empty or ragged matrix, or a non-finite value
   */
  public Selection select(float[][] points, int k, long seed) {
    if (k < 1) {
      throw new IllegalArgumentException("sample size must be at least 1, got " + k);
    }
    int n = points.length;
    if (n == 0) {
      throw new IllegalArgumentException("cannot sample from an empty set of embeddings");
    }
    int d = points[0].length;
    for (int i = 0; i < n; i++) {
      if (points[i].length != d) {
        throw new IllegalArgumentException(
            "embedding " + i + " has " + points[i].length + " dimensions, embedding 0 has " + d);
      }
      for (float v : points[i]) {
        if (!Float.isFinite(v)) {
          throw new IllegalArgumentException("embedding " + i + " holds a non-finite value " + v);
        }
      }
    }
    if (k >= n) {
      int[] all = new int[n];
      Arrays.setAll(all, i -> i);
      return new Selection(all, 0, true, 0);
    }

    double[] norms = new double[n];
    for (int i = 0; i < n; i++) {
      norms[i] = dot(points[i], points[i]);
    }
    float[][] centroids = initialCentroids(points, norms, k, new SplittableRandom(seed));
    int[] assignment = new int[n];
    Arrays.fill(assignment, -1);
    int iterations = 0;
    boolean converged = false;
    while (iterations < maxIterations) {
      iterations++;
      boolean changed = assign(points, norms, centroids, assignment);
      recompute(points, norms, centroids, assignment);
      if (!changed) {
        converged = true;
        break;
      }
    }
    double inertia = 0;
    for (int i = 0; i < n; i++) {
      inertia += squaredDistance(points[i], centroids[assignment[i]]);
    }
    return new Selection(nearestDistinct(points, centroids), iterations, converged, inertia);
  }

  /** k-means++: each next centre drawn with probability proportional to its squared distance. */
  private static float[][] initialCentroids(float[][] points, double[] norms, int k, SplittableRandom random) {
    int n = points.length;
    float[][] centroids = new float[k][];
    double[] nearest = new double[n];
    int first = random.nextInt(n);
    centroids[0] = points[first].clone();
    for (int i = 0; i < n; i++) {
      nearest[i] = squaredDistance(points[i], centroids[0]);
    }
    for (int c = 1; c < k; c++) {
      double total = 0;
      for (double v : nearest) {
        total += v;
      }
      int chosen;
      if (total <= 0) {
        // Every point coincides with a centre already chosen: any point will do, take them in order.
        chosen = c % n;
      } else {
        double target = random.nextDouble() * total;
        chosen = n - 1;
        double running = 0;
        for (int i = 0; i < n; i++) {
          running += nearest[i];
          if (running > target) {
            chosen = i;
            break;
          }
        }
      }
      centroids[c] = points[chosen].clone();
      for (int i = 0; i < n; i++) {
        nearest[i] = Math.min(nearest[i], squaredDistance(points[i], centroids[c]));
      }
    }
    return centroids;
  }

  private static boolean assign(float[][] points, double[] norms, float[][] centroids, int[] assignment) {
    int k = centroids.length;
    double[] centroidNorms = new double[k];
    for (int c = 0; c < k; c++) {
      centroidNorms[c] = dot(centroids[c], centroids[c]);
    }
    boolean changed = false;
    for (int i = 0; i < points.length; i++) {
      int best = 0;
      double bestDistance = Double.POSITIVE_INFINITY;
      for (int c = 0; c < k; c++) {
        // |x - c|² = |x|² + |c|² - 2 x·c: one dot product per pair instead of a difference vector.
        double distance = norms[i] + centroidNorms[c] - 2 * dot(points[i], centroids[c]);
        if (distance < bestDistance) {
          bestDistance = distance;
          best = c;
        }
      }
      if (assignment[i] != best) {
        assignment[i] = best;
        changed = true;
      }
    }
    return changed;
  }

  /** Means of the assigned points; an emptied cluster moves to the point farthest from its own centre. */
  private static void recompute(float[][] points, double[] norms, float[][] centroids, int[] assignment) {
    int k = centroids.length;
    int d = points[0].length;
    double[][] sums = new double[k][d];
    int[] counts = new int[k];
    for (int i = 0; i < points.length; i++) {
      int c = assignment[i];
      counts[c]++;
      for (int j = 0; j < d; j++) {
        sums[c][j] += points[i][j];
      }
    }
    for (int c = 0; c < k; c++) {
      if (counts[c] == 0) {
        continue;
      }
      for (int j = 0; j < d; j++) {
        centroids[c][j] = (float) (sums[c][j] / counts[c]);
      }
    }
    for (int c = 0; c < k; c++) {
      if (counts[c] > 0) {
        continue;
      }
      int farthest = 0;
      double farthestDistance = -1;
      for (int i = 0; i < points.length; i++) {
        double distance = squaredDistance(points[i], centroids[assignment[i]]);
        if (distance > farthestDistance) {
          farthestDistance = distance;
          farthest = i;
        }
      }
      centroids[c] = points[farthest].clone();
      assignment[farthest] = c;
    }
  }

  /** For each centroid in order, the nearest point not yet taken: exactly k distinct indices. */
  private static int[] nearestDistinct(float[][] points, float[][] centroids) {
    boolean[] taken = new boolean[points.length];
    int[] chosen = new int[centroids.length];
    for (int c = 0; c < centroids.length; c++) {
      int best = -1;
      double bestDistance = Double.POSITIVE_INFINITY;
      for (int i = 0; i < points.length; i++) {
        if (taken[i]) {
          continue;
        }
        double distance = squaredDistance(points[i], centroids[c]);
        if (distance < bestDistance) {
          bestDistance = distance;
          best = i;
        }
      }
      taken[best] = true;
      chosen[c] = best;
    }
    Arrays.sort(chosen);
    return chosen;
  }

  private static double dot(float[] a, float[] b) {
    double sum = 0;
    for (int j = 0; j < a.length; j++) {
      sum += (double) a[j] * b[j];
    }
    return sum;
  }

  private static double squaredDistance(float[] a, float[] b) {
    double sum = 0;
    for (int j = 0; j < a.length; j++) {
      double diff = (double) a[j] - b[j];
      sum += diff * diff;
    }
    return sum;
  }
}
