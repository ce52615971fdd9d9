package io.gaprune.model;

import java.util.Arrays;

/** Arithmetic on tensor shapes shared by the model, statistics and file formats. */
public final class Shapes {

  private Shapes() {}

  /** Product of the dimensions, with overflow and negative dimensions rejected. */
  public static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    return n;
  }
}
