package io.gaprune.planner;

/** Which alignment {@code s} the {@code dai} method multiplies by. */
public enum Alignment {
  /**
   * The paper's: one cosine per tensor between its mean general and mean domain gradients, the same factor for
   * every weight of the tensor.
   */
  TENSOR,
  /**
   * Per weight: the cosine between the two mean gradients restricted to a small window around the weight (a
   * {@code w×w} neighbourhood in the tensor's 2-D layout, clipped at the edges), in [−1, 1]. See
   * docs/planner.md for why.
   */
  LOCAL
}
