package io.gaprune.planner;

import io.gaprune.stats.InputSums;
import java.util.Locale;

/**
 * Which half's input statistics Wanda and SparseGPT read ({@code --calibration}): the domain set (the default:
 * the pruned model is for the domain, GAPrune's premise, and the independent harness calibrated Wanda
 * and SparseGPT on the domain), the general set, or both (the sums over both halves' tokens: one calibration set
 * of twice the size).
 */
public enum Calibration {
  DOMAIN,
  GENERAL,
  BOTH;

  /** @throws IllegalArgumentException naming the valid choices */
  public static Calibration parse(String text) {
    return switch (text.trim().toLowerCase(Locale.ROOT)) {
      case "domain" -> DOMAIN;
      case "general" -> GENERAL;
      case "both" -> BOTH;
      default -> throw new IllegalArgumentException("\"" + text + "\" is not one of domain, general, both");
    };
  }

  /** Σx² per input channel of the chosen half or halves. */
  public double[] squares(InputSums s) {
    return pick(s.squaresGeneral(), s.squaresDomain());
  }

  /** The packed Gram matrix Σx·xᵀ of the chosen half or halves. */
  public double[] gram(InputSums s) {
    return pick(s.gramGeneral(), s.gramDomain());
  }

  /** Σx² per input channel of the chosen half or halves, from a tensor's statistics. */
  public double[] squares(WeightStatistics s) {
    return pick(s.inputSquaresGeneral(), s.inputSquaresDomain());
  }

  private double[] pick(double[] general, double[] domain) {
    return switch (this) {
      case DOMAIN -> domain;
      case GENERAL -> general;
      case BOTH -> {
        var out = general.clone();
        for (int i = 0; i < out.length; i++) {
          out[i] += domain[i];
        }
        yield out;
      }
    };
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
