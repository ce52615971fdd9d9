package io.gaprune.planner;

/**
 * Exact selection of the k smallest of n keys streamed in several passes (radix select), in bounded memory.
 *
 * <p>Each pass feeds every key to {@link #newPass()}'s accumulator (or to several, merged afterwards). A
 * histogram pass counts the next {@code digitBits} bits of the keys in the bucket that holds the k-th key,
 * and the bucket narrows to one digit; once the bucket (at the start, the whole stream) holds at most {@code collectCap} keys (the histogram told
 * how many), the next pass collects them and a sort finishes. At the last digit the bucket is a single key value.
 * The selection is resolved after at most {@code ceil(64 / digitBits)} passes, usually after two or three.
 *
 * <p>Every pass must see the same keys: a bucket count that differs from what the previous pass promised means
 * the stream is not deterministic, and is reported rather than producing a wrong budget.
 */
public final class RadixSelector {

  private final long n;
  private final long k;
  private final int digitBits;
  private final int collectCap;
  private int level;
  private long prefix; // the fixed high bits of the bucket, right-aligned (level · digitBits bits)
  private long rank; // 1-based rank of the k-th key within the bucket
  private long below; // keys below the bucket
  private long bucketCount;
  private boolean collectNext;
  private Threshold result;
  private int passes;

  /**
   * @param n keys in the stream
   * @param k how many to select (0..n)
   * @param digitBits bits per histogram pass (histogram of {@code 2^digitBits} longs)
   * @param collectCap the most keys a collection pass may hold
   */
  public RadixSelector(long n, long k, int digitBits, int collectCap) {
    if (n < 0 || k < 0 || k > n) {
      throw new IllegalArgumentException("cannot select " + k + " of " + n);
    }
    if (digitBits < 1 || digitBits > 20) {
      throw new IllegalArgumentException("digit bits must be 1..20, got " + digitBits);
    }
    this.n = n;
    this.k = k;
    this.digitBits = digitBits;
    this.collectCap = Math.max(0, collectCap);
    this.rank = k;
    this.bucketCount = n;
    if (k == 0) {
      result = Threshold.none();
    } else if (k == n) {
      result = Threshold.all(n);
    }
    // A stream small enough to hold is collected at once: one pass.
    this.collectNext = n <= this.collectCap;
  }

  public long n() {
    return n;
  }

  public long k() {
    return k;
  }

  public boolean resolved() {
    return result != null;
  }

  /** Passes completed so far. */
  public int passes() {
    return passes;
  }

  public Threshold threshold() {
    if (result == null) {
      throw new IllegalStateException("selection of " + k + " of " + n + " not resolved after " + passes + " passes");
    }
    return result;
  }

  /** A fresh accumulator for the next pass (one per partition of the stream; merge them before completing). */
  public PassAccumulator newPass() {
    if (result != null) {
      throw new IllegalStateException("selection already resolved");
    }
    if (collectNext) {
      return new KeyCollection(level * digitBits, prefix, (int) bucketCount);
    }
    return new KeyHistogram(digitBits, level, prefix);
  }

  /** Folds a completed pass (all partitions merged) into the selection. */
  public void complete(PassAccumulator pass) {
    if (result != null) {
      throw new IllegalStateException("selection already resolved");
    }
    if (pass.total() != bucketCount) {
      throw new IllegalStateException("the score stream changed between passes: pass " + (passes + 1) + " saw "
          + pass.total() + " keys in the bucket where the previous pass counted " + bucketCount
          + " (scores must be deterministic)");
    }
    passes++;
    if (pass instanceof KeyHistogram h) {
      completeHistogram(h);
    } else {
      completeCollection((KeyCollection) pass);
    }
  }

  private void completeHistogram(KeyHistogram h) {
    if (collectNext || h.level() != level || h.prefix() != prefix || h.digitBits() != digitBits) {
      throw new IllegalArgumentException(h + " does not belong to this selection's pass " + (passes));
    }
    long cum = 0;
    int d = 0;
    for (; d < h.buckets(); d++) {
      long c = h.count(d);
      if (cum + c >= rank) {
        break;
      }
      cum += c;
    }
    below += cum;
    rank -= cum;
    bucketCount = h.count(d);
    if (h.isLastLevel()) {
      // The bucket is one key value: the k-th key, tied bucketCount times, rank of them pruned.
      result = new Threshold(h.lowKey(d), below, rank, bucketCount);
      return;
    }
    int width = Math.min(digitBits, 64 - level * digitBits);
    prefix = (prefix << width) | d;
    level++;
    collectNext = bucketCount <= collectCap;
  }

  private void completeCollection(KeyCollection c) {
    if (!collectNext || c.prefix() != prefix || c.prefixBits() != level * digitBits) {
      throw new IllegalArgumentException(c + " does not belong to this selection's pass " + passes);
    }
    long[] sorted = c.sortedKeys();
    long t = sorted[(int) rank - 1];
    int first = (int) rank - 1;
    while (first > 0 && sorted[first - 1] == t) {
      first--;
    }
    int last = (int) rank - 1;
    while (last + 1 < sorted.length && sorted[last + 1] == t) {
      last++;
    }
    result = new Threshold(t, below + first, rank - first, last - first + 1);
  }
}
