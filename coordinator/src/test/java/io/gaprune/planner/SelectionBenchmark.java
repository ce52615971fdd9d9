package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Exact selection of the k-th score: the streaming radix select against a full sort, side by side in one run.
 *
 * <p>Scores are a deterministic function of their index ({@link #score(long)}), so a stream can be generated
 * again on every pass, as the planner re-scores the model on every pass. Memory: the bytes the measuring thread
 * (and its workers) allocated (com.sun.management.ThreadMXBean), and the heap's peak (sum of the heap pools'
 * peaks after a GC and a peak reset), above the baseline measured just before.
 *
 * <p>Run: {@code mvn -B -ntp -Pbench -pl coordinator -am verify -Dtest=SelectionBenchmark
 * -Dsurefire.failIfNoSpecifiedTests=false} (optionally {@code -Dbench.streamed=1000000000 -Dbench.n=100000000}).
 */
@Tag("bench")
class SelectionBenchmark {

  static final long SEED = 0x5eedL;

  /** A deterministic score per index: log-uniform magnitudes with ~1% exact ties (quantised values). */
  static long key(long i) {
    long z = Scorer.mix64(SEED + (i + 1) * 0x9E3779B97F4A7C15L);
    double u = (z >>> 11) * 0x1.0p-53;
    double s = (z & 127) == 0 ? Math.floor(u * 8) / 8 : Math.exp(-20 * u); // some exact ties
    return ScoreKeys.key(s);
  }

  static double score(long i) {
    return ScoreKeys.score(key(i));
  }

  record Measure(String what, double seconds, long allocatedBytes, long peakHeapBytes, String detail) {}

  static final com.sun.management.ThreadMXBean THREADS =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

  static long heapPeakSum() {
    long s = 0;
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) {
        s += p.getPeakUsage().getUsed();
      }
    }
    return s;
  }

  static long heapUsedSum() {
    long s = 0;
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      if (p.getType() == MemoryType.HEAP) {
        s += p.getUsage().getUsed();
      }
    }
    return s;
  }

  interface Job {
    String run() throws Exception;
  }

  static final List<Long> WORKER_ALLOC = new ArrayList<>();

  static Measure measure(String what, Job job) throws Exception {
    System.gc();
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      p.resetPeakUsage();
    }
    long baseline = heapUsedSum();
    synchronized (WORKER_ALLOC) {
      WORKER_ALLOC.clear();
    }
    long tid = Thread.currentThread().getId();
    long a0 = THREADS.getThreadAllocatedBytes(tid);
    long t0 = System.nanoTime();
    String detail = job.run();
    double sec = (System.nanoTime() - t0) / 1e9;
    long alloc = THREADS.getThreadAllocatedBytes(tid) - a0;
    synchronized (WORKER_ALLOC) {
      for (long w : WORKER_ALLOC) {
        alloc += w;
      }
    }
    long peak = Math.max(0, heapPeakSum() - baseline);
    return new Measure(what, sec, alloc, peak, detail);
  }

  /** Radix select over indices [0, n) generated on the fly, one partition per thread, merged each pass. */
  static int lastPasses;

  static Threshold streamedSelect(long n, long k, int threads, ExecutorService pool) throws Exception {
    return streamedSelect(n, k, threads, pool, 16);
  }

  static Threshold streamedSelect(long n, long k, int threads, ExecutorService pool, int digitBits)
      throws Exception {
    var sel = new RadixSelector(n, k, digitBits, 1 << 20);
    while (!sel.resolved()) {
      var futures = new ArrayList<Future<PassAccumulator>>();
      for (int t = 0; t < threads; t++) {
        long from = n * t / threads;
        long to = n * (t + 1) / threads;
        futures.add(pool.submit(() -> {
          long a0 = THREADS.getThreadAllocatedBytes(Thread.currentThread().getId());
          var acc = sel.newPass();
          var chunk = new long[1 << 16];
          for (long i = from; i < to; i += chunk.length) {
            int len = (int) Math.min(chunk.length, to - i);
            for (int j = 0; j < len; j++) {
              chunk[j] = key(i + j);
            }
            acc.acceptAll(chunk, 0, len);
          }
          synchronized (WORKER_ALLOC) {
            WORKER_ALLOC.add(THREADS.getThreadAllocatedBytes(Thread.currentThread().getId()) - a0);
          }
          return acc;
        }));
      }
      PassAccumulator merged = null;
      for (var f : futures) {
        merged = merged == null ? f.get() : merged.merge(f.get());
      }
      sel.complete(merged);
    }
    lastPasses = sel.passes();
    return sel.threshold();
  }

  static double median(List<Double> xs) {
    var s = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return s[s.length / 2];
  }

  static void print(List<Measure> ms) {
    System.out.printf("%-58s %10s %14s %14s  %s%n", "method", "seconds", "allocated MB", "peak heap MB",
        "detail");
    for (var m : ms) {
      System.out.printf("%-58s %10.3f %14.1f %14.1f  %s%n", m.what(), m.seconds(), m.allocatedBytes() / 1e6,
          m.peakHeapBytes() / 1e6, m.detail());
    }
  }

  @Test
  void radixSelectAgainstFullSort() throws Exception {
    long n = Long.getLong("bench.n", 100_000_000L);
    long streamedN = Long.getLong("bench.streamed", 1_000_000_000L);
    int runs = Integer.getInteger("bench.runs", 3);
    int threads = Runtime.getRuntime().availableProcessors();
    long k = n / 2;
    System.out.printf("n = %,d, k = %,d, %d runs each (median), %d cores, max heap %d MB%n", n, k, runs,
        threads, Runtime.getRuntime().maxMemory() >> 20);
    var pool = Executors.newFixedThreadPool(threads);
    try {
      var keys = new long[(int) n];
      for (int i = 0; i < n; i++) {
        keys[i] = key(i);
      }
      var all = new ArrayList<Measure>();
      var timesSort = new ArrayList<Double>();
      var timesRadix = new ArrayList<Double>();
      var timesStream = new ArrayList<Double>();
      Measure lastSort = null;
      Measure lastRadix = null;
      Measure lastStream = null;
      long[] sortKey = new long[1];
      long[] radixKey = new long[1];
      for (int r = 0; r < runs; r++) {
        lastSort = measure("full sort (Arrays.sort of a copy, k-th element)", () -> {
          var copy = keys.clone();
          for (int i = 0; i < copy.length; i++) {
            copy[i] ^= Long.MIN_VALUE;
          }
          Arrays.sort(copy);
          sortKey[0] = copy[(int) k - 1] ^ Long.MIN_VALUE;
          return "k-th score " + ScoreKeys.score(sortKey[0]);
        });
        timesSort.add(lastSort.seconds());
        lastRadix = measure("radix select over the same array in memory", () -> {
          var sel = new RadixSelector(n, k, 16, 1 << 20);
          while (!sel.resolved()) {
            var acc = sel.newPass();
            acc.acceptAll(keys, 0, keys.length);
            sel.complete(acc);
          }
          radixKey[0] = sel.threshold().key();
          return sel.passes() + " passes, k-th score " + sel.threshold().score();
        });
        timesRadix.add(lastRadix.seconds());
        assertEquals(sortKey[0], radixKey[0]);
        lastStream = measure("radix select streamed (scores regenerated each pass)", () -> {
          var t = streamedSelect(n, k, threads, pool);
          assertEquals(sortKey[0], t.key());
          return lastPasses + " passes, k-th score " + t.score() + ", " + t.equalTotal() + " tied";
        });
        timesStream.add(lastStream.seconds());
      }
      all.add(new Measure(lastSort.what(), median(timesSort), lastSort.allocatedBytes(), lastSort.peakHeapBytes(),
          lastSort.detail()));
      all.add(new Measure(lastRadix.what(), median(timesRadix), lastRadix.allocatedBytes(),
          lastRadix.peakHeapBytes(), lastRadix.detail()));
      all.add(new Measure(lastStream.what(), median(timesStream), lastStream.allocatedBytes(),
          lastStream.peakHeapBytes(), lastStream.detail()));
      System.out.printf("%n== %,d scores ==%n", n);
      print(all);
      System.out.printf("ratio full sort / radix in memory: %.1fx; full sort / radix streamed: %.1fx%n",
          median(timesSort) / median(timesRadix), median(timesSort) / median(timesStream));

      if (streamedN > 0) {
        long k2 = streamedN * 3 / 10;
        var big = measure(String.format("radix select streamed, %,d scores, k = %,d, 16-bit digits", streamedN, k2),
            () -> {
              var t = streamedSelect(streamedN, k2, threads, pool, 16);
              return lastPasses + " passes, k-th score " + t.score() + ", " + t.below() + " below, "
                  + t.equalTotal() + " tied";
            });
        // the planner's default for one selection: 20-bit digits (8 MiB), one histogram pass fewer here
        var wide = measure(String.format("radix select streamed, %,d scores, k = %,d, 20-bit digits", streamedN, k2),
            () -> {
              var t = streamedSelect(streamedN, k2, threads, pool, 20);
              return lastPasses + " passes, k-th score " + t.score() + ", " + t.below() + " below, "
                  + t.equalTotal() + " tied";
            });
        // the generator alone, one pass, for scale
        var gen = measure(String.format("(one pass generating %,d scores, no selection)", streamedN), () -> {
          var futures = new ArrayList<Future<Long>>();
          for (int t = 0; t < threads; t++) {
            long from = streamedN * t / threads;
            long to = streamedN * (t + 1) / threads;
            futures.add(pool.submit(() -> {
              long x = 0;
              for (long i = from; i < to; i++) {
                x += key(i);
              }
              return x;
            }));
          }
          long x = 0;
          for (var f : futures) {
            x += f.get();
          }
          return "checksum " + Long.toHexString(x);
        });
        System.out.printf("%n== %,d streamed scores ==%n", streamedN);
        print(List.of(big, wide, gen));
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
