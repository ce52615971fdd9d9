package io.gaprune.planner;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One entry of {@code compare --methods}: a scoring method, optionally with hyperparameters of its own, so that
 * one statistics session serves a whole sensitivity table. Written {@code METHOD[:KEY=VALUE]...}, e.g.
 * {@code dai-calibrated:q=0.25:lambda=0} or {@code dai:gamma=0.01}.
 *
 * <p>Keys: {@code beta}, {@code gamma}, {@code alpha} (every DAI), and for {@code dai-calibrated} {@code q}
 * (Fisher exponent), {@code lambda} (general weight), {@code a} (alignment weight), {@code window}
 * (alignment window), {@code rank1} (0 or 1), {@code floor} (κ of the Fisher floor), {@code input} (r of the
 * input term, {@link ScoringConfig.Calibrated#inputExponent}), {@code adaptive} (p ≥ 0: the mask re-chosen by SparseGPT's
 * adaptive selection weighted by the score's prior to the power p, with the reconstruction,
 * {@link LayerwisePruner#adaptive}); for {@code wanda} and
 * {@code sparsegpt} {@code n} and {@code m} (an N:M structure, e.g. {@code sparsegpt:n=2:m=4}); for every other
 * method {@code reconstruct} (0 or 1: the OBS reconstruction of the kept weights after the mask, e.g.
 * {@code dai-calibrated:reconstruct=1}, the reconstructing DAI), and {@code budget} ({@code global}, {@code uniform}
 * or {@code rows}: this entry's budget in place of the run's {@code --budget}, so that one {@code compare} puts
 * a method under two budgets side by side, e.g. {@code dai-calibrated,dai-calibrated:budget=rows}).
 *
 * @param label the text as written (the report's variant name)
 * @param method the scoring method
 * @param overrides the hyperparameters set in the text, in its order
 * @param budget the entry's own budget, or null for the run's
 */
public record MethodSpec(String label, ScoringMethod method, Map<String, Double> overrides, BudgetMode budget) {

  /**
   * The scoring of {@code run} and of a session that names none: the calibrated DAI with its defaults, because
   * it is the one method that held at 70% of the MLP on both models and both domains (docs/results.md); the
   * paper's {@code dai} prunes what magnitude prunes at this scale and stays available by name.
   */
  public static final String DEFAULT_SCORING = "dai-calibrated";

  public MethodSpec {
    overrides = Map.copyOf(overrides);
  }

  /** A method with the run's hyperparameters. */
  public static MethodSpec of(ScoringMethod method) {
    return new MethodSpec(method.cliName(), method, Map.of(), null);
  }

  /** @throws IllegalArgumentException naming the entry and what is wrong with it */
  public static MethodSpec parse(String text) {
    var parts = text.trim().split(":");
    var method = ScoringMethod.parse(parts[0]);
    var overrides = new LinkedHashMap<String, Double>();
    BudgetMode budget = null;
    for (int i = 1; i < parts.length; i++) {
      var kv = parts[i].split("=", -1);
      if (kv.length != 2 || kv[0].isBlank()) {
        throw new IllegalArgumentException("method \"" + text + "\": \"" + parts[i] + "\" is not KEY=VALUE");
      }
      var key = kv[0].trim().toLowerCase(Locale.ROOT);
      if (key.equals("budget")) {
        if (budget != null) {
          throw new IllegalArgumentException("method \"" + text + "\": budget is set twice");
        }
        budget = budget(text, method, kv[1]);
        continue;
      }
      boolean known = switch (key) {
        case "beta", "gamma", "alpha" -> true;
        case "q", "lambda", "a", "window", "rank1", "floor", "input", "adaptive" ->
            method == ScoringMethod.DAI_CALIBRATED;
        case "n", "m" -> method.layerwise();
        case "reconstruct" -> !method.layerwise() || method == ScoringMethod.WANDA;
        default -> false;
      };
      if (!known) {
        throw new IllegalArgumentException("method \"" + text + "\": " + method.cliName() + " has no parameter \""
            + key + "\" (beta, gamma, alpha; dai-calibrated also q, lambda, a, window, rank1, floor, input, adaptive; wanda and "
            + "sparsegpt n, m; all but sparsegpt reconstruct; all but wanda and sparsegpt budget)");
      }
      double v;
      try {
        v = Double.parseDouble(kv[1].trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("method \"" + text + "\": " + key + " = \"" + kv[1] + "\" is not a number");
      }
      if (overrides.put(key, v) != null) {
        throw new IllegalArgumentException("method \"" + text + "\": " + key + " is set twice");
      }
    }
    return new MethodSpec(text.trim(), method, overrides, budget);
  }

  /**
   * An entry's own budget: a scored method's selection only (Wanda and SparseGPT budget per layer or row by their
   * own rule), and not OWL, whose layer budgets are measured once per run from {@code --budget owl}.
   */
  private static BudgetMode budget(String text, ScoringMethod method, String value) {
    if (method.layerwise()) {
      throw new IllegalArgumentException("method \"" + text + "\": " + method.cliName() + " has no parameter \"budget\""
          + " (it prunes each layer or row at the sparsity by its own rule)");
    }
    BudgetMode budget;
    try {
      budget = BudgetMode.parse(value.trim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("method \"" + text + "\": " + e.getMessage(), e);
    }
    if (budget == BudgetMode.OWL) {
      throw new IllegalArgumentException("method \"" + text + "\": budget owl measures the layers' outliers once "
          + "per run: give it as the run's --budget owl");
    }
    return budget;
  }

  /** The budget this entry plans under: its own, else the run's. */
  public BudgetMode budgetOr(BudgetMode run) {
    return budget != null ? budget : run;
  }

  /** {@code base} with this entry's method and hyperparameters. */
  public ScoringConfig apply(ScoringConfig base) {
    var c = base.withMethod(method).withHyper(get("beta", base.beta()), get("gamma", base.gamma()),
        get("alpha", base.alpha()));
    var k = c.calibrated();
    double window = get("window", k.alignmentWindow());
    if (window != Math.rint(window)) {
      throw new IllegalArgumentException("method \"" + label + "\": window must be an odd whole number");
    }
    double rank1 = get("rank1", k.rank1() ? 1 : 0);
    if (rank1 != 0 && rank1 != 1) {
      throw new IllegalArgumentException("method \"" + label + "\": rank1 must be 0 or 1");
    }
    return c.withCalibrated(new ScoringConfig.Calibrated(get("q", k.fisherExponent()),
        get("lambda", k.generalWeight()), get("a", k.alignmentWeight()), (int) window, rank1 == 1,
        get("floor", k.floor()), get("input", k.inputExponent())));
  }

  /** The N:M structure of a layer-wise method ({@code n} and {@code m} set together), else unstructured. */
  public Structure structure() {
    if (!overrides.containsKey("n") && !overrides.containsKey("m")) {
      return Structure.UNSTRUCTURED;
    }
    double n = get("n", 0);
    double m = get("m", 0);
    if (n != Math.rint(n) || m != Math.rint(m) || !(n > 0 && m > n)) {
      throw new IllegalArgumentException("method \"" + label + "\": n and m must be whole numbers with 0 < n < m");
    }
    return new Structure((int) n, (int) m);
  }

  /**
   * Whether the kept weights are reconstructed (OBS, {@link LayerwisePruner#reconstruct}) after the mask: with
   * {@code reconstruct=1}, and with {@code adaptive}, which reconstructs while it re-chooses the mask.
   */
  public boolean reconstruct() {
    double r = get("reconstruct", 0);
    if (r != 0 && r != 1) {
      throw new IllegalArgumentException("method \"" + label + "\": reconstruct must be 0 or 1");
    }
    return r == 1 || adaptive();
  }

  /**
   * Whether the mask's positions are re-chosen by SparseGPT's adaptive selection weighted by this method's
   * score ({@code adaptive=p}, {@link LayerwisePruner#adaptive}); {@link #priorExponent} is p.
   */
  public boolean adaptive() {
    return overrides.containsKey("adaptive");
  }

  /** The power of the score's prior in the adaptive selection (0: SparseGPT's own saliency at this plan's budget). */
  public double priorExponent() {
    double p = get("adaptive", 0);
    if (!(p >= 0) || Double.isInfinite(p)) {
      throw new IllegalArgumentException("method \"" + label + "\": adaptive must be a number ≥ 0");
    }
    return p;
  }

  /**
   * The input statistics this entry reads: none, Σx² (Wanda, the calibrated DAI's input term), or the Gram
   * matrices (SparseGPT, reconstruction).
   */
  public io.gaprune.protocol.InputStatistics inputStatistics() {
    if (method == ScoringMethod.SPARSEGPT || reconstruct()) {
      return io.gaprune.protocol.InputStatistics.INPUT_GRAMS;
    }
    // one rule of what reads Σx²: the scoring's own (ScoringConfig.needsInputSquares)
    return apply(ScoringConfig.defaults()).needsInputSquares() ? io.gaprune.protocol.InputStatistics.INPUT_NORMS
        : io.gaprune.protocol.InputStatistics.INPUT_STATISTICS_NONE;
  }

  private double get(String key, double fallback) {
    return overrides.getOrDefault(key, fallback);
  }
}
