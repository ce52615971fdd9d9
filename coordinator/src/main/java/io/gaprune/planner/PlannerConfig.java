package io.gaprune.planner;

import io.gaprune.model.LayerType;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
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
 * @param structure unstructured (the budget decides), or N:M: every group of M consecutive weights of a row
 *     keeps its N best, the sparsity is then exactly 1 − N/M and the budget is not used
 * @param layerBudgets for the OWL budget: weights to prune per layer group, measured before planning
 *     ({@link OwlBudgets#layerBudgets}); empty for the other budgets, whose counts follow from the sizes alone
 */
public record PlannerConfig(
    ScoringConfig scoring,
    Set<LayerType> layerTypes,
    double sparsity,
    BudgetMode budget,
    double rhoMin,
    double rhoMax,
    long selectionMemoryBytes,
    Structure structure,
    Map<String, Long> layerBudgets) {

  public PlannerConfig {
    if (scoring == null || budget == null || structure == null || layerBudgets == null) {
      throw new IllegalArgumentException("scoring, budget, structure and layer budgets are required");
    }
    layerBudgets = Collections.unmodifiableMap(new LinkedHashMap<>(layerBudgets));
    if (budget == BudgetMode.OWL && !structure.unstructured()) {
      throw OwlBudgets.structureRefused(structure);
    }
    if (budget != BudgetMode.OWL && !layerBudgets.isEmpty()) {
      throw new IllegalArgumentException("layer budgets are the OWL budget's; budget " + budget + " computes its own");
    }
    Budgets.checkSparsity(sparsity);
    if (!structure.unstructured() && sparsity != structure.sparsity()) {
      throw new IllegalArgumentException("structure " + structure + " prunes exactly " + structure.sparsity()
          + " of the candidates, not " + sparsity + " (withStructure sets it)");
    }
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
        0.05, 0.95, 8L << 20, Structure.UNSTRUCTURED, Map.of());
  }

  public PlannerConfig withScoring(ScoringConfig s) {
    return new PlannerConfig(s, layerTypes, sparsity, budget, rhoMin, rhoMax, selectionMemoryBytes, structure,
        layerBudgets);
  }

  public PlannerConfig withLayerTypes(Set<LayerType> t) {
    return new PlannerConfig(scoring, t, sparsity, budget, rhoMin, rhoMax, selectionMemoryBytes, structure,
        layerBudgets);
  }

  public PlannerConfig withBudget(BudgetMode b) {
    // the measured budgets belong to OWL alone: another budget drops them
    return new PlannerConfig(scoring, layerTypes, sparsity, b, rhoMin, rhoMax, selectionMemoryBytes, structure,
        b == BudgetMode.OWL ? layerBudgets : Map.of());
  }

  public PlannerConfig withRho(double min, double max) {
    return new PlannerConfig(scoring, layerTypes, sparsity, budget, min, max, selectionMemoryBytes, structure,
        layerBudgets);
  }

  public PlannerConfig withSelectionMemory(long bytes) {
    return new PlannerConfig(scoring, layerTypes, sparsity, budget, rhoMin, rhoMax, bytes, structure,
        layerBudgets);
  }

  /**
   * This configuration with {@code s}; an N:M structure also sets the sparsity to its 1 − N/M (callers that
   * take a sparsity from a user check it first: {@link Structure#sparsity(Double, double)}).
   */
  public PlannerConfig withStructure(Structure s) {
    return new PlannerConfig(scoring, layerTypes, s.unstructured() ? sparsity : s.sparsity(), budget, rhoMin,
        rhoMax, selectionMemoryBytes, s, layerBudgets);
  }

  /** The OWL budget with these per-layer budgets ({@link OwlBudgets#layerBudgets}). */
  public PlannerConfig withOwlBudgets(Map<String, Long> budgets) {
    return new PlannerConfig(scoring, layerTypes, sparsity, BudgetMode.OWL, rhoMin, rhoMax, selectionMemoryBytes,
        structure, budgets);
  }
}
