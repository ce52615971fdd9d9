package io.gaprune.stats;

import io.gaprune.model.Shapes;
import java.util.Arrays;
import java.util.Objects;

/**
 * Gradient statistics of one parameter tensor, summed over batches in float64 so that the result does not
 * depend on how batches are grouped into work units.
 *
 * <p>For every weight {@code i}: {@code sumSqGeneral[i] = Σ_b g_gen,b[i]²}, {@code sumGeneral[i] = Σ_b g_gen,b[i]}
 * and the same for the domain half, where {@code g_·,b} is the gradient of batch {@code b}'s mean InfoNCE loss.
 * {@code cosineSum} and {@code negativeCosines} are the sum over batches of the cosine between that batch's
 * general and domain gradient of this tensor, and how many of those cosines were negative.
 */
public record TensorStats(
    String name,
    long[] shape,
    double[] sumSqGeneral,
    double[] sumGeneral,
    double[] sumSqDomain,
    double[] sumDomain,
    double cosineSum,
    long negativeCosines) {

  public TensorStats {
    Objects.requireNonNull(name, "name");
    long n = Shapes.elementCount(shape);
    for (double[] a : new double[][] {sumSqGeneral, sumGeneral, sumSqDomain, sumDomain}) {
      if (a.length != n) {
        throw new IllegalArgumentException(
            "tensor " + name + ": statistic has " + a.length + " values, shape " + Arrays.toString(shape)
                + " needs " + n);
      }
    }
  }

  /** All-zero statistics for a tensor of this shape. */
  public static TensorStats zeros(String name, long[] shape) {
    int n = Math.toIntExact(Shapes.elementCount(shape));
    return new TensorStats(name, shape.clone(), new double[n], new double[n], new double[n], new double[n], 0, 0);
  }

  /** A deep copy: {@link #plusInPlace} mutates its receiver's arrays, so owners copy what they adopt. */
  public TensorStats copy() {
    return new TensorStats(name, shape.clone(), sumSqGeneral.clone(), sumGeneral.clone(), sumSqDomain.clone(),
        sumDomain.clone(), cosineSum, negativeCosines);
  }

  public int size() {
    return sumGeneral.length;
  }

  /** Adds {@code other} into this tensor's arrays in place (element-wise, float64). */
  public TensorStats plusInPlace(TensorStats other) {
    if (!name.equals(other.name) || !Arrays.equals(shape, other.shape)) {
      throw new IllegalArgumentException(
          "cannot add statistics of " + other.name + Arrays.toString(other.shape) + " to " + name
              + Arrays.toString(shape));
    }
    addInto(sumSqGeneral, other.sumSqGeneral);
    addInto(sumGeneral, other.sumGeneral);
    addInto(sumSqDomain, other.sumSqDomain);
    addInto(sumDomain, other.sumDomain);
    return new TensorStats(name, shape, sumSqGeneral, sumGeneral, sumSqDomain, sumDomain,
        cosineSum + other.cosineSum, negativeCosines + other.negativeCosines);
  }

  private static void addInto(double[] target, double[] add) {
    for (int i = 0; i < target.length; i++) {
      target[i] += add[i];
    }
  }

}
