package io.gaprune.planner;

/**
 * The order-preserving map between float64 scores and unsigned 64-bit keys: {@code a < b} as doubles exactly
 * when {@code key(a) < key(b)} compared unsigned. Selection works on keys, so that a histogram of their top bits
 * is a histogram of the scores' order, and the exact k-th key gives the exact k-th score.
 *
 * <p>Scores are ranked as float64, not float32: the DAI terms differ by six orders of magnitude
 * (GAPRUNE.md, "Measured here"), and float32 would round the Fisher term away in ties.
 */
public final class ScoreKeys {

  /** A key above every score's key (a NaN pattern, never produced): "prune everything" thresholds. */
  public static final long ABOVE_ALL = -1L;

  /** A key below every score's key (a NaN pattern, never produced): "prune nothing" thresholds. */
  public static final long BELOW_ALL = 0L;

  private ScoreKeys() {}

  /** The key of {@code score}; −0.0 and +0.0 get the same key; NaN is refused. */
  public static long key(double score) {
    if (score != score) {
      throw new IllegalArgumentException("NaN score");
    }
    if (score == 0) {
      score = 0.0; // −0.0 == +0.0: one key, so they tie as the comparison says
    }
    long bits = Double.doubleToRawLongBits(score);
    // Negative: flip all bits (larger magnitude, smaller key). Non-negative: set the sign bit (above negatives).
    return bits < 0 ? ~bits : bits | Long.MIN_VALUE;
  }

  /** The keys of a tensor's scores, element by element. */
  public static long[] keys(double[] scores) {
    var keys = new long[scores.length];
    for (int j = 0; j < scores.length; j++) {
      keys[j] = key(scores[j]);
    }
    return keys;
  }

  /** The score of a key ({@link #key} inverted). */
  public static double score(long key) {
    long bits = key < 0 ? key & Long.MAX_VALUE : ~key;
    return Double.longBitsToDouble(bits);
  }
}
