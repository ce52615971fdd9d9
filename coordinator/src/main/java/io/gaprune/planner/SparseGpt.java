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
    return run(name, weights, rows, cols, hessian, null, null, structure, k, block, dampening);
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
    return run(name, weights, rows, cols, hessian, null, logPrior, structure, k, block, dampening);
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
    return run(name, weights, rows, cols, hessian, mask, null, Structure.UNSTRUCTURED, 0, block, dampening);
  }

  private static Result run(String name, double[] weights, int rows, int cols, double[] hessian, byte[] fixedMask,
      double[] logPrior, Structure structure, long k, int block, double dampening) {
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
    double[] u = upperCholeskyOfInverse(name, h, cols);
    var mask = new byte[rows * cols];
    Arrays.fill(mask, (byte) 1);
    long[] blockBudgets = fixedMask == null && structure.unstructured() ? blockBudgets(k, rows, cols, block) : null;
    int pruneInGroup = structure.unstructured() ? 0 : structure.m() - structure.n();
    for (int start = 0, b = 0; start < cols; start += block, b++) {
      int end = Math.min(cols, start + block);
      int width = end - start;
      var err = new double[rows * width];
      if (fixedMask != null) {
        for (int r = 0; r < rows; r++) {
          for (int j = start; j < end; j++) {
            mask[r * cols + j] = fixedMask[r * cols + j];
          }
        }
      } else if (blockBudgets != null) {
        selectLowest(w, u, logPrior, rows, cols, start, end, blockBudgets[b], mask);
      }
      for (int j = start; j < end; j++) {
        if (pruneInGroup > 0 && fixedMask == null && (j - start) % structure.m() == 0) {
          selectPerRowGroup(w, u, logPrior, rows, cols, j, structure.m(), pruneInGroup, mask);
        }
        double d = u[j * cols + j];
        for (int r = 0; r < rows; r++) {
          int at = r * cols + j;
          if (mask[at] != 0) {
            continue; // kept: q = w, no error from this column
          }
          double e = w[at] / d;
          err[r * width + (j - start)] = e;
          // inside the block, at once: the columns right of j up to the block's end
          for (int c = j + 1; c < end; c++) {
            w[r * cols + c] -= e * u[j * cols + c];
          }
          w[at] = 0;
        }
      }
      if (end < cols) { // the lazy batch update of every column right of the block
        for (int r = 0; r < rows; r++) {
          for (int jj = 0; jj < width; jj++) {
            double e = err[r * width + jj];
            if (e == 0) {
              continue;
            }
            int uRow = (start + jj) * cols;
            int wRow = r * cols;
            for (int c = end; c < cols; c++) {
              w[wRow + c] -= e * u[uRow + c];
            }
          }
        }
      }
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
      long count, byte[] mask) {
    if (count == 0) {
      return;
    }
    int width = end - start;
    int size = rows * width;
    var scores = new double[size];
    var order = new Integer[size];
    for (int r = 0; r < rows; r++) {
      for (int j = start; j < end; j++) {
        scores[r * width + (j - start)] = saliency(w, u, logPrior, cols, r, j);
      }
    }
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

  /** In each row, the {@code prune} lowest {@code w²/U_jj²} of columns {@code [from, from + m)} (ties: lower column). */
  private static void selectPerRowGroup(double[] w, double[] u, double[] logPrior, int rows, int cols, int from,
      int m, int prune, byte[] mask) {
    var scores = new double[m];
    var order = new Integer[m];
    for (int r = 0; r < rows; r++) {
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
   *
   * @throws IllegalArgumentException naming the tensor when {@code H} is not positive definite after dampening
   */
  static double[] upperCholeskyOfInverse(String name, double[] h, int n) {
    double[] l = cholesky(name, h, n, "the dampened Hessian");
    // L⁻¹ (lower triangular), by forward substitution column by column
    var li = new double[n * n];
    for (int c = 0; c < n; c++) {
      li[c * n + c] = 1 / l[c * n + c];
      for (int r = c + 1; r < n; r++) {
        double s = 0;
        for (int t = c; t < r; t++) {
          s += l[r * n + t] * li[t * n + c];
        }
        li[r * n + c] = -s / l[r * n + r];
      }
    }
    // H⁻¹ = L⁻ᵀ·L⁻¹: (i, j) = Σ_{t ≥ max(i, j)} L⁻¹[t, i]·L⁻¹[t, j]
    var inv = new double[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = i; j < n; j++) {
        double s = 0;
        for (int t = j; t < n; t++) {
          s += li[t * n + i] * li[t * n + j];
        }
        inv[i * n + j] = s;
        inv[j * n + i] = s;
      }
    }
    // upper Cholesky of H⁻¹ is the transpose of its lower Cholesky factor
    double[] lower = cholesky(name, inv, n, "the inverse Hessian");
    var u = new double[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = i; j < n; j++) {
        u[i * n + j] = lower[j * n + i];
      }
    }
    return u;
  }

  /** Lower Cholesky factor of a symmetric positive definite {@code n × n} matrix. */
  static double[] cholesky(String name, double[] a, int n, String what) {
    var l = new double[n * n];
    for (int j = 0; j < n; j++) {
      double s = a[j * n + j];
      for (int t = 0; t < j; t++) {
        s -= l[j * n + t] * l[j * n + t];
      }
      if (!(s > 0)) {
        throw new IllegalArgumentException("tensor " + name + ": " + what + " is not positive definite (pivot "
            + j + " is " + s + "); raise the dampening or collect more calibration tokens");
      }
      double d = Math.sqrt(s);
      l[j * n + j] = d;
      for (int i = j + 1; i < n; i++) {
        double v = a[i * n + j];
        int ri = i * n;
        int rj = j * n;
        for (int t = 0; t < j; t++) {
          v -= l[ri + t] * l[rj + t];
        }
        l[i * n + j] = v / d;
      }
    }
    return l;
  }
}
