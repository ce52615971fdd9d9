package io.gaprune.planner;

import java.util.Locale;

/** How the pruning budget is spread over the candidates. */
public enum BudgetMode {
  /** One selection of the k lowest scores over all candidates. */
  GLOBAL,
  /** One selection per layer group, each pruning its share of the budget exactly. */
  UNIFORM;

  /** @throws IllegalArgumentException naming the valid values */
  public static BudgetMode parse(String s) {
    return switch (s.trim().toLowerCase(Locale.ROOT)) {
      case "global" -> GLOBAL;
      case "uniform" -> UNIFORM;
      default -> throw new IllegalArgumentException("unknown budget \"" + s + "\" (valid: global, uniform)");
    };
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
