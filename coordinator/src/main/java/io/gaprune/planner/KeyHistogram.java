package io.gaprune.planner;

import java.util.Arrays;

/**
 * Counts of keys by one digit (bits {@code [shift, shift + width)}), among the keys whose bits above the digit
 * equal {@code prefix}. Level 0 counts the top {@code digitBits} bits of every key. A mergeable value: two
 * histograms of the same level and prefix add up.
 */
public final class KeyHistogram implements PassAccumulator {

  private final int digitBits;
  private final int level;
  private final long prefix;
  private final int shift;
  private final int width;
  private final long[] counts;

  public KeyHistogram(int digitBits, int level, long prefix) {
    if (digitBits < 1 || digitBits > 20) {
      throw new IllegalArgumentException("digit bits must be 1..20, got " + digitBits);
    }
    if (level < 0 || level >= levels(digitBits)) {
      throw new IllegalArgumentException("level " + level + " outside 0.." + (levels(digitBits) - 1));
    }
    this.digitBits = digitBits;
    this.level = level;
    this.prefix = prefix;
    int high = 64 - level * digitBits; // bits not yet fixed
    this.width = Math.min(digitBits, high);
    this.shift = high - width;
    this.counts = new long[1 << width];
  }

  private KeyHistogram(KeyHistogram like, long[] counts) {
    this.digitBits = like.digitBits;
    this.level = like.level;
    this.prefix = like.prefix;
    this.shift = like.shift;
    this.width = like.width;
    this.counts = counts;
  }

  /**
   * A histogram rebuilt from its parts (as carried between processes: digit bits, level, prefix and counts),
   * so that a worker's histogram can be sent to the coordinator and merged there.
   */
  public static KeyHistogram of(int digitBits, int level, long prefix, long[] counts) {
    var h = new KeyHistogram(digitBits, level, prefix);
    if (counts.length != h.counts.length) {
      throw new IllegalArgumentException("a level-" + level + " histogram of " + digitBits + "-bit digits has "
          + h.counts.length + " buckets, got " + counts.length);
    }
    for (long c : counts) {
      if (c < 0) {
        throw new IllegalArgumentException("negative bucket count " + c);
      }
    }
    return new KeyHistogram(h, counts.clone());
  }

  /** Digits needed to cover a 64-bit key. */
  public static int levels(int digitBits) {
    return (64 + digitBits - 1) / digitBits;
  }

  public int digitBits() {
    return digitBits;
  }

  public int level() {
    return level;
  }

  /** The fixed high bits, right-aligned ({@code level · digitBits} of them). */
  public long prefix() {
    return prefix;
  }

  public int buckets() {
    return counts.length;
  }

  public long count(int digit) {
    return counts[digit];
  }

  /** Whether this digit is the last one: its buckets hold single key values. */
  public boolean isLastLevel() {
    return shift == 0;
  }

  public boolean matches(long key) {
    int high = 64 - shift - width; // bits of the prefix
    return high == 0 || (key >>> (64 - high)) == prefix;
  }

  public int digit(long key) {
    return (int) ((key >>> shift) & ((1L << width) - 1));
  }

  /** The smallest key of bucket {@code digit}. */
  public long lowKey(int digit) {
    int high = 64 - shift - width;
    long p = high == 0 ? 0 : prefix << (64 - high);
    return p | ((long) digit << shift);
  }

  /** The largest key of bucket {@code digit}. */
  public long highKey(int digit) {
    return lowKey(digit) | (shift == 0 ? 0 : (-1L >>> (64 - shift)));
  }

  @Override
  public void accept(long key) {
    if (matches(key)) {
      counts[digit(key)]++;
    }
  }

  @Override
  public void acceptAll(long[] keys, int offset, int length) {
    int high = 64 - shift - width;
    long mask = (1L << width) - 1;
    if (high == 0) {
      for (int i = offset; i < offset + length; i++) {
        counts[(int) ((keys[i] >>> shift) & mask)]++;
      }
    } else {
      int drop = 64 - high;
      for (int i = offset; i < offset + length; i++) {
        long k = keys[i];
        if ((k >>> drop) == prefix) {
          counts[(int) ((k >>> shift) & mask)]++;
        }
      }
    }
  }

  @Override
  public KeyHistogram merge(PassAccumulator other) {
    if (!(other instanceof KeyHistogram h) || h.digitBits != digitBits || h.level != level || h.prefix != prefix) {
      throw new IllegalArgumentException("cannot merge " + other + " into " + this + ": different passes");
    }
    var sum = counts.clone();
    for (int i = 0; i < sum.length; i++) {
      sum[i] += h.counts[i];
    }
    return new KeyHistogram(this, sum);
  }

  @Override
  public long total() {
    long t = 0;
    for (long c : counts) {
      t += c;
    }
    return t;
  }

  /** A copy of the counts. */
  public long[] counts() {
    return counts.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KeyHistogram h && h.digitBits == digitBits && h.level == level && h.prefix == prefix
        && Arrays.equals(h.counts, counts);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(counts) * 31 + Long.hashCode(prefix) * 7 + level;
  }

  @Override
  public String toString() {
    return "KeyHistogram[level " + level + ", prefix 0x" + Long.toHexString(prefix) + ", " + digitBits
        + "-bit digits, " + total() + " keys]";
  }
}
