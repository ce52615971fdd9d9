package io.gaprune.planner;

import io.gaprune.model.safetensors.HalfFloats;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Scores one tensor in hand (pure float64 arithmetic, deterministic: the same inputs give bit-identical scores
 * on every pass, which the exact selection relies on). Order: raw method score, then per-tensor
 * post-processing, then the optional fusion term.
 */
public final class Scorer {

  private final ScoringConfig config;

  public Scorer(ScoringConfig config) {
    this.config = config;
  }

  public ScoringConfig config() {
    return config;
  }

  /** Whether scoring reads the statistics (the method, or the fusion term, needs F_dom). */
  public boolean needsStatistics() {
    return config.method().needsStatistics() || config.fusion();
  }

  /** The final scores of one tensor (higher = more important, kept first). */
  public double[] score(TensorInput t) {
    validate(t, needsStatistics(), config.needsGradientSums());
    if (config.needsInputSquares()) {
      validateInputs(t);
    }
    var raw = raw(t);
    var out = postProcess(raw, config.postProcess(), config.temperature());
    if (config.fusion()) {
      var fd = t.stats().fisherDomain();
      var w = t.weights();
      for (int i = 0; i < out.length; i++) {
        out[i] = config.fusionAlpha() * fd[i] * Math.abs((double) w[i]) + config.fusionBeta() * out[i];
      }
    }
    for (int i = 0; i < out.length; i++) {
      if (Double.isNaN(out[i])) {
        throw new IllegalArgumentException("tensor " + t.name() + ": score of element " + i + " is NaN ("
            + config.method() + "); check the hyperparameters");
      }
    }
    return out;
  }

  /** Checks sizes and values; every message names the tensor. */
  static void validate(TensorInput t, boolean needStats, boolean needGradients) {
    String name = t.name();
    long n = t.meta().size();
    var w = t.weights();
    if (w.length != n) {
      throw new IllegalArgumentException("tensor " + name + ": " + w.length + " weights, shape "
          + Arrays.toString(t.meta().shape()) + " needs " + n);
    }
    for (int i = 0; i < w.length; i++) {
      if (!Float.isFinite(w[i])) {
        throw new IllegalArgumentException("tensor " + name + ": weight " + i + " is " + w[i]);
      }
    }
    var s = t.stats();
    if (s == null) {
      if (needStats) {
        throw new IllegalArgumentException("tensor " + name + " has no statistics, and the scoring needs them");
      }
      return;
    }
    check(name, "F_gen (fisherGeneral)", s.fisherGeneral(), n, t, true);
    check(name, "F_dom (fisherDomain)", s.fisherDomain(), n, t, true);
    if (s.meanGradGeneral().length == 0 && s.meanGradDomain().length == 0) {
      if (needGradients) {
        throw new IllegalArgumentException("tensor " + name + ": the scoring reads the mean gradients, and these "
            + "statistics were collected without them (a session whose scoring reads the Fisher only); collect "
            + "them again with this scoring, or with compare listing it");
      }
      return;
    }
    check(name, "mean general gradient", s.meanGradGeneral(), n, t, false);
    check(name, "mean domain gradient", s.meanGradDomain(), n, t, false);
  }

  /** The {@code Σx²} Wanda and the input term read: one non-negative finite value per input channel of each half. */
  private static void validateInputs(TensorInput t) {
    var s = t.stats();
    var shape = t.meta().shape();
    if (s == null || !s.hasInputSquares()) {
      throw new IllegalArgumentException("tensor " + t.name() + ": the scoring (wanda, or dai-calibrated's input="
          + "term) reads the input channels' Σx², and these statistics have none; collect them again with this "
          + "scoring listed, or save them with --save-statistics from a run that lists it");
    }
    if (shape.length != 2 || s.inputSquaresGeneral().length != shape[1]
        || s.inputSquaresDomain().length != shape[1]) {
      throw new IllegalArgumentException("tensor " + t.name() + ": input statistics of "
          + s.inputSquaresGeneral().length + "/" + s.inputSquaresDomain().length + " channels, shape "
          + Arrays.toString(shape) + " is not a linear layer with that many inputs");
    }
    for (double[] a : new double[][] {s.inputSquaresGeneral(), s.inputSquaresDomain()}) {
      for (int j = 0; j < a.length; j++) {
        if (!Double.isFinite(a[j]) || a[j] < 0) {
          throw new IllegalArgumentException("tensor " + t.name() + ": input statistic Σx² of channel " + j
              + " is " + a[j] + ", not a finite sum of squares");
        }
      }
    }
  }

