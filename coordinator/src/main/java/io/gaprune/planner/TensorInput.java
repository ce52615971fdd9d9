package io.gaprune.planner;

import java.util.Objects;

/**
 * One tensor in hand: its weights (flat, row-major) and, for methods that need them, its statistics.
 *
 * @param meta name and shape
 * @param weights the parameter values
 * @param stats the statistics, or {@code null} where the method needs none (magnitude, random)
 */
public record TensorInput(TensorMeta meta, float[] weights, WeightStatistics stats) {

  public TensorInput {
    Objects.requireNonNull(meta, "meta");
    Objects.requireNonNull(weights, "weights");
  }

  public String name() {
    return meta.name();
  }
}
