package io.gaprune.planner;

import java.util.Locale;

/** How the pruning budget is spread over the candidates. */
public enum BudgetMode {
  /** One selection of the k lowest scores over all candidates. */
  GLOBAL,
  /** One selection per layer group, each pruning its share of the budget exactly. */
  UNIFORM,
  /**
   * One selection per layer group, each at the layer's OWL sparsity ({@link OwlBudgets}): layers with more
   * outliers of {@code |W|·‖X‖} pruned less. The budgets depend on the weights and the input norms, so whoever
   * plans measures them first ({@link OwlBudgets#layerBudgets}).
   */
  OWL,
  /**
   * Within each output row of each candidate ({@link RowSelection}): Wanda's comparison group, for any scored
   * method. Each tensor prunes its own share, decided as it is read, so no selection runs across tensors.
   */
  ROWS;

  /** @throws IllegalArgumentException naming the valid values */
  public static BudgetMode parse(String s) {
    return switch (s.trim().toLowerCase(Locale.ROOT)) {
      case "global" -> GLOBAL;
      case "uniform" -> UNIFORM;
      case "owl" -> OWL;
      case "rows" -> ROWS;
      default -> throw new IllegalArgumentException("unknown budget \"" + s + "\" (valid: global, uniform, owl, "
          + "rows)");
    };
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
