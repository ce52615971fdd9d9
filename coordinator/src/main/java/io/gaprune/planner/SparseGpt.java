package io.gaprune.planner;

import java.util.Arrays;
import java.util.Objects;

/**
 * SparseGPT (Frantar & Alistarh 2023, Algorithm 1) for one linear layer {@code W [rows = out, cols = in]} with
 * the Hessian of its reconstruction error {@code H = Σ_t x_t·x_tᵀ} ({@code cols × cols}, the sum over the
 * calibration tokens of the layer's inputs): prunes column block by column block and after each pruned column
 * updates the columns to its right so that {@code ‖W·X − Ŵ·X‖} stays small (the Optimal Brain Surgeon update).
 * Pure float64 arithmetic on plain arrays, as llm-compressor's {@code SparseGPT} with {@code sequential_update:
 * false} (every Hessian from the dense model):
 *
 * <ol>
 *   <li>input channels never active ({@code H_jj = 0}) get {@code H_jj = 1} and their weights are set to 0;
 *   <li>dampening: {@code H += λ·I} with {@code λ = dampening × mean(diag H)} (1% by default);
 *   <li>{@code U} = the upper Cholesky factor of {@code H⁻¹} ({@code H⁻¹ = Uᵀ·U});
 *   <li>per block of {@link #DEFAULT_BLOCK} columns: the mask of the block from the scores {@code w²/U_jj²} of
 *       the weights as they are when the block starts (adaptive mask selection), then column by column
 *       {@code err = (w_j − q_j)/U_jj}, {@code W[:, j:] −= err·U[j, j:]}; then the columns right of the block
 *       get the block's errors at once ({@code W[:, end:] −= Err·U[block, end:]}, the lazy batch update).
 * </ol>
 *
 * <p>Masks: unstructured prunes exactly {@code floor(sparsity × rows × cols)} weights of the layer, the budget
 * spread over the blocks in proportion to their size (llm-compressor cuts each block at the k-th score and
 * keeps {@code <=}, which prunes one weight more per block and more on ties; here each block prunes exactly its
 * share, ties to the lower flat index, so the layer's sparsity is exact). N:M selects per group of {@code M}
 * consecutive columns, when the group's first column is reached, the {@code M − N} lowest scores of each row.
 * {@link #reconstruct} runs the same updates with a mask given (the OBS reconstruction of any plan).
 */
public final class SparseGpt {

  /** Columns per block (the paper's and llm-compressor's 128). */
  public static final int DEFAULT_BLOCK = 128;
  /** Dampening as a share of the Hessian's mean diagonal (the paper's 1%). */
  public static final double DEFAULT_DAMPENING = 0.01;

  private SparseGpt() {}

  /**
   * The updated weights and the mask (1 kept, 0 pruned) of one layer.
   *
   * @param weights row-major {@code [rows, cols]}, pruned weights exactly 0
   */
  public record Result(double[] weights, byte[] mask, long pruned) {}

  /** SparseGPT with its own adaptive mask: unstructured at {@code sparsity}, or N:M when {@code structure} says. */
  public static Result prune(String name, double[] weights, int rows, int cols, double[] hessian, double sparsity,
      Structure structure, int block, double dampening) {
    Budgets.checkSparsity(sparsity);
    Objects.requireNonNull(structure, "structure");
    return prune(name, weights, rows, cols, hessian,
        structure.unstructured() ? Budgets.floorOf(sparsity, (long) rows * cols) : 0, structure, block, dampening);
  }

  /** SparseGPT pruning exactly {@code k} weights of the layer when unstructured (N:M ignores {@code k}). */
  public static Result prune(String name, double[] weights, int rows, int cols, double[] hessian, long k,
      Structure structure, int block, double dampening) {
    checkBudget(name, rows, cols, k, structure);
    return run(name, weights, rows, cols, hessian, null, null, structure, k, block, dampening, ParallelRows.shared());
  }

