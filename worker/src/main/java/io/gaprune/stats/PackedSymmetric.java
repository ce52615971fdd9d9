package io.gaprune.stats;

/**
 * A symmetric {@code n × n} matrix stored as its upper triangle, row by row: {@code (0,0), (0,1) … (0,n−1),
 * (1,1) …}, {@code n·(n+1)/2} values. How the input Gram matrices {@code Σx·xᵀ} travel and are summed: half the
 * bytes of the full matrix, and the sum of packed matrices is the packed sum.
 */
public final class PackedSymmetric {

  private PackedSymmetric() {}

  /** Values of a packed {@code n × n} matrix. */
  public static int length(long n) {
    return Math.toIntExact(n * (n + 1) / 2);
  }

  /** The position of {@code (i, j)}, {@code i ≤ j}. */
  public static int index(int i, int j, int n) {
    return i * n - i * (i - 1) / 2 + (j - i);
  }

  /** Adds the upper triangle of a full row-major {@code n × n} matrix into {@code packed}. */
  public static void addUpper(double[] packed, double[] full, int n) {
    int at = 0;
    for (int i = 0; i < n; i++) {
      for (int j = i; j < n; j++) {
        packed[at++] += full[i * n + j];
      }
    }
  }

  /** The full row-major matrix, both triangles. */
  public static double[] unpack(double[] packed, int n) {
    if (packed.length != length(n)) {
      throw new IllegalArgumentException("a packed " + n + "×" + n + " matrix has " + length(n) + " values, got "
          + packed.length);
    }
    var full = new double[n * n];
    int at = 0;
    for (int i = 0; i < n; i++) {
      for (int j = i; j < n; j++) {
        full[i * n + j] = packed[at];
        full[j * n + i] = packed[at];
        at++;
      }
    }
    return full;
  }
}
