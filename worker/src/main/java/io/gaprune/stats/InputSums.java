package io.gaprune.stats;

import java.util.Arrays;

/**
 * The input statistics of one linear layer {@code W [out, in]}, per half, summed over the non-padding tokens of
 * every text the encoder saw (queries, positives, negatives): {@code Σx²} per input channel (length {@code in},
 * Wanda's) and the Gram matrix {@code Σx·xᵀ} packed ({@link PackedSymmetric}, SparseGPT's Hessian up to a
 * factor), with the token counts. Absent statistics are empty arrays ({@link #NONE}: a session that collects no
 * input statistics).
 */
public record InputSums(
    double[] squaresGeneral,
    double[] squaresDomain,
    double[] gramGeneral,
    double[] gramDomain,
    long tokensGeneral,
    long tokensDomain) {

  public static final InputSums NONE = new InputSums(new double[0], new double[0], new double[0], new double[0], 0, 0);

  public InputSums {
    if (squaresGeneral.length != squaresDomain.length || gramGeneral.length != gramDomain.length) {
      throw new IllegalArgumentException("input statistics of the two halves differ in size: Σx² "
          + squaresGeneral.length + "/" + squaresDomain.length + ", Σxxᵀ " + gramGeneral.length + "/"
          + gramDomain.length);
    }
    if (gramGeneral.length != 0 && gramGeneral.length != PackedSymmetric.length(squaresGeneral.length)) {
      throw new IllegalArgumentException("input Gram matrix has " + gramGeneral.length + " values, " + squaresGeneral.length
          + " input channels need " + PackedSymmetric.length(squaresGeneral.length));
    }
  }

  /** Zero sums for a layer with {@code in} inputs, with or without the Gram matrices. */
  public static InputSums zeros(int in, boolean grams) {
    int g = grams ? PackedSymmetric.length(in) : 0;
    return new InputSums(new double[in], new double[in], new double[g], new double[g], 0, 0);
  }

  public boolean hasSquares() {
    return squaresGeneral.length > 0;
  }

  public boolean hasGrams() {
    return gramGeneral.length > 0;
  }

  public InputSums copy() {
    return new InputSums(squaresGeneral.clone(), squaresDomain.clone(), gramGeneral.clone(), gramDomain.clone(),
        tokensGeneral, tokensDomain);
  }

  /** Adds {@code other} into these arrays in place; sums without statistics add nothing to them. */
  public InputSums plusInPlace(InputSums other) {
    if (!other.hasSquares()) {
      return this;
    }
    if (!hasSquares()) {
      return other.copy();
    }
    if (squaresGeneral.length != other.squaresGeneral.length || hasGrams() != other.hasGrams()) {
      throw new IllegalArgumentException("cannot add input statistics of " + other.squaresGeneral.length
          + " channels" + (other.hasGrams() ? " with" : " without") + " Gram matrices to " + squaresGeneral.length
          + (hasGrams() ? " with" : " without") + " them");
    }
    add(squaresGeneral, other.squaresGeneral);
    add(squaresDomain, other.squaresDomain);
    add(gramGeneral, other.gramGeneral);
    add(gramDomain, other.gramDomain);
    return new InputSums(squaresGeneral, squaresDomain, gramGeneral, gramDomain, tokensGeneral + other.tokensGeneral,
        tokensDomain + other.tokensDomain);
  }

  /** This half's sums with {@code tokens} more counted (the arrays are shared). */
  InputSums withTokens(boolean domain, long tokens) {
    return domain ? new InputSums(squaresGeneral, squaresDomain, gramGeneral, gramDomain, tokensGeneral,
        tokensDomain + tokens)
        : new InputSums(squaresGeneral, squaresDomain, gramGeneral, gramDomain, tokensGeneral + tokens, tokensDomain);
  }

  private static void add(double[] target, double[] add) {
    for (int i = 0; i < target.length; i++) {
      target[i] += add[i];
    }
  }

  @Override
  public String toString() {
    return "InputSums[" + squaresGeneral.length + " channels" + (hasGrams() ? ", Gram" : "") + ", tokens "
        + tokensGeneral + "/" + tokensDomain + "]";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof InputSums s && Arrays.equals(squaresGeneral, s.squaresGeneral)
        && Arrays.equals(squaresDomain, s.squaresDomain) && Arrays.equals(gramGeneral, s.gramGeneral)
        && Arrays.equals(gramDomain, s.gramDomain) && tokensGeneral == s.tokensGeneral
        && tokensDomain == s.tokensDomain;
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(squaresGeneral) * 31 + Long.hashCode(tokensGeneral + tokensDomain);
  }
}