  /**
   * SparseGPT's adaptive mask with a prior: each weight's saliency {@code w²/U_jj²} times {@code e^logPrior},
   * compared as {@code log(w²/U_jj²) + logPrior} (a weight already 0 is pruned first). Pruning exactly {@code k}
   * weights when unstructured, as {@link #prune(String, double[], int, int, double[], long, Structure, int, double)}.
   * A prior of zeros selects what SparseGPT selects.
   *
   * @param logPrior per weight, row-major like {@code weights}; finite
   */
  public static Result pruneWithPrior(String name, double[] weights, int rows, int cols, double[] hessian, long k,
      double[] logPrior, Structure structure, int block, double dampening) {
    if (logPrior.length != weights.length) {
      throw new IllegalArgumentException("tensor " + name + ": prior has " + logPrior.length + " values, the weights "
          + weights.length);
    }
    for (int i = 0; i < logPrior.length; i++) {
      if (!Double.isFinite(logPrior[i])) {
        throw new IllegalArgumentException("tensor " + name + ": prior of weight " + i + " is " + logPrior[i]);
      }
    }
    checkBudget(name, rows, cols, k, structure);
    return run(name, weights, rows, cols, hessian, null, logPrior, structure, k, block, dampening,
        ParallelRows.shared());
  }

  private static void checkBudget(String name, int rows, int cols, long k, Structure structure) {
    Objects.requireNonNull(structure, "structure");
    if (!structure.unstructured() && cols % structure.m() != 0) {
      throw new IllegalArgumentException("tensor " + name + ": " + cols + " input columns are not a multiple of the "
          + structure + " group size " + structure.m());
    }
    if (k < 0 || k > (long) rows * cols) {
      throw new IllegalArgumentException("tensor " + name + ": cannot prune " + k + " of " + rows + "×" + cols
          + " weights");
    }
  }

  /**
   * The OBS reconstruction of a fixed mask (SparseGPT's updates without its mask selection): each pruned weight
   * is removed column by column and the kept weights to its right compensate for it on the calibration inputs.
   */
  public static Result reconstruct(String name, double[] weights, int rows, int cols, double[] hessian, byte[] mask,
      int block, double dampening) {
    if (mask.length != (long) rows * cols) {
      throw new IllegalArgumentException("tensor " + name + ": mask has " + mask.length + " values, the weights "
          + rows + "×" + cols);
    }
    return run(name, weights, rows, cols, hessian, mask, null, Structure.UNSTRUCTURED, 0, block, dampening,
        ParallelRows.shared());
  }

  /**
   * The one algorithm behind {@link #prune}, {@link #pruneWithPrior} and {@link #reconstruct}, on {@code par}'s
   * threads (the same bits at any count).
   *
   * @param fixedMask the mask to reconstruct, or null to select one (with {@code logPrior} when not null)
   */
  static Result run(String name, double[] weights, int rows, int cols, double[] hessian, byte[] fixedMask,
      double[] logPrior, Structure structure, long k, int block, double dampening, ParallelRows par) {
    if (weights.length != (long) rows * cols) {
      throw new IllegalArgumentException("tensor " + name + ": " + weights.length + " weights, shape " + rows + "×"
          + cols);
    }
    if (hessian.length != (long) cols * cols) {
      throw new IllegalArgumentException("tensor " + name + ": Hessian has " + hessian.length + " values, the layer's "
          + cols + " inputs need " + cols + "×" + cols);
    }
    if (block <= 0 || !(dampening >= 0)) {
      throw new IllegalArgumentException("block must be > 0 and dampening ≥ 0, got " + block + ", " + dampening);
    }
    for (int i = 0; i < hessian.length; i++) {
      if (!Double.isFinite(hessian[i])) {
        throw new IllegalArgumentException("tensor " + name + ": Hessian element (" + i / cols + ", " + i % cols
            + ") is " + hessian[i]);
      }
    }
    var w = weights.clone();
    var h = hessian.clone();
    double meanDiagonal = 0;
    for (int j = 0; j < cols; j++) {
      if (h[j * cols + j] == 0) { // an input never active: its weights act on nothing seen
        h[j * cols + j] = 1;
        for (int r = 0; r < rows; r++) {
          w[r * cols + j] = 0;
        }
      }
      meanDiagonal += h[j * cols + j];
    }
    meanDiagonal /= cols;
    double damp = dampening * meanDiagonal;
    for (int j = 0; j < cols; j++) {
      h[j * cols + j] += damp;
    }
    double[] u = upperCholeskyOfInverse(name, h, cols, par); // h becomes U: two cols × cols arrays of its own at the peak
    var mask = new byte[rows * cols];
    Arrays.fill(mask, (byte) 1);
    long[] blockBudgets = fixedMask == null && structure.unstructured() ? blockBudgets(k, rows, cols, block) : null;
    int pruneInGroup = structure.unstructured() ? 0 : structure.m() - structure.n();
    for (int start = 0, b = 0; start < cols; start += block, b++) {
      int from = start;
      int end = Math.min(cols, start + block);
      int width = end - start;
      if (fixedMask == null && blockBudgets != null) {
        selectLowest(w, u, logPrior, rows, cols, start, end, blockBudgets[b], mask, par);
      }
      // rows are independent from here to the block's end: each row's updates read only its own weights and U
      par.forEach(0, rows, (long) width * (cols - start), r -> {
        int row = r * cols;
        if (fixedMask != null) {
          System.arraycopy(fixedMask, row + from, mask, row + from, width);
        }
        var err = new double[width];
        for (int j = from; j < end; j++) {
          if (pruneInGroup > 0 && fixedMask == null && (j - from) % structure.m() == 0) {
            selectInRowGroup(w, u, logPrior, cols, r, j, structure.m(), pruneInGroup, mask);
          }
          int at = row + j;
          if (mask[at] != 0) {
            continue; // kept: q = w, no error from this column
          }
          double e = w[at] / u[j * cols + j];
          err[j - from] = e;
          // inside the block, at once: the columns right of j up to the block's end
          for (int c = j + 1; c < end; c++) {
            w[row + c] -= e * u[j * cols + c];
          }
          w[at] = 0;
        }
        // the lazy batch update of every column right of the block
        for (int jj = 0; jj < width && end < cols; jj++) {
          double e = err[jj];
          if (e == 0) {
            continue;
          }
          int uRow = (from + jj) * cols;
          for (int c = end; c < cols; c++) {
            w[row + c] -= e * u[uRow + c];
          }
        }
      });
    }
    long pruned = 0;
    for (int i = 0; i < mask.length; i++) {
      if (mask[i] == 0) {
        pruned++;
        w[i] = 0;
      }
    }
    return new Result(w, mask, pruned);
  }

