package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * SparseGPT on one layer of a real size, side by side in one run: the factor {@code U} of the inverse Hessian as
 * the textbook loops compute it (the project's code before {@link ParallelRows}: {@code L⁻¹} walked down its
 * columns, one thread, a new array for each step), the same factor on one thread and on every core, and the whole layer (factor, adaptive
 * mask, updates; unstructured 50%) on one thread and on every core. Every variant gives the same bits (checked).
 *
 * <p>Run: {@code mvn -B -ntp -Pbench -pl coordinator -am verify -Dtest=SparseGptBenchmark
 * -Dsurefire.failIfNoSpecifiedTests=false} (optionally {@code -Dbench.shape=1024x3072 -Dbench.rounds=3}; the
 * default shape is Qwen3-0.6B's {@code down_proj}, 1024 outputs of 3072 inputs).
 */
@Tag("bench")
class SparseGptBenchmark {

  @Test
  void sparseGptOnOneThreadAndOnEveryCore() {
    String[] shape = System.getProperty("bench.shape", "1024x3072").split("x");
    int rows = Integer.parseInt(shape[0]);
    int cols = Integer.parseInt(shape[1]);
    int rounds = Integer.getInteger("bench.rounds", 3);
    var rnd = new Random(7);
    var w = new double[rows * cols];
    for (int i = 0; i < w.length; i++) {
      w[i] = rnd.nextGaussian() * 0.02;
    }
    var h = spdHessian(cols, rnd);
    var one = ParallelRows.of(1);
    var all = ParallelRows.shared();
    var dampened = h.clone();
    for (int j = 0; j < cols; j++) {
      dampened[j * cols + j] += 0.01;
    }
    long k = (long) rows * cols / 2;
    var times = new LinkedHashMap<String, List<Double>>();
    System.out.printf(Locale.ROOT, "SparseGPT on a %d×%d layer, %d rounds, %d cores%n", rows, cols, rounds,
        all.threads());
    for (int round = 0; round < rounds; round++) {
      var textbook = time(times, "factor, textbook loops, 1 thread", () -> textbookFactor(dampened, cols));
      var serial = time(times, "factor, 1 thread",
          () -> SparseGpt.upperCholeskyOfInverse("b", dampened.clone(), cols, one));
      var parallel = time(times, "factor, " + all.threads() + " threads",
          () -> SparseGpt.upperCholeskyOfInverse("b", dampened.clone(), cols, all));
      assertArrayEquals(textbook, serial);
      assertArrayEquals(serial, parallel);
      var a = time(times, "layer, 1 thread", () -> SparseGpt.run("b", w, rows, cols, h, null, null,
          Structure.UNSTRUCTURED, k, SparseGpt.DEFAULT_BLOCK, SparseGpt.DEFAULT_DAMPENING, one));
      var b = time(times, "layer, " + all.threads() + " threads", () -> SparseGpt.run("b", w, rows, cols, h, null,
          null, Structure.UNSTRUCTURED, k, SparseGpt.DEFAULT_BLOCK, SparseGpt.DEFAULT_DAMPENING, all));
      assertArrayEquals(a.weights(), b.weights());
      assertArrayEquals(a.mask(), b.mask());
    }
    var medians = new LinkedHashMap<String, Double>();
    times.forEach((what, t) -> medians.put(what, median(t)));
    medians.forEach((what, m) -> System.out.printf(Locale.ROOT, "  %-36s median %8.2f s  (%s)%n", what, m,
        times.get(what)));
    var keys = new ArrayList<>(medians.keySet());
    System.out.printf(Locale.ROOT, "  factor: textbook ÷ 1 thread %.2f, 1 thread ÷ %d threads %.2f; layer: 1 thread "
        + "÷ %d threads %.2f%n", medians.get(keys.get(0)) / medians.get(keys.get(1)), all.threads(),
        medians.get(keys.get(1)) / medians.get(keys.get(2)), all.threads(),
        medians.get(keys.get(3)) / medians.get(keys.get(4)));
  }

  private static <T> T time(Map<String, List<Double>> times, String what, Supplier<T> run) {
    long start = System.nanoTime();
    T out = run.get();
    times.computeIfAbsent(what, w -> new ArrayList<>()).add(Math.round((System.nanoTime() - start) / 1e7) / 100.0);
    return out;
  }

  private static double median(List<Double> values) {
    var sorted = values.stream().sorted().toList();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  /** A positive definite Hessian of correlated inputs: diagonal of varied sizes plus a rank-64 part. */
  private static double[] spdHessian(int n, Random rnd) {
    int rank = 64;
    var v = new double[n * rank];
    for (int i = 0; i < v.length; i++) {
      v[i] = rnd.nextGaussian();
    }
    var h = new double[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        double s = 0;
        for (int t = 0; t < rank; t++) {
          s += v[i * rank + t] * v[j * rank + t];
        }
        h[i * n + j] = s;
        h[j * n + i] = s;
      }
      h[i * n + i] += 1 + 10 * rnd.nextDouble();
    }
    return h;
  }

  /** The factor as the project computed it before: {@code L⁻¹} and {@code H⁻¹} summed down columns (stride n). */
  private static double[] textbookFactor(double[] h, int n) {
    var serial = ParallelRows.of(1);
    var l = h.clone();
    SparseGpt.choleskyInPlace("b", l, n, "H", serial);
    var li = new double[n * n];
    for (int c = 0; c < n; c++) {
      li[c * n + c] = 1 / l[c * n + c];
      for (int r = c + 1; r < n; r++) {
        double s = 0;
        for (int t = c; t < r; t++) {
          s += l[r * n + t] * li[t * n + c];
        }
        li[r * n + c] = -s / l[r * n + r];
      }
    }
    var inv = new double[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = i; j < n; j++) {
        double s = 0;
        for (int t = j; t < n; t++) {
          s += li[t * n + i] * li[t * n + j];
        }
        inv[i * n + j] = s;
        inv[j * n + i] = s;
      }
    }
    SparseGpt.choleskyInPlace("b", inv, n, "H⁻¹", serial);
    var lower = inv;
    var u = new double[n * n];
    for (int i = 0; i < n; i++) {
      for (int j = i; j < n; j++) {
        u[i * n + j] = lower[j * n + i];
      }
    }
    return u;
  }
}
