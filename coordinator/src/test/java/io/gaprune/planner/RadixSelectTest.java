package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The streaming selection against a full sort, on keys with many ties, every digit width and collection cap. */
class RadixSelectTest {

  @Test
  void keysPreserveOrder() {
    double[] ordered = {Double.NEGATIVE_INFINITY, -Double.MAX_VALUE, -1.5, -1, -Double.MIN_VALUE, 0,
        Double.MIN_VALUE, 1e-300, 0.5, 1, 1.0000000000000002, Double.MAX_VALUE, Double.POSITIVE_INFINITY};
    for (int i = 0; i + 1 < ordered.length; i++) {
      assertTrue(Long.compareUnsigned(ScoreKeys.key(ordered[i]), ScoreKeys.key(ordered[i + 1])) < 0,
          ordered[i] + " vs " + ordered[i + 1]);
    }
    for (double d : ordered) {
      assertEquals(d, ScoreKeys.score(ScoreKeys.key(d)));
    }
    assertEquals(ScoreKeys.key(0.0), ScoreKeys.key(-0.0));
    // hand values: +0 is the sign bit alone; −1 is ~0xBFF0000000000000
    assertEquals(0x8000000000000000L, ScoreKeys.key(0.0));
    assertEquals(0xBFF0000000000000L, ScoreKeys.key(1.0));
    assertEquals(~0xBFF0000000000000L, ScoreKeys.key(-1.0));
    assertThrows(IllegalArgumentException.class, () -> ScoreKeys.key(Double.NaN));
  }

  @Test
  void histogramCountsDigitsAndMerges() {
    // 8-bit digits. Level 0 counts the top byte; level 1 the second byte of keys whose top byte is 0xAB.
    var h0 = new KeyHistogram(8, 0, 0);
    long[] keys = {0xAB01_0000_0000_0000L, 0xAB02_0000_0000_0000L, 0xAB02_FFFF_0000_0000L, 0x0100_0000_0000_0000L};
    h0.acceptAll(keys, 0, keys.length);
    assertEquals(3, h0.count(0xAB));
    assertEquals(1, h0.count(0x01));
    assertEquals(4, h0.total());
    var h1 = new KeyHistogram(8, 1, 0xAB);
    var h1b = new KeyHistogram(8, 1, 0xAB);
    h1.acceptAll(keys, 0, 2);
    for (int i = 2; i < 4; i++) {
      h1b.accept(keys[i]);
    }
    var merged = h1.merge(h1b);
    assertEquals(1, merged.count(0x01));
    assertEquals(2, merged.count(0x02));
    assertEquals(3, merged.total()); // the key outside the prefix is ignored
    assertEquals(0xAB02_0000_0000_0000L, merged.lowKey(2));
    assertEquals(0xAB02_FFFF_FFFF_FFFFL, merged.highKey(2));
    assertThrows(IllegalArgumentException.class, () -> h1.merge(h0));
    assertThrows(IllegalArgumentException.class, () -> h1.merge(new KeyHistogram(8, 1, 0xAC)));
  }

  /** Scores drawn from {@code distinct} values (many ties) or continuous when distinct is 0. */
  static long[] keys(int n, int distinct, long seed) {
    var rnd = new SplittableRandom(seed);
    var k = new long[n];
    for (int i = 0; i < n; i++) {
      double s = distinct > 0 ? rnd.nextInt(distinct) - distinct / 3 : rnd.nextDouble(-1, 1) * Math.exp(rnd.nextInt(20));
      k[i] = ScoreKeys.key(s);
    }
    return k;
  }

  /** Runs the selection over {@code keys} split into {@code parts} partitions merged after each pass. */
  static Threshold select(long[] keys, long k, int digitBits, int cap, int parts) {
    var sel = new RadixSelector(keys.length, k, digitBits, cap);
    int guard = 0;
    while (!sel.resolved()) {
      PassAccumulator merged = null;
      for (int p = 0; p < parts; p++) {
        int from = (int) ((long) keys.length * p / parts);
        int to = (int) ((long) keys.length * (p + 1) / parts);
        var acc = sel.newPass();
        acc.acceptAll(keys, from, to - from);
        merged = merged == null ? acc : merged.merge(acc);
      }
      sel.complete(merged);
      assertTrue(++guard <= KeyHistogram.levels(digitBits) + 1, "too many passes");
    }
    return sel.threshold();
  }

  /** Checks a threshold against the sorted keys, and that applying it in stream order prunes exactly k. */
  static void checkAgainstSort(long[] keys, long k, Threshold t) {
    var sorted = keys.clone();
    for (int i = 0; i < sorted.length; i++) {
      sorted[i] ^= Long.MIN_VALUE;
    }
    Arrays.sort(sorted);
    assertEquals(k, t.pruneCount());
    var cut = t.cut();
    long pruned = 0;
    long maxPruned = Long.MIN_VALUE;
    long minKept = Long.MAX_VALUE;
    for (long key : keys) {
      long signed = key ^ Long.MIN_VALUE;
      if (cut.prune(key)) {
        pruned++;
        maxPruned = Math.max(maxPruned, signed);
      } else {
        minKept = Math.min(minKept, signed);
      }
    }
    assertEquals(k, pruned);
    if (k > 0 && k < keys.length) {
      // the pruned set is the k smallest: the largest pruned is the k-th sorted, nothing kept is smaller
      assertEquals(sorted[(int) k - 1], maxPruned);
      assertEquals(sorted[(int) k - 1] ^ Long.MIN_VALUE, t.key());
      assertTrue(minKept >= maxPruned);
      long below = Arrays.stream(sorted).filter(v -> v < sorted[(int) k - 1]).count();
      long equal = Arrays.stream(sorted).filter(v -> v == sorted[(int) k - 1]).count();
      assertEquals(below, t.below());
      assertEquals(equal, t.equalTotal());
    }
  }

