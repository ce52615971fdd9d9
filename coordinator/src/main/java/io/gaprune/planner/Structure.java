package io.gaprune.planner;

/**
 * The sparsity pattern a mask must have: unstructured (any weight may go), or N:M, where every group of M
 * consecutive input weights of an output row keeps exactly N (the pattern sparse tensor cores run for 2:4).
 * Written {@code unstructured}, {@code 2:4}, {@code 4:8} or any {@code N:M} with {@code 0 < N < M}.
 *
 * @param n weights kept per group (0 for unstructured)
 * @param m group size along the input dimension (0 for unstructured)
 */
public record Structure(int n, int m) {

  public static final Structure UNSTRUCTURED = new Structure(0, 0);

  public Structure {
    if (!(n == 0 && m == 0) && !(n > 0 && m > n)) {
      throw new IllegalArgumentException("structure " + n + ":" + m + " must keep 0 < N < M weights per group");
    }
  }

  public boolean unstructured() {
    return m == 0;
  }

  /** The share of weights an N:M mask prunes, 1 − N/M (0 for unstructured, where the budget decides). */
  public double sparsity() {
    return unstructured() ? 0.0 : 1.0 - (double) n / m;
  }

  /**
   * The sparsity a plan of this structure prunes, given the one a user asked for (null: none asked). N:M fixes
   * it at 1 − N/M, so a request must be absent or equal (to 1e-9, so that 0.6666666667 names 1:3); unstructured
   * takes the request, else {@code unstructuredDefault}.
   *
   * @throws IllegalArgumentException when the request conflicts with the structure, saying what to do
   */
  public double sparsity(Double requested, double unstructuredDefault) {
    if (unstructured()) {
      return requested != null ? requested : unstructuredDefault;
    }
    if (requested != null && Math.abs(requested - sparsity()) > 1e-9) {
      throw new IllegalArgumentException("sparsity " + requested + " conflicts with structure " + this
          + ", which prunes exactly 1 − " + n + "/" + m + " = " + sparsity() + " of the candidate weights: leave "
          + "the sparsity out or give " + sparsity());
    }
    return sparsity();
  }

  /** @throws IllegalArgumentException saying what is wrong and what is valid */
  public static Structure parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("structure is missing (unstructured, 2:4, 4:8 or N:M with 0 < N < M)");
    }
    var t = text.trim().toLowerCase(java.util.Locale.ROOT);
    if (t.equals("unstructured")) {
      return UNSTRUCTURED;
    }
    var parts = t.split(":", -1);
    if (parts.length == 2) {
      try {
        int n = Integer.parseInt(parts[0].trim());
        int m = Integer.parseInt(parts[1].trim());
        if (n > 0 && m > n) {
          return new Structure(n, m);
        }
      } catch (NumberFormatException e) {
        // falls through to the message below
      }
    }
    throw new IllegalArgumentException("structure \"" + text + "\" is not valid (unstructured, 2:4, 4:8 or N:M"
        + " with 0 < N < M)");
  }

  @Override
  public String toString() {
    return unstructured() ? "unstructured" : n + ":" + m;
  }
}