  private static void check(String name, String what, double[] a, long n, TensorInput t, boolean nonNegative) {
    if (a.length != n) {
      throw new IllegalArgumentException("tensor " + name + ": statistic " + what + " has " + a.length
          + " values but the weights have " + n + " (shape " + Arrays.toString(t.meta().shape())
          + "): statistics and weights do not match");
    }
    for (int i = 0; i < a.length; i++) {
      double v = a[i];
      if (!Double.isFinite(v)) {
        throw new IllegalArgumentException("tensor " + name + ": statistic " + what + " at element " + i + " is " + v);
      }
      if (nonNegative && v < 0) {
        throw new IllegalArgumentException("tensor " + name + ": statistic " + what + " at element " + i
            + " is negative (" + v + "), a mean of squares cannot be");
      }
    }
  }

  private double[] raw(TensorInput t) {
    var w = t.weights();
    int n = w.length;
    var out = new double[n];
    var c = config;
    switch (c.method()) {
      case MAGNITUDE -> {
        for (int i = 0; i < n; i++) {
          out[i] = Math.abs((double) w[i]);
        }
      }
      case FISHER_DOMAIN, FISHER_GENERAL -> {
        var f = c.method() == ScoringMethod.FISHER_DOMAIN ? t.stats().fisherDomain() : t.stats().fisherGeneral();
        for (int i = 0; i < n; i++) {
          double x = w[i];
          out[i] = f[i] * x * x;
        }
      }
      case RANDOM -> {
        long base = mix64(c.seed() ^ fnv1a64(t.name()));
        for (int i = 0; i < n; i++) {
          out[i] = (mix64(base + (i + 1L) * 0x9E3779B97F4A7C15L) >>> 11) * 0x1.0p-53;
        }
      }
      case DAI -> {
        var s = t.stats();
        if (c.alignment() == Alignment.TENSOR) {
          double cos = cosine(s.meanGradGeneral(), s.meanGradDomain(), c.cosineEpsilon());
          for (int i = 0; i < n; i++) {
            out[i] = dai(w[i], s.fisherDomain()[i], s.fisherGeneral()[i], cos);
          }
        } else {
          var align = localCosine(s.meanGradGeneral(), s.meanGradDomain(), rows(t.meta()), cols(t.meta()),
              c.alignmentWindow());
          for (int i = 0; i < n; i++) {
            out[i] = dai(w[i], s.fisherDomain()[i], s.fisherGeneral()[i], align[i]);
          }
        }
      }
      case DAI_CALIBRATED -> calibrated(t, out);
      case WANDA -> {
        // a session's Wanda (budget rows or N:M): the Σx² of the session's calibration half or halves
        var scores = Wanda.scores(t.name(), w, rows(t.meta()), cols(t.meta()), c.calibration().squares(t.stats()));
        System.arraycopy(scores, 0, out, 0, n);
      }
      case SPARSEGPT -> throw new IllegalArgumentException(c.method() + " is planned layer by layer from the "
          + "layers' input statistics (LayerwisePruner), not by scores of a selection");
      case DAI_REFERENCE -> {
        var s = t.stats();
        double[] a = referenceAlignment(s.meanGradGeneral(), s.meanGradDomain(), t.meta());
        for (int i = 0; i < n; i++) {
          double fd = s.fisherDomain()[i] + 1e-8;
          double fg = s.fisherGeneral()[i] + 1e-8;
          if (c.referenceHalfStorage()) {
            fd = toHalf(fd);
            fg = toHalf(fg);
          }
          double abs = Math.abs((double) w[i]);
          double factor = Math.min(c.referenceClampHigh(), Math.max(c.referenceClampLow(), 1 + c.alpha() * a[i]));
          out[i] = softplus((fd - c.beta() * fg) * abs * factor + c.gamma() * Math.sqrt(abs + 1e-8));
        }
      }
    }
    return out;
  }

  /**
   * {@code 2·log|θ| + q·log(F + ε) + a·s}: a product {@code θ²·F^q·e^(a·s)} ranked through its logarithm, so
   * that no term's units decide the ranking. {@code F = max(0, F_dom + λ·c·F_gen)} with
   * {@code c = ΣF_dom / ΣF_gen} over the tensor (the general Fisher on the domain's scale),
   * {@code ε = κ·mean(F)}, the floor: a weight with no measured sensitivity is ranked by its magnitude against
   * a sensitivity of κ times the tensor's average, never as if removing it cost nothing.
   */
  private void calibrated(TensorInput t, double[] out) {
    var p = config.calibrated();
    var s = t.stats();
    var w = t.weights();
    int n = w.length;
    double sumDom = 0;
    double sumGen = 0;
    for (int i = 0; i < n; i++) {
      sumDom += s.fisherDomain()[i];
      sumGen += s.fisherGeneral()[i];
    }
    double scale = sumGen > 0 ? p.generalWeight() * sumDom / sumGen : 0;
    var f = new double[n];
    double mean = 0;
    for (int i = 0; i < n; i++) {
      f[i] = Math.max(0, s.fisherDomain()[i] + scale * s.fisherGeneral()[i]);
      mean += f[i];
    }
    mean /= Math.max(1, n);
    int rows = rows(t.meta());
    int cols = cols(t.meta());
    if (p.rank1() && t.meta().shape().length == 2) {
      f = rankOne(f, rows, cols);
    }
    double eps = mean > 0 ? p.floor() * mean : Double.MIN_NORMAL;
    double[] align = p.alignmentWeight() == 0 ? null
        : localCosine(s.meanGradGeneral(), s.meanGradDomain(), rows, cols, p.alignmentWindow());
    double[] input = p.inputExponent() == 0 ? null : inputTerm(s, p);
    double q = p.fisherExponent();
    for (int i = 0; i < n; i++) {
      double v = 2 * Math.log(Math.abs((double) w[i]));
      if (q != 0) {
        v += q * Math.log(f[i] + eps);
      }
      if (align != null) {
        v += p.alignmentWeight() * align[i];
      }
      if (input != null) {
        v += input[i % cols];
      }
      out[i] = v;
    }
  }

