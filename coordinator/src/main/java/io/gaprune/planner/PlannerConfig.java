package io.gaprune.planner;

import io.gaprune.model.LayerType;
import java.util.EnumSet;
import java.util.Set;

/**
 * What to prune and how.
 *
 * @param scoring scoring method and hyperparameters
 * @param layerTypes candidate kinds ({@link LayerType#parse})
 * @param sparsity fraction of the candidates to prune, in [0, 1]
 * @param budget global or per-layer
 * @param rhoMin lowest per-layer ratio of a uniform budget (0.05)
 * @param rhoMax highest per-layer ratio of a uniform budget (0.95)
 * @param selectionMemoryBytes memory for the selection's histograms and collected keys, all selections
 *     together (8 MiB); it sets the digit width and the collection cap, never the result
 */
public record PlannerConfig(
    ScoringConfig scoring,
    Set<LayerType> layerTypes,
    double sparsity,
    BudgetMode budget,
    double rhoMin,
    double rhoMax,
    long selectionMemoryBytes) {

  public PlannerConfig {
    if (scoring == null || budget == null) {
      throw new IllegalArgumentException("scoring and budget are required");
    }
    Budgets.checkSparsity(sparsity);
    if (layerTypes == null || layerTypes.isEmpty()) {
      throw new IllegalArgumentException("at least one layer type is required (valid: " + LayerType.VALID + ")");
    }
    layerTypes = Set.copyOf(EnumSet.copyOf(layerTypes));
    if (!(rhoMin >= 0 && rhoMin <= rhoMax && rhoMax <= 1)) {
      throw new IllegalArgumentException("need 0 ≤ ρ_min ≤ ρ_max ≤ 1, got ρ_min " + rhoMin + ", ρ_max " + rhoMax);
    }
    if (selectionMemoryBytes < 1024) {
      throw new IllegalArgumentException("selection memory must be at least 1 KiB, got " + selectionMemoryBytes);
    }
  }

  /** The paper's setting: DAI, the MLP weights, a global budget at this sparsity. */
  public static PlannerConfig of(double sparsity) {
    return new PlannerConfig(ScoringConfig.defaults(), EnumSet.of(LayerType.MLP), sparsity, BudgetMode.GLOBAL,
        0.05, 0.95, 8L << 20);
  }

  public PlannerConfig withScoring(ScoringConfig s) {
    return new PlannerConfig(s, layerTypes, sparsity, budget, rhoMin, rhoMax, selectionMemoryBytes);
  }

  public PlannerConfig withLayerTypes(Set<LayerType> t) {
    return new PlannerConfig(scoring, t, sparsity, budget, rhoMin, rhoMax, selectionMemoryBytes);
  }

  public PlannerConfig withBudget(BudgetMode b) {
    return new PlannerConfig(scoring, layerTypes, sparsity, b, rhoMin, rhoMax, selectionMemoryBytes);
  }

  public PlannerConfig withRho(double min, double max) {
    return new PlannerConfig(scoring, layerTypes, sparsity, budget, min, max, selectionMemoryBytes);
  }

  public PlannerConfig withSelectionMemory(long bytes) {
    return new PlannerConfig(scoring, layerTypes, sparsity, budget, rhoMin, rhoMax, bytes);
  }
}
