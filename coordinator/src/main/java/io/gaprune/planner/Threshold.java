package io.gaprune.planner;

/**
 * The outcome of one exact selection of the k lowest scores: prune every score whose key is below {@code key},
 * and, of the scores whose key equals {@code key}, the first {@code equalToPrune} in the fixed order (tensor
 * order, then flat index). Exactly {@code below + equalToPrune = k} are pruned.
 *
 * @param key the k-th smallest key (or a sentinel for k = 0 / k = n)
 * @param below how many keys are strictly smaller
 * @param equalToPrune how many of the keys equal to {@code key} are pruned, in the fixed order
 * @param equalTotal how many keys equal {@code key} in all (0 for a sentinel)
 */
public record Threshold(long key, long below, long equalToPrune, long equalTotal) {

  /** Prune nothing. */
  public static Threshold none() {
    return new Threshold(ScoreKeys.BELOW_ALL, 0, 0, 0);
  }

  /** Prune all {@code n}. */
  public static Threshold all(long n) {
    return new Threshold(ScoreKeys.ABOVE_ALL, n, 0, 0);
  }

  public long pruneCount() {
    return below + equalToPrune;
  }

  public boolean isSentinel() {
    return key == ScoreKeys.BELOW_ALL || key == ScoreKeys.ABOVE_ALL;
  }

  /** The threshold score (NaN for a sentinel). */
  public double score() {
    return isSentinel() ? Double.NaN : ScoreKeys.score(key);
  }

  /**
   * Applies the threshold to a stream in the fixed order: call {@link #prune(long)} for every key, in order.
   * Not thread-safe; one per selection per mask pass.
   */
  public Cut cut() {
    return new Cut(this);
  }

  /** The pruning decision for a stream of keys in the fixed order. */
  public static final class Cut {
    private final long key;
    private long tiesLeft;

    private Cut(Threshold t) {
      this.key = t.key;
      this.tiesLeft = t.equalToPrune;
    }

    /** Whether the next key in the fixed order is pruned. */
    public boolean prune(long k) {
      int c = Long.compareUnsigned(k, key);
      if (c < 0) {
        return true;
      }
      if (c == 0 && tiesLeft > 0) {
        tiesLeft--;
        return true;
      }
      return false;
    }

    /** Ties still to be pruned (0 once the whole stream has passed, if it was the same stream). */
    public long tiesLeft() {
      return tiesLeft;
    }
  }
}
