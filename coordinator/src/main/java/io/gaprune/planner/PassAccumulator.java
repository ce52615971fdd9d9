package io.gaprune.planner;

/**
 * What one pass over the score stream accumulates for one selection: a histogram of the next digit of the keys
 * in the bucket being refined, or, once that bucket is small, the bucket's keys themselves. Accumulators of the
 * same pass merge, so that partitions of the model can be scored in different processes and their accumulators
 * folded into one; keys outside the bucket are ignored, so every partition may feed all its keys.
 */
public sealed interface PassAccumulator permits KeyHistogram, KeyCollection {

  void accept(long key);

  default void acceptAll(long[] keys, int offset, int length) {
    for (int i = offset; i < offset + length; i++) {
      accept(keys[i]);
    }
  }

  /** A new accumulator holding both (neither argument is changed); both must belong to the same pass. */
  PassAccumulator merge(PassAccumulator other);

  /** How many keys in the refined bucket were seen. */
  long total();
}
