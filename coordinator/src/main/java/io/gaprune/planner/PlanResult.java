package io.gaprune.planner;

import java.util.List;

/**
 * What a plan decided, for programmatic use (the stats JSON is this, written out).
 *
 * @param requestedSparsity the configured sparsity
 * @param actualSparsity pruned / candidates
 * @param candidates candidate weights
 * @param pruned weights pruned (the sum of the selections' k)
 * @param selections one per budget group (one for a global budget)
 * @param layers per layer group: size and pruned count
 * @param tensors per candidate tensor, in the fixed order
 * @param scores statistics of the final scores over all candidates
 * @param passes passes over the model (selection passes plus the mask pass)
 * @param warnings things a user should look at (a tensor pruned entirely, a clamped budget, ...)
 * @param structure the sparsity pattern of the masks: unstructured, or N:M (then {@code selections} is empty:
 *     every group of M decided its own N)
 */
public record PlanResult(
    double requestedSparsity,
    double actualSparsity,
    long candidates,
    long pruned,
    List<Selection> selections,
    List<GroupCount> layers,
    List<TensorCount> tensors,
    ScoreSummary scores,
    int passes,
    List<String> warnings,
    Structure structure) {

  /**
   * One exact selection.
   *
   * @param group {@code global} or a layer group
   * @param size candidate weights in it
   * @param k weights to prune (met exactly)
   * @param threshold the k-th score's key, and the ties at it
   * @param passes selection passes it took
   */
  public record Selection(String group, long size, long k, Threshold threshold, int passes) {}

  /** The weights a mask prunes: its zeros (1 kept, 0 pruned). */
  public static long pruned(byte[] mask) {
    long n = 0;
    for (byte b : mask) {
      n += b == 0 ? 1 : 0;
    }
    return n;
  }

  /** A layer group's size and pruned count. */
  public record GroupCount(String group, long size, long pruned) {
    public double sparsity() {
      return size == 0 ? 0 : (double) pruned / size;
    }
  }

  /**
   * A tensor's outcome.
   *
   * @param entirelyPruned every weight pruned
   * @param forced the budget left no choice (its selection pruned everything)
   */
  public record TensorCount(String name, long[] shape, String group, long size, long pruned,
      boolean entirelyPruned, boolean forced) {
    public double sparsity() {
      return size == 0 ? 0 : (double) pruned / size;
    }
  }

  /**
   * Score statistics over all candidates; quantiles are brackets from the 2^16-bucket histogram of the keys.
   *
   * @param quantiles per requested level q: the score range of the bucket that holds the q-quantile
   */
  public record ScoreSummary(long count, double min, double max, double mean, List<Quantile> quantiles) {}

  /** The q-quantile lies in [low, high]. */
  public record Quantile(double q, double low, double high) {}
}