  @Test
  void equalsFullSortOnManySizesTiesAndSettings() {
    int[] sizes = {1, 2, 10, 1000, 100_000};
    double[] fractions = {0, 0.001, 0.3, 0.5, 0.999, 1};
    int[][] settings = {{16, 1 << 20}, {16, 0}, {8, 16}, {4, 0}, {13, 100}, {20, 64}};
    long seed = 1;
    for (int n : sizes) {
      for (int distinct : new int[] {3, 50, 0}) {
        var keys = keys(n, distinct, seed++);
        for (double f : fractions) {
          long k = (long) Math.floor(f * n);
          for (int[] s : settings) {
            int parts = n >= 4 ? 3 : 1;
            checkAgainstSort(keys, k, select(keys, k, s[0], s[1], parts));
          }
        }
        // and every k for the small sizes
        if (n <= 10) {
          for (long k = 0; k <= n; k++) {
            checkAgainstSort(keys, k, select(keys, k, 8, 0, 1));
            checkAgainstSort(keys, k, select(keys, k, 16, 4, 2));
          }
        }
      }
    }
  }

  @Test
  void accumulatorsTravelAsPartsAndMergeAcrossProcesses() {
    // Each "process" scores its partition into an accumulator rebuilt from the pass description, sends its
    // parts (counts or keys), and the coordinator rebuilds and merges them: the same threshold as one stream.
    var keys = keys(50_000, 7, 12);
    long k = 20_000;
    var sel = new RadixSelector(keys.length, k, 12, 500);
    while (!sel.resolved()) {
      var template = sel.newPass();
      PassAccumulator merged = null;
      for (int p = 0; p < 4; p++) {
        int from = keys.length * p / 4;
        int to = keys.length * (p + 1) / 4;
        PassAccumulator received;
        if (template instanceof KeyHistogram h) {
          var local = new KeyHistogram(h.digitBits(), h.level(), h.prefix());
          local.acceptAll(keys, from, to - from);
          received = KeyHistogram.of(local.digitBits(), local.level(), local.prefix(), local.counts());
          assertEquals(local, received);
        } else {
          var c = (KeyCollection) template;
          var local = new KeyCollection(c.prefixBits(), c.prefix(), 0);
          local.acceptAll(keys, from, to - from);
          received = KeyCollection.of(local.prefixBits(), local.prefix(), local.keys());
        }
        merged = merged == null ? received : merged.merge(received);
      }
      sel.complete(merged);
    }
    checkAgainstSort(keys, k, sel.threshold());
    assertEquals(select(keys, k, 12, 500, 1), sel.threshold());
    assertThrows(IllegalArgumentException.class, () -> KeyHistogram.of(12, 0, 0, new long[10]));
    assertThrows(IllegalArgumentException.class, () -> KeyCollection.of(8, 0xAB, new long[] {0x0100_0000_0000_0000L}));
  }

  @Test
  void aChangedStreamIsDetected() {
    var keys = keys(1000, 0, 9);
    var sel = new RadixSelector(keys.length, 500, 16, 0);
    var acc = sel.newPass();
    acc.acceptAll(keys, 0, keys.length);
    sel.complete(acc);
    var second = sel.newPass();
    second.acceptAll(keys, 0, 10); // a stream that lost most of its keys
    var e = assertThrows(IllegalStateException.class, () -> sel.complete(second));
    assertTrue(e.getMessage().contains("changed between passes"), e.getMessage());
  }

  @Test
  void passesAreFewWithTheDefaults() {
    // 10^5 continuous scores, 16-bit digits and a 2^20 cap: collected at once, one pass
    var keys = keys(100_000, 0, 4);
    var sel = new RadixSelector(keys.length, 33_333, 16, 1 << 20);
    var acc = sel.newPass();
    assertTrue(acc instanceof KeyCollection);
    acc.acceptAll(keys, 0, keys.length);
    sel.complete(acc);
    assertTrue(sel.resolved());
    // with a cap of 1000 keys: a 16-bit histogram narrows to a bucket small enough, then a collection
    var sel2 = new RadixSelector(keys.length, 33_333, 16, 1000);
    while (!sel2.resolved()) {
      var a = sel2.newPass();
      a.acceptAll(keys, 0, keys.length);
      sel2.complete(a);
    }
    assertTrue(sel2.passes() <= 3, "passes " + sel2.passes());
    assertEquals(sel.threshold(), sel2.threshold());
  }
}
