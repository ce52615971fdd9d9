package io.gaprune.planner;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Per-tensor normalisation of the raw scores (the reference's {@code --score-norm}), which puts every tensor's
 * scores on one scale before a global budget compares them.
 */
public enum PostProcess {
  /** Raw scores. */
  NONE,
  /** {@code sigmoid(z / T)} with {@code z = (x − mean) / (std + 1e-8)}, std unbiased (n − 1), as torch's. */
  ZSCORE_SIGMOID,
  /** {@code (x − min) / (max − min + 1e-8)}. */
  MINMAX,
  /** The 0-based ascending rank divided by n (ties in flat-index order). */
  RANK;

  /** @throws IllegalArgumentException naming the valid values */
  public static PostProcess parse(String s) {
    String t = s.trim().toUpperCase(Locale.ROOT).replace('-', '_');
    for (var p : values()) {
      if (p.name().equals(t)) {
        return p;
      }
    }
    throw new IllegalArgumentException("unknown score post-processing \"" + s + "\" (valid: "
        + Arrays.stream(values()).map(PostProcess::toString).collect(Collectors.joining(", ")) + ")");
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
