package io.gaprune.planner;

import java.util.ArrayList;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * A loop over independent indices (the rows of a layer, the columns of a triangular factor) spread over the
 * machine's cores. Each index is computed whole by one thread, with the arithmetic and order of a plain loop, so
 * the results are the same bits at any thread count; only the wall time changes. The layer-wise methods are
 * {@code O(cols³)} per tensor ({@link SparseGpt}: hours on one core for a 4B model's MLP), which is why they use it.
 *
 * <p>Indices are handed out in chunks from a shared counter, so loops whose work shrinks or grows with the index
 * (triangular ones) stay balanced. The calling thread works too; an exception of any index fails the loop.
 */
final class ParallelRows {

  /** Below this many multiply-adds in all a loop runs on the calling thread: forking would cost more. */
  static final long MIN_PARALLEL_WORK = 1L << 16;

  private static final ParallelRows SHARED = of(Runtime.getRuntime().availableProcessors());

  private final int threads;
  private final ForkJoinPool helpers; // threads − 1 of them; null when serial

  private ParallelRows(int threads) {
    this.threads = threads;
    this.helpers = threads > 1 ? new ForkJoinPool(threads - 1) : null;
  }

  /** One per JVM, on every core: what the planner uses. */
  static ParallelRows shared() {
    return SHARED;
  }

  /** On {@code threads} threads (1: the calling thread alone); for tests and benchmarks. */
  static ParallelRows of(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be ≥ 1, got " + threads);
    }
    return new ParallelRows(threads);
  }

  int threads() {
    return threads;
  }

  /**
   * Runs {@code body} for every index in {@code [from, to)}, each exactly once.
   *
   * @param workPerIndex about how many multiply-adds one index costs (only to decide whether to fork)
   */
  void forEach(int from, int to, long workPerIndex, IntConsumer body) {
    int n = to - from;
    if (helpers == null || n < 2 || workPerIndex * n < MIN_PARALLEL_WORK) {
      for (int i = from; i < to; i++) {
        body.accept(i);
      }
      return;
    }
    int chunk = Math.max(1, n / (threads * 8));
    var next = new AtomicInteger(from);
    Runnable worker = () -> {
      for (int start; (start = next.getAndAdd(chunk)) < to; ) {
        int end = Math.min(to, start + chunk);
        for (int i = start; i < end; i++) {
          body.accept(i);
        }
      }
    };
    var tasks = new ArrayList<ForkJoinTask<?>>();
    for (int t = 1; t < Math.min(threads, n); t++) {
      tasks.add(helpers.submit(worker));
    }
    RuntimeException failure = null;
    try {
      worker.run();
    } catch (RuntimeException e) {
      failure = e;
      next.set(to); // the helpers stop at their next chunk
    }
    for (var task : tasks) {
      try {
        task.join();
      } catch (RuntimeException e) {
        if (failure == null) {
          failure = e;
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