  /**
   * {@code r·log((u_j + κ·ū)/ū)} per input channel, {@code u_j = max(0, d_j/Σd + λ·g_j/Σg)} with {@code d, g}
   * the channel's Σx² on the domain and general half: each half as shares, so the term reads only how the
   * activation scale varies across the layer's inputs, and its mean over channels is near 0 whatever the layer's
   * scale (the budget between tensors stays the Fisher's and the weights').
   */
  static double[] inputTerm(WeightStatistics s, ScoringConfig.Calibrated p) {
    var d = s.inputSquaresDomain();
    var g = s.inputSquaresGeneral();
    double sumD = 0;
    double sumG = 0;
    for (int j = 0; j < d.length; j++) {
      sumD += d[j];
      sumG += g[j];
    }
    var u = new double[d.length];
    double mean = 0;
    for (int j = 0; j < d.length; j++) {
      u[j] = Math.max(0, (sumD > 0 ? d[j] / sumD : 0) + (sumG > 0 ? p.generalWeight() * g[j] / sumG : 0));
      mean += u[j];
    }
    mean /= Math.max(1, d.length);
    var out = new double[d.length];
    if (mean <= 0) {
      return out; // no channel saw any input: the term ranks nothing
    }
    for (int j = 0; j < d.length; j++) {
      out[j] = p.inputExponent() * Math.log((u[j] + p.floor() * mean) / mean);
    }
    return out;
  }