  /**
   * {@code floor(k × size_b / n)} per block, the rounding deficit one weight each to the first blocks: the sum is
   * exactly k, and each block's share of the layer's budget is its share of the weights.
   */
  static long[] blockBudgets(long k, int rows, int cols, int block) {
    int blocks = (cols + block - 1) / block;
    var out = new long[blocks];
    long n = (long) rows * cols;
    long given = 0;
    for (int b = 0; b < blocks; b++) {
      long size = (long) rows * (Math.min(cols, (b + 1) * block) - b * block);
      out[b] = Math.multiplyExact(k, size) / n;
      given += out[b];
    }
    for (int b = 0; given < k; b = (b + 1) % blocks) {
      long size = (long) rows * (Math.min(cols, (b + 1) * block) - b * block);
      if (out[b] < size) {
        out[b]++;
        given++;
      }
    }
    return out;
  }

  /** Marks the {@code count} lowest {@code w²/U_jj²} of the block's columns pruned (ties: lower flat index first). */
  private static void selectLowest(double[] w, double[] u, double[] logPrior, int rows, int cols, int start, int end,
      long count, byte[] mask, ParallelRows par) {
    if (count == 0) {
      return;
    }
    int width = end - start;
    int size = rows * width;
    var scores = new double[size];
    par.forEach(0, rows, width * 4L, r -> {
      for (int j = start; j < end; j++) {
        scores[r * width + (j - start)] = saliency(w, u, logPrior, cols, r, j);
      }
    });
    var order = new Integer[size];
    for (int i = 0; i < size; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> {
      int c = Double.compare(scores[a], scores[b]);
      return c != 0 ? c : Integer.compare(a, b);
    });
    for (int i = 0; i < count; i++) {
      int at = order[i];
      mask[(at / width) * cols + start + at % width] = 0;
    }
  }

  /** In row {@code r}, the {@code prune} lowest {@code w²/U_jj²} of columns {@code [from, from + m)} (ties: lower column). */
  private static void selectInRowGroup(double[] w, double[] u, double[] logPrior, int cols, int r, int from, int m,
      int prune, byte[] mask) {
    var scores = new double[m];
    var order = new Integer[m];
    for (int g = 0; g < m; g++) {
      scores[g] = saliency(w, u, logPrior, cols, r, from + g);
      order[g] = g;
    }
    Arrays.sort(order, (a, b) -> {
      int c = Double.compare(scores[a], scores[b]);
      return c != 0 ? c : Integer.compare(a, b);
    });
    for (int i = 0; i < prune; i++) {
      mask[r * cols + from + order[i]] = 0;
    }
  }

