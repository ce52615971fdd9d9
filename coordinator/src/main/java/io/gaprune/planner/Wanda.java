package io.gaprune.planner;

/**
 * Wanda (Sun et al. 2023, "A Simple and Effective Pruning Approach for Large Language Models"): the score of
 * weight {@code W_ij} of a linear layer {@code [rows = out, cols = in]} is {@code |W_ij|·sqrt(Σ_t x_tj²)}, the
 * weight times the norm of its input channel over the calibration tokens, and weights are compared within each
 * output row (the paper's comparison group; it found per-row clearly better than per-layer for LLMs). Pure
 * float64 arithmetic.
 *
 * <p>Budget: exactly {@code k = floor(sparsity × rows × cols)} per layer, {@code k / rows} in every row and the
 * remainder one more in the first rows (the paper prunes {@code int(cols × sparsity)} per row, which can miss
 * the layer's count by up to a weight per row). N:M: in each row, each group of M consecutive inputs keeps its
 * N highest scores. Ties: the lower column is pruned first, as the planner's fixed order.
 */
public final class Wanda {

  private Wanda() {}

  /**
   * @param weights row-major {@code [rows, cols]}
   * @param inputSquares {@code Σ_t x_tj²} per input channel (length cols)
   */
  public static double[] scores(String name, float[] weights, int rows, int cols, double[] inputSquares) {
    if (weights.length != (long) rows * cols) {
      throw new IllegalArgumentException("tensor " + name + ": " + weights.length + " weights, shape " + rows + "×"
          + cols);
    }
    if (inputSquares.length != cols) {
      throw new IllegalArgumentException("tensor " + name + ": " + inputSquares.length + " input norms for "
          + cols + " input channels: statistics and weights do not match");
    }
    var norms = new double[cols];
    for (int j = 0; j < cols; j++) {
      double v = inputSquares[j];
      if (!Double.isFinite(v) || v < 0) {
        throw new IllegalArgumentException("tensor " + name + ": input statistic Σx² of channel " + j + " is " + v);
      }
      norms[j] = Math.sqrt(v);
    }
    var out = new double[weights.length];
    for (int r = 0; r < rows; r++) {
      for (int j = 0; j < cols; j++) {
        out[r * cols + j] = Math.abs((double) weights[r * cols + j]) * norms[j];
      }
    }
    return out;
  }

  /** The mask (1 kept, 0 pruned) of one layer from its scores, per output row. */
  public static byte[] mask(double[] scores, int rows, int cols, double sparsity, Structure structure) {
    return mask(scores, rows, cols, structure.unstructured() ? Budgets.global(sparsity, (long) rows * cols) : 0,
        structure);
  }

  /**
   * The mask of one layer pruning exactly {@code k} weights when unstructured ({@code k / rows} in every row, the
   * remainder one more in the first rows); N:M ignores {@code k}.
   */
  public static byte[] mask(double[] scores, int rows, int cols, long k, Structure structure) {
    if (k < 0 || k > (long) rows * cols) {
      throw new IllegalArgumentException("cannot prune " + k + " of " + rows + "×" + cols + " weights");
    }
    // the planner's own per-group and per-row selections, over the same keys, so the tie rule is theirs
    var keys = ScoreKeys.keys(scores);
    if (!structure.unstructured()) {
      if (cols % structure.m() != 0) {
        throw new IllegalArgumentException(cols + " input columns are not a multiple of the " + structure
            + " group size " + structure.m());
      }
      return NmSelection.mask(keys, structure);
    }
    return RowSelection.mask(keys, cols, k);
  }
}
