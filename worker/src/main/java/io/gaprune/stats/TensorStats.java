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
 *
 * <p>The gradient sums {@code sumGeneral} and {@code sumDomain} are optional: a session whose scoring does not
 * read the gradient alignment collects the Fisher only, and then both are empty arrays ({@link
 * #hasGradientSums()} false); the cosines are computed in any case (one scalar per batch).
 *
 * <p>{@code inputs} are the input statistics of a linear layer (Σx², Σx·xᵀ per half: Wanda, SparseGPT), when
 * the session collects them; {@link InputSums#NONE} otherwise.
 */
public record TensorStats(
    String name,
    long[] shape,
    double[] sumSqGeneral,
    double[] sumGeneral,
    double[] sumSqDomain,
    double[] sumDomain,
    double cosineSum,
    long negativeCosines,
    InputSums inputs) {

  public TensorStats {
    Objects.requireNonNull(name, "name");
    inputs = inputs == null ? InputSums.NONE : inputs;
    if (inputs.hasSquares() && (shape.length != 2 || inputs.squaresGeneral().length != shape[1])) {
      throw new IllegalArgumentException("tensor " + name + ": input statistics of " + inputs.squaresGeneral().length
          + " channels, shape " + Arrays.toString(shape) + " is not a linear layer with that many inputs");
    }
    long n = Shapes.elementCount(shape);
    boolean gradients = sumGeneral.length != 0 || sumDomain.length != 0 || n == 0;
    for (double[] a : gradients ? new double[][] {sumSqGeneral, sumGeneral, sumSqDomain, sumDomain}
        : new double[][] {sumSqGeneral, sumSqDomain}) {
      if (a.length != n) {
        throw new IllegalArgumentException(
            "tensor " + name + ": statistic has " + a.length + " values, shape " + Arrays.toString(shape)
                + " needs " + n);
      }
    }
  }

  /** Gradient statistics without input statistics. */
  public TensorStats(String name, long[] shape, double[] sumSqGeneral, double[] sumGeneral, double[] sumSqDomain,
      double[] sumDomain, double cosineSum, long negativeCosines) {
    this(name, shape, sumSqGeneral, sumGeneral, sumSqDomain, sumDomain, cosineSum, negativeCosines, InputSums.NONE);
  }

  /** These statistics with {@code inputs} as their input statistics. */
  public TensorStats withInputs(InputSums inputs) {
    return new TensorStats(name, shape, sumSqGeneral, sumGeneral, sumSqDomain, sumDomain, cosineSum,
        negativeCosines, inputs);
  }

  /** All-zero statistics for a tensor of this shape, gradient sums included. */
  public static TensorStats zeros(String name, long[] shape) {
    return zeros(name, shape, true);
  }

  /** All-zero statistics for a tensor of this shape, with or without the gradient sums. */
  public static TensorStats zeros(String name, long[] shape, boolean gradientSums) {
    int n = Math.toIntExact(Shapes.elementCount(shape));
    int g = gradientSums ? n : 0;
    return new TensorStats(name, shape.clone(), new double[n], new double[g], new double[n], new double[g], 0, 0);
  }

  /** Bytes of heap its arrays take (input statistics included). */
  public long heapBytes() {
    long values = (long) sumSqGeneral.length + sumGeneral.length + sumSqDomain.length + sumDomain.length
        + inputs.squaresGeneral().length + inputs.squaresDomain().length + inputs.gramGeneral().length
        + inputs.gramDomain().length;
    return values * Double.BYTES;
  }

  /** Whether the gradient sums were collected (the Fisher sums always are). */
  public boolean hasGradientSums() {
    return sumGeneral.length == sumSqGeneral.length && sumDomain.length == sumSqDomain.length;
  }

  /** A deep copy: {@link #plusInPlace} mutates its receiver's arrays, so owners copy what they adopt. */
  public TensorStats copy() {
    return new TensorStats(name, shape.clone(), sumSqGeneral.clone(), sumGeneral.clone(), sumSqDomain.clone(),
        sumDomain.clone(), cosineSum, negativeCosines, inputs.copy());
  }

  public int size() {
    return sumSqGeneral.length;
  }

  /** Adds {@code other} into this tensor's arrays in place (element-wise, float64). */
  public TensorStats plusInPlace(TensorStats other) {
    if (!name.equals(other.name) || !Arrays.equals(shape, other.shape)) {
      throw new IllegalArgumentException(
          "cannot add statistics of " + other.name + Arrays.toString(other.shape) + " to " + name
              + Arrays.toString(shape));
    }
    if (hasGradientSums() != other.hasGradientSums()) {
      throw new IllegalArgumentException("cannot add statistics of " + name + (other.hasGradientSums() ? " with"
          : " without") + " gradient sums to statistics" + (hasGradientSums() ? " with" : " without") + " them");
    }
    addInto(sumSqGeneral, other.sumSqGeneral);
    addInto(sumGeneral, other.sumGeneral);
    addInto(sumSqDomain, other.sumSqDomain);
    addInto(sumDomain, other.sumDomain);
    return new TensorStats(name, shape, sumSqGeneral, sumGeneral, sumSqDomain, sumDomain,
        cosineSum + other.cosineSum, negativeCosines + other.negativeCosines, inputs.plusInPlace(other.inputs));
  }

  private static void addInto(double[] target, double[] add) {
    for (int i = 0; i < target.length; i++) {
      target[i] += add[i];
    }
  }

}
