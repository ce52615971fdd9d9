package io.gaprune.planner;

import java.util.Arrays;

/**
 * The row-wise budget ({@link BudgetMode#ROWS}): each candidate prunes {@code k = floor(sparsity × size)} of its
 * weights, {@code k / rows} in every output row and the remainder one more in the first rows, each row its
 * lowest scores. Wanda's comparison group, for any scored method. Ties are pruned in flat-index order, as a full
 * sort of the row by (score, index) would, like the planner's first-come rule. A tensor is decided as it is read:
 * no selection across tensors.
 */
public final class RowSelection {

  private RowSelection() {}

  /** The weights a tensor of {@code size} prunes at {@code sparsity}. */
  public static long budget(double sparsity, long size) {
    return Budgets.global(sparsity, size);
  }

  /**
   * The mask of one tensor (1 kept, 0 pruned).
   *
   * @param keys the tensor's score keys ({@link ScoreKeys}, ordered as unsigned values) in row-major order
   * @param cols the row length (the tensor's last dimension)
   * @param k the weights to prune in the whole tensor
   */
  public static byte[] mask(long[] keys, int cols, long k) {
    if (cols <= 0 || keys.length % cols != 0) {
      throw new IllegalArgumentException(keys.length + " scores do not tile into rows of " + cols);
    }
    int rows = keys.length / cols;
    if (k < 0 || k > keys.length) {
      throw new IllegalArgumentException("cannot prune " + k + " of " + keys.length + " weights");
    }
    var mask = new byte[keys.length];
    Arrays.fill(mask, (byte) 1);
    long perRow = rows == 0 ? 0 : k / rows;
    long extra = rows == 0 ? 0 : k % rows;
    var sorted = new long[cols];
    for (int r = 0; r < rows; r++) {
      int prune = (int) (perRow + (r < extra ? 1 : 0));
      if (prune == 0) {
        continue;
      }
      int base = r * cols;
      // the prune-th smallest key (signed order of key ^ MIN_VALUE is the keys' unsigned order), then every key
      // below it and the first of the equal ones in index order
      for (int j = 0; j < cols; j++) {
        sorted[j] = keys[base + j] ^ Long.MIN_VALUE;
      }
      Arrays.sort(sorted);
      long threshold = sorted[prune - 1];
      int below = 0;
      for (int j = 0; j < cols; j++) {
        if ((keys[base + j] ^ Long.MIN_VALUE) < threshold) {
          below++;
        }
      }
      int equalToPrune = prune - below;
      for (int j = 0; j < cols; j++) {
        long key = keys[base + j] ^ Long.MIN_VALUE;
        if (key < threshold) {
          mask[base + j] = 0;
        } else if (key == threshold && equalToPrune > 0) {
          mask[base + j] = 0;
          equalToPrune--;
        }
      }
    }
    return mask;
  }
}
