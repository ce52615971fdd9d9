package io.gaprune.planner;

import io.gaprune.stats.TensorStats;
import java.util.Objects;

/**
 * The per-weight statistics scoring reads, as means: Fisher {@code F = Σg²/batches} and mean gradient
 * {@code ḡ = Σg/batches} for the general and the domain half (GAPRUNE.md; the sums come from
 * {@link TensorStats}). Validated against the weights by the scorer, which names the tensor on a mismatch.
 *
 * <p>{@code inputSquaresGeneral} and {@code inputSquaresDomain} are a linear layer's {@code Σx²} per input
 * channel of each half, as summed (only their shape across channels is read: the calibrated DAI's input term),
 * or empty arrays where the session collected no input statistics.
 */
public record WeightStatistics(
    double[] fisherGeneral, double[] fisherDomain, double[] meanGradGeneral, double[] meanGradDomain,
    double[] inputSquaresGeneral, double[] inputSquaresDomain) {

  private static final double[] NONE = new double[0];

  public WeightStatistics {
    Objects.requireNonNull(fisherGeneral, "fisherGeneral");
    Objects.requireNonNull(fisherDomain, "fisherDomain");
    Objects.requireNonNull(meanGradGeneral, "meanGradGeneral");
    Objects.requireNonNull(meanGradDomain, "meanGradDomain");
    Objects.requireNonNull(inputSquaresGeneral, "inputSquaresGeneral");
    Objects.requireNonNull(inputSquaresDomain, "inputSquaresDomain");
  }

  /** Without input statistics. */
  public WeightStatistics(double[] fisherGeneral, double[] fisherDomain, double[] meanGradGeneral,
      double[] meanGradDomain) {
    this(fisherGeneral, fisherDomain, meanGradGeneral, meanGradDomain, NONE, NONE);
  }

  /** Whether the input channels' {@code Σx²} of both halves are here. */
  public boolean hasInputSquares() {
    return inputSquaresGeneral.length > 0;
  }

  /** Means from the merged sums, with the batch count of each half (both > 0). */
  public static WeightStatistics fromSums(TensorStats s, long generalBatches, long domainBatches) {
    if (generalBatches <= 0 || domainBatches <= 0) {
      throw new IllegalArgumentException("tensor " + s.name() + ": batch counts must be > 0, got general "
          + generalBatches + ", domain " + domainBatches);
    }
    return new WeightStatistics(divide(s.sumSqGeneral(), generalBatches), divide(s.sumSqDomain(), domainBatches),
        divide(s.sumGeneral(), generalBatches), divide(s.sumDomain(), domainBatches),
        s.inputs().squaresGeneral(), s.inputs().squaresDomain());
  }

  /**
   * The reference implementation's statistics (GAPRUNE.md item 3): Fisher = {@code Σ_b g_b² / samples} (the
   * squared gradient of each micro-batch's mean loss, summed, divided by the number of samples), mean gradients
   * {@code Σg / batches}. Use these with {@code dai-reference} to reproduce the reference's ranking: its Fisher is
   * smaller than the paper's {@code Σg²/batches} by the batch size, and since the Fisher and the magnitude terms
   * add, the scale changes which term dominates.
   */
  public static WeightStatistics referenceFromSums(TensorStats s, long generalSamples, long domainSamples,
      long generalBatches, long domainBatches) {
    if (generalSamples <= 0 || domainSamples <= 0 || generalBatches <= 0 || domainBatches <= 0) {
      throw new IllegalArgumentException("tensor " + s.name() + ": sample and batch counts must be > 0, got "
          + generalSamples + "/" + domainSamples + " samples, " + generalBatches + "/" + domainBatches + " batches");
    }
    return new WeightStatistics(divide(s.sumSqGeneral(), generalSamples), divide(s.sumSqDomain(), domainSamples),
        divide(s.sumGeneral(), generalBatches), divide(s.sumDomain(), domainBatches));
  }

  /** Means from the merged sums when every batch has a general and a domain half. */
  public static WeightStatistics fromSums(TensorStats s, long batches) {
    return fromSums(s, batches, batches);
  }

  private static double[] divide(double[] a, long by) {
    var out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i] / by;
    }
    return out;
  }

  public int size() {
    return fisherGeneral.length;
  }
}