  /**
   * The rank-1 estimate {@code F_ij ≈ r_i·c_j / ΣF} (row sums times column sums over the total): for a linear
   * layer {@code g_ij = δ_i·x_j}, so {@code E[g_ij²] ≈ E[δ_i²]·E[x_j²]} when the two are independent, and the
   * product of the margins averages the per-weight noise of a few hundred samples away.
   */
  static double[] rankOne(double[] f, int rows, int cols) {
    var r = new double[rows];
    var c = new double[cols];
    double total = 0;
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        double v = f[i * cols + j];
        r[i] += v;
        c[j] += v;
        total += v;
      }
    }
    var out = new double[f.length];
    if (total > 0) {
      for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++) {
          out[i * cols + j] = r[i] * c[j] / total;
        }
      }
    }
    return out;
  }

  private double dai(float weight, double fDom, double fGen, double s) {
    double abs = Math.abs((double) weight);
    return ((fDom - config.beta() * fGen) * abs + config.gamma() * Math.sqrt(abs)) * (1 + config.alpha() * s);
  }

  /** The reference's alignment: unit-vector product, 3×3 box filter (zero padding, /9) for 2-D tensors. */
  private double[] referenceAlignment(double[] gGen, double[] gDom, TensorMeta meta) {
    double ng = Math.sqrt(dot(gGen, gGen));
    double nd = Math.sqrt(dot(gDom, gDom));
    int n = gGen.length;
    var p = new double[n];
    if (ng > 0 && nd > 0) {
      for (int i = 0; i < n; i++) {
        p[i] = (gGen[i] / ng) * (gDom[i] / nd);
      }
    }
    double[] a = p;
    if (meta.shape().length == 2) {
      a = boxSum(p, rows(meta), cols(meta), 1);
      for (int i = 0; i < n; i++) {
        a[i] /= 9;
      }
    }
    if (config.referenceHalfStorage()) {
      for (int i = 0; i < n; i++) {
        a[i] = toHalf(a[i]);
      }
    }
    return a;
  }

  private static double toHalf(double v) {
    return HalfFloats.f16ToFloat(HalfFloats.floatToF16((float) v));
  }

  static double softplus(double x) {
    // log(1 + e^x) without overflow: for large x it is x to double precision.
    return x > 36 ? x : Math.log1p(Math.exp(x));
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  /** The paper's {@code ⟨a, b⟩ / (‖a‖·‖b‖ + ε)}. */
  static double cosine(double[] a, double[] b, double eps) {
    double denom = Math.sqrt(dot(a, a)) * Math.sqrt(dot(b, b)) + eps;
    return denom == 0 ? 0 : dot(a, b) / denom;
  }

  static int rows(TensorMeta m) {
    var shape = m.shape();
    return shape.length < 2 ? 1 : Math.toIntExact(shape[0]);
  }

  static int cols(TensorMeta m) {
    int r = rows(m);
    return r == 0 ? 0 : Math.toIntExact(m.size() / r);
  }

  /**
   * Per-weight alignment: the cosine of the two mean gradients over the {@code w×w} window around each weight
   * (clipped at the edges), {@code Σ g_gen·g_dom / sqrt(Σ g_gen² · Σ g_dom²)}, 0 where either is all zero.
   * In [−1, 1] by Cauchy–Schwarz, scale-free (unlike the reference's product of unit vectors, whose values
   * shrink with the tensor's size), and graded: window 1 gives the sign agreement ±1.
   */
  static double[] localCosine(double[] gGen, double[] gDom, int rows, int cols, int window) {
    int n = gGen.length;
    var p = new double[n];
    var aa = new double[n];
    var bb = new double[n];
    for (int i = 0; i < n; i++) {
      p[i] = gGen[i] * gDom[i];
      aa[i] = gGen[i] * gGen[i];
      bb[i] = gDom[i] * gDom[i];
    }
    int r = window / 2;
    p = boxSum(p, rows, cols, r);
    aa = boxSum(aa, rows, cols, r);
    bb = boxSum(bb, rows, cols, r);
    var out = new double[n];
    for (int i = 0; i < n; i++) {
      double d = Math.sqrt(aa[i]) * Math.sqrt(bb[i]);
      // Clamp: rounding can push |p|/d a hair past 1.
      out[i] = d > 0 ? Math.max(-1, Math.min(1, p[i] / d)) : 0;
    }
    return out;
  }

  /** Sum over the (2r+1)×(2r+1) window around each element of a rows×cols array, zeros outside. */
  static double[] boxSum(double[] x, int rows, int cols, int r) {
    var h = new double[x.length];
    for (int i = 0; i < rows; i++) {
      int base = i * cols;
      for (int j = 0; j < cols; j++) {
        double s = 0;
        for (int d = Math.max(0, j - r); d <= Math.min(cols - 1, j + r); d++) {
          s += x[base + d];
        }
        h[base + j] = s;
      }
    }
    var out = new double[x.length];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        double s = 0;
        for (int d = Math.max(0, i - r); d <= Math.min(rows - 1, i + r); d++) {
          s += h[d * cols + j];
        }
        out[i * cols + j] = s;
      }
    }
    return out;
  }

  /** Per-tensor normalisation: a new array, or {@code x} itself for {@code NONE} (no copy of a large tensor). */
  static double[] postProcess(double[] x, PostProcess p, double temperature) {
    if (p == PostProcess.NONE) {
      return x;
    }
    int n = x.length;
    var out = new double[n];
    switch (p) {
      case NONE -> throw new AssertionError();
      case MINMAX -> {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double v : x) {
          min = Math.min(min, v);
          max = Math.max(max, v);
        }
        for (int i = 0; i < n; i++) {
          out[i] = (x[i] - min) / (max - min + 1e-8);
        }
      }
      case ZSCORE_SIGMOID -> {
        double mean = 0;
        for (double v : x) {
          mean += v;
        }
        mean /= Math.max(1, n);
        double ss = 0;
        for (double v : x) {
          ss += (v - mean) * (v - mean);
        }
        double std = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
        for (int i = 0; i < n; i++) {
          double z = (x[i] - mean) / (std + 1e-8);
          out[i] = 1 / (1 + Math.exp(-z / temperature));
        }
      }
      case RANK -> {
        var keys = new long[n];
        for (int i = 0; i < n; i++) {
          keys[i] = ScoreKeys.key(x[i]) ^ Long.MIN_VALUE; // signed order = score order
        }
        var sorted = keys.clone();
        Arrays.sort(sorted);
        var used = new int[n];
        for (int i = 0; i < n; i++) {
          int pos = lowerBound(sorted, keys[i]);
          out[i] = (double) (pos + used[pos]++) / n;
        }
      }
    }
    return out;
  }

  private static int lowerBound(long[] a, long v) {
    int lo = 0;
    int hi = a.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (a[mid] < v) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  static long fnv1a64(String s) {
    long h = 0xcbf29ce484222325L;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return h;
  }

  /** SplitMix64's finaliser: a bijective mix of 64 bits. */
  static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
