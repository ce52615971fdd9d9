package io.gaprune.planner;

import java.util.Arrays;

/**
 * The keys of one small bucket (those whose top {@code prefixBits} bits equal {@code prefix}), collected so that
 * the selection can finish by sorting them instead of more histogram passes. Its size is known before the pass
 * from the previous histogram, so its memory is bounded by the planner's collection cap. Mergeable
 * (concatenation; order does not matter, ties are broken later by the fixed tensor order).
 */
public final class KeyCollection implements PassAccumulator {

  private final int prefixBits;
  private final long prefix;
  private long[] keys;
  private int size;

  public KeyCollection(int prefixBits, long prefix, int expected) {
    if (prefixBits < 0 || prefixBits >= 64) {
      throw new IllegalArgumentException("prefix bits must be 0..63, got " + prefixBits);
    }
    this.prefixBits = prefixBits;
    this.prefix = prefix;
    // Start small and grow: a partition of the stream holds only its share of the bucket.
    this.keys = new long[Math.max(1, Math.min(expected, 1 << 12))];
  }

  /** A collection rebuilt from its parts (as carried between processes); keys outside the prefix are refused. */
  public static KeyCollection of(int prefixBits, long prefix, long[] keys) {
    var c = new KeyCollection(prefixBits, prefix, 0);
    for (long k : keys) {
      if (!c.matches(k)) {
        throw new IllegalArgumentException("key 0x" + Long.toHexString(k) + " lies outside the bucket of " + c);
      }
    }
    c.keys = keys.length == 0 ? new long[1] : keys.clone();
    c.size = keys.length;
    return c;
  }

  /** The collected keys in arrival order (a copy). */
  public long[] keys() {
    return Arrays.copyOf(keys, size);
  }

  public int prefixBits() {
    return prefixBits;
  }

  public long prefix() {
    return prefix;
  }

  public boolean matches(long key) {
    return prefixBits == 0 || (key >>> (64 - prefixBits)) == prefix;
  }

  @Override
  public void accept(long key) {
    if (matches(key)) {
      if (size == keys.length) {
        keys = Arrays.copyOf(keys, Math.max(8, size * 2));
      }
      keys[size++] = key;
    }
  }

  @Override
  public void acceptAll(long[] batch, int offset, int length) {
    if (prefixBits == 0) {
      for (int i = offset; i < offset + length; i++) {
        accept(batch[i]);
      }
      return;
    }
    int drop = 64 - prefixBits;
    for (int i = offset; i < offset + length; i++) {
      long key = batch[i];
      if ((key >>> drop) == prefix) {
        if (size == keys.length) {
          keys = Arrays.copyOf(keys, Math.max(8, size * 2));
        }
        keys[size++] = key;
      }
    }
  }

  @Override
  public KeyCollection merge(PassAccumulator other) {
    if (!(other instanceof KeyCollection c) || c.prefixBits != prefixBits || c.prefix != prefix) {
      throw new IllegalArgumentException("cannot merge " + other + " into " + this + ": different passes");
    }
    var m = new KeyCollection(prefixBits, prefix, 0);
    m.keys = new long[Math.max(1, size + c.size)];
    System.arraycopy(keys, 0, m.keys, 0, size);
    System.arraycopy(c.keys, 0, m.keys, size, c.size);
    m.size = size + c.size;
    return m;
  }

  @Override
  public long total() {
    return size;
  }

  /** The collected keys in ascending unsigned order (a new array). */
  public long[] sortedKeys() {
    var out = Arrays.copyOf(keys, size);
    // Flipping the sign bit turns unsigned order into signed order for Arrays.sort.
    for (int i = 0; i < size; i++) {
      out[i] ^= Long.MIN_VALUE;
    }
    Arrays.sort(out);
    for (int i = 0; i < size; i++) {
      out[i] ^= Long.MIN_VALUE;
    }
    return out;
  }

  @Override
  public String toString() {
    return "KeyCollection[" + prefixBits + "-bit prefix 0x" + Long.toHexString(prefix) + ", " + size + " keys]";
  }
}