  /** {@code w²/U_jj²}, or with a prior {@code log(w²/U_jj²) + logPrior} (−∞ for a weight already 0). */
  private static double saliency(double[] w, double[] u, double[] logPrior, int cols, int r, int j) {
    double d = u[j * cols + j];
    double v = w[r * cols + j];
    if (logPrior == null) {
      return v * v / (d * d);
    }
    return v == 0 ? Double.NEGATIVE_INFINITY : 2 * (Math.log(Math.abs(v)) - Math.log(Math.abs(d)))
        + logPrior[r * cols + j];
  }

  /**
   * {@code U} upper triangular with {@code H⁻¹ = Uᵀ·U}: Cholesky {@code H = L·Lᵀ}, {@code H⁻¹ = L⁻ᵀ·L⁻¹}, then the
   * upper Cholesky factor of that (torch's {@code cholesky}, {@code cholesky_inverse}, {@code cholesky(upper=True)}).
   * {@code L⁻¹} is held transposed, so that every inner product runs along rows in memory; each element is summed
   * in the same order as the textbook loops. In place: {@code h} is overwritten and returned as {@code U}, so the
   * factor needs one more {@code n × n} array, not four (757 MB each for Qwen3-4B's 9728 inputs).
   *
   * @throws IllegalArgumentException naming the tensor when {@code H} is not positive definite after dampening
   */
  static double[] upperCholeskyOfInverse(String name, double[] h, int n, ParallelRows par) {
    choleskyInPlace(name, h, n, "the dampened Hessian", par);
    double[] li = inverseTransposed(h, n, par);
    // H⁻¹ = L⁻ᵀ·L⁻¹ over L: (i, j) = Σ_{t ≥ max(i, j)} L⁻¹[t, i]·L⁻¹[t, j]
    par.forEach(0, n, n / 2L * n / 2, i -> {
      int ri = i * n;
      for (int j = i; j < n; j++) {
        int rj = j * n;
        double s = 0;
        for (int t = j; t < n; t++) {
          s += li[ri + t] * li[rj + t];
        }
        h[ri + j] = s;
        h[rj + i] = s;
      }
    });
    // the upper Cholesky factor of H⁻¹ is the transpose of its lower one
    choleskyInPlace(name, h, n, "the inverse Hessian", par);
    for (int i = 0; i < n; i++) {
      for (int j = i + 1; j < n; j++) {
        h[i * n + j] = h[j * n + i];
        h[j * n + i] = 0;
      }
    }
    return h;
  }

  /**
   * {@code L⁻¹} of a lower triangular {@code L} (read below and on the diagonal only) by forward substitution, held
   * transposed: column c of {@code L⁻¹} in row c of the result, so that each column is one thread's and its sums
   * run along rows in memory.
   */
  private static double[] inverseTransposed(double[] l, int n, ParallelRows par) {
    var li = new double[n * n];
    par.forEach(0, n, n / 2L * n / 2, c -> {
      int lc = c * n;
      li[lc + c] = 1 / l[c * n + c];
      for (int r = c + 1; r < n; r++) {
        int lr = r * n;
        double s = 0;
        for (int t = c; t < r; t++) {
          s += l[lr + t] * li[lc + t];
        }
        li[lc + r] = -s / l[lr + r];
      }
    });
    return li;
  }

  /**
   * The lower Cholesky factor of a symmetric positive definite {@code n × n} matrix, written over its lower
   * triangle and diagonal (the upper triangle is neither read nor changed); below each pivot, rows in parallel.
   */
  static void choleskyInPlace(String name, double[] a, int n, String what, ParallelRows par) {
    for (int j = 0; j < n; j++) {
      int rj = j * n;
      double s = a[rj + j];
      for (int t = 0; t < j; t++) {
        s -= a[rj + t] * a[rj + t];
      }
      if (!(s > 0)) {
        throw new IllegalArgumentException("tensor " + name + ": " + what + " is not positive definite (pivot "
            + j + " is " + s + "); raise the dampening or collect more calibration tokens");
      }
      double d = Math.sqrt(s);
      a[rj + j] = d;
      int col = j;
      par.forEach(j + 1, n, j, i -> {
        int ri = i * n;
        double v = a[ri + col];
        for (int t = 0; t < col; t++) {
          v -= a[ri + t] * a[rj + t];
        }
        a[ri + col] = v / d;
      });
    }
  }
}
