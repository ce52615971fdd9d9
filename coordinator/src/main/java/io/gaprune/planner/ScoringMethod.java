package io.gaprune.planner;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** How a weight's importance is scored (higher = kept). */
public enum ScoringMethod {
  /** The paper's DAI: {@code [(F_dom − β·F_gen)·|θ| + γ·sqrt|θ|]·(1 + α·s)}. */
  DAI("dai", true),
  /** The reference implementation's variant (GAPRUNE.md items 1–5). */
  DAI_REFERENCE("dai-reference", true),
  /**
   * The calibrated DAI (docs/planner.md), the default ({@link MethodSpec#DEFAULT_SCORING}): the same
   * ingredients in log space, where their scales no longer matter: {@code 2·log|θ| + q·log(F_dom + λ·c·F_gen +
   * κ·mean F) + a·s_local}.
   */
  DAI_CALIBRATED("dai-calibrated", true),
  /** {@code |θ|}. */
  MAGNITUDE("magnitude", false),
  /** {@code F_dom·θ²}: the loss increase on the domain data when the weight is zeroed (Fisher/OBD saliency). */
  FISHER_DOMAIN("fisher-domain", true),
  /** {@code F_gen·θ²}: the same on general data. */
  FISHER_GENERAL("fisher-general", true),
  /** Uniform in [0, 1), seeded, a fixed function of (seed, tensor name, flat index). */
  RANDOM("random", false),
  /**
   * Wanda: {@code |W_ij|·sqrt(Σx_j²)} compared within each output row ({@link Wanda}); {@code run} and
   * {@code compare} plan it layer by layer from the input statistics ({@link LayerwisePruner}), a cluster session
   * as scores under the row budget ({@link BudgetMode#ROWS}) or its N:M structure, which give the same masks.
   */
  WANDA("wanda", false),
  /** SparseGPT (Algorithm 1, non-sequential): its own mask and weight updates per layer ({@link SparseGpt}). */
  SPARSEGPT("sparsegpt", false);

  private final String cliName;
  private final boolean needsStatistics;

  ScoringMethod(String cliName, boolean needsStatistics) {
    this.cliName = cliName;
    this.needsStatistics = needsStatistics;
  }

  public String cliName() {
    return cliName;
  }

  public boolean needsStatistics() {
    return needsStatistics;
  }

  /** Planned layer by layer from input statistics ({@link LayerwisePruner}), not by the {@link Planner}'s selection. */
  public boolean layerwise() {
    return this == WANDA || this == SPARSEGPT;
  }

  /** @throws IllegalArgumentException naming the valid methods */
  public static ScoringMethod parse(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
    for (var m : values()) {
      if (m.cliName.equals(t)) {
        return m;
      }
    }
    throw new IllegalArgumentException("unknown scoring method \"" + s + "\" (valid: "
        + Arrays.stream(values()).map(ScoringMethod::cliName).collect(Collectors.joining(", ")) + ")");
  }

  @Override
  public String toString() {
    return cliName;
  }
}
