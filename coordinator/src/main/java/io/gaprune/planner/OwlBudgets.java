package io.gaprune.planner;

import io.gaprune.model.LayerType;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * OWL's layer-wise sparsity (Yin et al. 2023, "Outlier Weighed Layerwise Sparsity"): layers with more outliers
 * of {@code |W|·‖X‖} are pruned less, layers with fewer more, around the target sparsity. Pure arithmetic from
 * per-layer outlier ratios; the ratios themselves need the activation norms of each layer's inputs
 * ({@link #outlierRatio} computes one from a layer's outlier scores, {@link #measure} all of a model's from its
 * input statistics).
 *
 * <p>OWL's rule, as its code computes it: with outlier ratios {@code D_l}, {@code x_l = (D_l − min D) /
 * (max D − min D) · 2λ} (in [0, 2λ]) and layer sparsity {@code s_l = S − (x_l − mean x)}. Two decisions where
 * OWL's setting (equal-size LLaMA blocks) leaves it open:
 * <ul>
 *   <li>the mean is weighted by the layers' sizes, so that {@code Σ s_l·n_l = S·Σ n_l} holds for layers of
 *       different sizes too (for equal sizes it is OWL's plain mean); and the integer budgets are apportioned
 *       by largest remainder, so that they sum to exactly {@code floor(S·Σ n)} as the global budget does;</li>
 *   <li>equal outlier ratios everywhere (OWL divides by max − min = 0) give every layer S; a layer sparsity
 *       outside [0, 1] is refused naming the layer and the λ that fits (OWL clamps at 0.01, which changes the
 *       total).</li>
 * </ul>
 */
public final class OwlBudgets {

  /** OWL's defaults: λ = 0.08, outliers above M = 5 times the layer's mean score. */
  public static final double DEFAULT_LAMBDA = 0.08;

  public static final double DEFAULT_OUTLIER_MULTIPLE = 5;

  private OwlBudgets() {}

  /**
   * A layer's outlier ratio: the share of its outlier scores ({@code |W_ij|·‖X_j‖} over all its tensors, as OWL
   * concatenates a block's sublayers) above {@code multiple} times their mean.
   */
  public static double outlierRatio(List<double[]> scores, double multiple) {
    checkMultiple(multiple);
    double sum = 0;
    long n = 0;
    for (double[] s : scores) {
      sum += scoreSum(s);
      n += s.length;
    }
    if (n == 0) {
      throw new IllegalArgumentException("a layer without weights has no outlier ratio");
    }
    double threshold = multiple * (sum / n);
    long above = 0;
    for (double[] s : scores) {
      above += countAbove(s, threshold);
    }
    return (double) above / n;
  }

  private static void checkMultiple(double multiple) {
    if (!(multiple > 0) || Double.isInfinite(multiple)) {
      throw new IllegalArgumentException("the outlier multiple M must be a positive number, got " + multiple);
    }
  }

  private static double scoreSum(double[] scores) {
    double sum = 0;
    for (double v : scores) {
      if (!(v >= 0) || Double.isInfinite(v)) {
        throw new IllegalArgumentException("outlier scores are |W|·‖X‖: finite and ≥ 0, got " + v);
      }
      sum += v;
    }
    return sum;
  }

  private static long countAbove(double[] scores, double threshold) {
    long above = 0;
    for (double v : scores) {
      if (v > threshold) {
        above++;
      }
    }
    return above;
  }

  /**
   * What OWL measures of a model: per layer group (in the model's order) its outlier ratio and its candidate
   * weights.
   */
  public record Outliers(List<String> layers, double[] ratios, long[] sizes) {

    /** Each layer's outlier ratio by name, in layer order (for notes and reports). */
    public Map<String, Double> ratiosByLayer() {
      var out = new LinkedHashMap<String, Double>();
      for (int l = 0; l < layers.size(); l++) {
        out.put(layers.get(l), ratios[l]);
      }
      return out;
    }

    /** Weights to prune per layer at {@code sparsity}, in layer order ({@link #budgets}). */
    public Map<String, Long> layerBudgets(double sparsity, double lambda) {
      var k = budgets(sparsity, layers, ratios, sizes, lambda);
      var out = new LinkedHashMap<String, Long>();
      for (int l = 0; l < k.length; l++) {
        out.put(layers.get(l), k[l]);
      }
      return out;
    }
  }

  /**
   * Each layer group's outlier ratio of {@code |W_ij|·sqrt(Σx_j²)} over its candidate linear weights, the input
   * norms of {@code calibration}'s half as Wanda reads them. Two passes over the candidates, one tensor in hand:
   * the layer's mean score, then the scores above {@code multiple} times it; the same ratio as
   * {@link #outlierRatio} over the layer's scores concatenated in the model's order.
   *
   * @throws IllegalArgumentException when a candidate is not a linear weight [out, in] or lacks its input norms
   */
  public static Outliers measure(LayerwisePruner.Model model, Set<LayerType> layerTypes, Calibration calibration,
      double multiple) throws IOException {
    checkMultiple(multiple);
    var candidates = model.tensors().stream()
        .filter(t -> LayerType.isCandidate(layerTypes, t.name(), t.shape()))
        .toList();
    if (candidates.isEmpty()) {
      throw new IllegalArgumentException("no candidate tensors for layer types " + LayerType.describe(layerTypes));
    }
    var sums = new LinkedHashMap<String, double[]>(); // layer → {Σ score, weights}
    for (var t : candidates) {
      var s = sums.computeIfAbsent(LayerType.group(t.name()), g -> new double[2]);
      s[0] += scoreSum(scores(model, t, calibration));
      s[1] += t.size();
    }
    var above = new LinkedHashMap<String, Long>();
    for (var t : candidates) {
      var s = sums.get(LayerType.group(t.name()));
      above.merge(LayerType.group(t.name()), countAbove(scores(model, t, calibration), multiple * (s[0] / s[1])),
          Long::sum);
    }
    var layers = List.copyOf(sums.keySet());
    var ratios = new double[layers.size()];
    var sizes = new long[layers.size()];
    for (int l = 0; l < ratios.length; l++) {
      sizes[l] = (long) sums.get(layers.get(l))[1];
      if (sizes[l] == 0) {
        throw new IllegalArgumentException("layer " + layers.get(l) + " has no weights, so no outlier ratio");
      }
      ratios[l] = (double) above.get(layers.get(l)) / sizes[l];
    }
    return new Outliers(layers, ratios, sizes);
  }

  private static double[] scores(LayerwisePruner.Model model, TensorMeta t, Calibration calibration)
      throws IOException {
    if (t.shape().length != 2) {
      throw new IllegalArgumentException("budget owl measures outliers of linear weights [out, in]; " + t.name()
          + " has shape " + Arrays.toString(t.shape()));
    }
    var inputs = model.inputs(t);
    if (!inputs.hasSquares()) {
      throw new IllegalArgumentException("tensor " + t.name() + " has no input statistics Σx², which budget owl "
          + "needs for its outlier ratios: collect them in the session (a statistics file holds them when saved with "
          + "--save-statistics and linear candidates)");
    }
    int rows = (int) t.shape()[0];
    int cols = (int) t.shape()[1];
    return Wanda.scores(t.name(), model.weights(t), rows, cols, calibration.squares(inputs));
  }

  /** OWL decides sparsities, N:M has none to decide: the two do not combine. */
  public static IllegalArgumentException structureRefused(Structure structure) {
    return new IllegalArgumentException("budget owl sets a sparsity per layer, but structure " + structure
        + " prunes M − N of every group of M and uses no budget: use owl unstructured, or " + structure
        + " with the default budget");
  }

  /**
   * The layer budgets a plan received, in the order of {@code layerSizes}, checked against the layout: one per
   * layer group, each within its layer, summing to the global budget {@code floor(sparsity × Σ n)}.
   */
  static long[] checkLayerBudgets(Map<String, Long> budgets, Map<String, Long> layerSizes, double sparsity) {
    if (!budgets.keySet().equals(layerSizes.keySet())) {
      throw new IllegalArgumentException("budget owl needs one budget per layer group, measured from the outlier "
          + "ratios (OwlBudgets.measure): layers " + layerSizes.keySet() + ", budgets for " + budgets.keySet());
    }
    var k = new long[layerSizes.size()];
    long sum = 0;
    long total = 0;
    int l = 0;
    for (var e : layerSizes.entrySet()) {
      k[l] = budgets.get(e.getKey());
      if (k[l] < 0 || k[l] > e.getValue()) {
        throw new IllegalArgumentException("layer " + e.getKey() + ": budget " + k[l] + " outside [0, "
            + e.getValue() + "]");
      }
      sum += k[l++];
      total += e.getValue();
    }
    if (sum != Budgets.global(sparsity, total)) {
      throw new IllegalArgumentException("the layer budgets sum to " + sum + ", sparsity " + sparsity + " of "
          + total + " candidates is " + Budgets.global(sparsity, total));
    }
    return k;
  }

  /**
   * Per-layer sparsities {@code s_l = S − (x_l − x̄)}, {@code x̄} the size-weighted mean of {@code x_l}.
   *
   * @param layers the layers' names, for errors
   * @param outlierRatios {@code D_l} in [0, 1]
   * @param sizes {@code n_l}, the candidate weights of each layer
   * @param lambda OWL's λ ≥ 0: the sparsities spread over at most 2λ
   * @throws IllegalArgumentException when a ratio or λ is invalid, or a layer's sparsity leaves [0, 1]
   */
  public static double[] ratios(double sparsity, List<String> layers, double[] outlierRatios, long[] sizes,
      double lambda) {
    Budgets.checkSparsity(sparsity);
    int count = layers.size();
    if (outlierRatios.length != count || sizes.length != count || count == 0) {
      throw new IllegalArgumentException("OWL needs one outlier ratio and one size per layer: " + count
          + " layers, " + outlierRatios.length + " ratios, " + sizes.length + " sizes");
    }
    if (!(lambda >= 0) || Double.isInfinite(lambda)) {
      throw new IllegalArgumentException("OWL's λ must be a number ≥ 0, got " + lambda);
    }
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    long total = 0;
    for (int l = 0; l < count; l++) {
      if (!(outlierRatios[l] >= 0 && outlierRatios[l] <= 1)) {
        throw new IllegalArgumentException("layer " + layers.get(l) + ": outlier ratio must be in [0, 1], got "
            + outlierRatios[l]);
      }
      if (sizes[l] <= 0) {
        throw new IllegalArgumentException("layer " + layers.get(l) + ": size must be positive, got " + sizes[l]);
      }
      min = Math.min(min, outlierRatios[l]);
      max = Math.max(max, outlierRatios[l]);
      total += sizes[l];
    }
    var x = new double[count];
    double mean = 0;
    for (int l = 0; l < count; l++) {
      x[l] = max == min ? 0 : (outlierRatios[l] - min) / (max - min) * 2 * lambda;
      mean += x[l] * sizes[l] / total;
    }
    var s = new double[count];
    double spread = 0; // how far below 0 or above 1 the worst layer lies
    int worst = -1;
    for (int l = 0; l < count; l++) {
      s[l] = sparsity - (x[l] - mean);
      double out = Math.max(-s[l], s[l] - 1);
      if (out > spread) {
        spread = out;
        worst = l;
      }
    }
    // a hair outside [0, 1] from rounding (at S = 0 or 1 with λ = 0) is no error
    if (spread > 1e-12) {
      throw new IllegalArgumentException("OWL: layer " + layers.get(worst) + " would get sparsity " + s[worst]
          + " (target " + sparsity + ", λ " + lambda + "); choose a smaller λ");
    }
    for (int l = 0; l < count; l++) {
      s[l] = Math.min(1, Math.max(0, s[l]));
    }
    return s;
  }

  /**
   * The integer budgets of {@link #ratios}: {@code k_l} is {@code s_l·n_l} rounded down or up, the sum exactly
   * {@code floor(S·Σ n)} ({@link Budgets#floorOf}); the weights rounding leaves over go to the largest
   * fractional parts first, ties to the earlier layer (and, should rounding of the doubles leave one too many,
   * are taken from the smallest).
   */
  public static long[] budgets(double sparsity, List<String> layers, double[] outlierRatios, long[] sizes,
      double lambda) {
    var s = ratios(sparsity, layers, outlierRatios, sizes, lambda);
    int count = s.length;
    var k = new long[count];
    var remainder = new double[count];
    long total = 0;
    long assigned = 0;
    for (int l = 0; l < count; l++) {
      double target = s[l] * sizes[l];
      k[l] = Math.min(sizes[l], (long) Math.floor(target));
      remainder[l] = target - k[l];
      assigned += k[l];
      total += sizes[l];
    }
    long deficit = Budgets.floorOf(sparsity, total) - assigned;
    List<Integer> order = new ArrayList<>();
    for (int l = 0; l < count; l++) {
      order.add(l);
    }
    order.sort(Comparator.<Integer>comparingDouble(l -> -remainder[l]).thenComparingInt(l -> l));
    while (deficit > 0) {
      boolean gave = false;
      for (int l : order) {
        if (deficit > 0 && k[l] < sizes[l]) {
          k[l]++;
          deficit--;
          gave = true;
        }
      }
      if (!gave) {
        throw new IllegalStateException("OWL budgets: " + deficit + " weights left over with every layer full");
      }
    }
    for (int i = count - 1; deficit < 0; i = (i + count - 1) % count) {
      int l = order.get(i);
      if (k[l] > 0) {
        k[l]--;
        deficit++;
      }
    }
    return k;
  }
}
