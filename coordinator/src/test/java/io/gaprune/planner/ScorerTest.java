package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Every scoring method, post-processing and the fusion term on small tensors whose expected values are worked out
 * by hand (the arithmetic is in the comments).
 */
class ScorerTest {

  // θ = [0.25, −1, 4, 0] (shape [2,2]), F_gen = [0.1, 0.2, 0, 0.5], F_dom = [0.3, 0.1, 0.5, 1],
  // ḡ_gen = [1, 2, 0, 2], ḡ_dom = [2, 1, 2, −1].
  // ⟨ḡ_gen, ḡ_dom⟩ = 2 + 2 + 0 − 2 = 2, ‖ḡ_gen‖ = 3, ‖ḡ_dom‖ = √10, so s = 2 / (3√10 + 1e-8) = 0.21081851045...
  static final float[] W = {0.25f, -1f, 4f, 0f};
  static final WeightStatistics STATS = new WeightStatistics(
      new double[] {0.1, 0.2, 0, 0.5}, new double[] {0.3, 0.1, 0.5, 1}, new double[] {1, 2, 0, 2},
      new double[] {2, 1, 2, -1});

  static TensorInput input(long[] shape) {
    return new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight", shape), W, STATS);
  }

  static double[] score(ScoringConfig c, long[] shape) {
    return new Scorer(c).score(input(shape));
  }

  static void near(double[] expected, double[] actual) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], 1e-12 * Math.max(1, Math.abs(expected[i])), "element " + i);
    }
  }

  @Test
  void daiPaperWithTensorCosine() {
    // (F_dom − F_gen)·|θ| + 0.5·sqrt|θ|: 0.2·0.25 + 0.25 = 0.30; −0.1·1 + 0.5 = 0.40; 0.5·4 + 1 = 3.0; 0
    // times 1 + 0.2·s = 1.0421637020911338
    double f = 1.0421637020911338;
    near(new double[] {0.30 * f, 0.40 * f, 3.0 * f, 0}, score(ScoringConfig.defaults(), new long[] {2, 2}));
    // β = 0, γ = 0, α = 0: F_dom·|θ| = [0.075, 0.1, 2.0, 0]
    near(new double[] {0.075, 0.1, 2.0, 0}, score(ScoringConfig.defaults().withHyper(0, 0, 0), new long[] {2, 2}));
  }

  @Test
  void daiWithLocalAlignment() {
    // Shape [1,4], window 3 (clipped): s_0 over {0,1}: Σp = 2 + 2 = 4, Σg² = 5, Σd² = 5 → 0.8
    // s_1 over {0,1,2}: 4 / sqrt(5·9) = 0.5962847939999439; s_2 over {1,2,3}: 2 + 0 − 2 = 0 → 0
    // s_3 over {2,3}: −2 / sqrt(4·5) = −0.4472135954999579
    var c = ScoringConfig.defaults().withAlignment(Alignment.LOCAL, 3);
    near(new double[] {0.30 * (1 + 0.2 * 0.8), 0.40 * (1 + 0.2 * 0.5962847939999439), 3.0, 0},
        score(c, new long[] {1, 4}));
    assertArrayEquals(new double[] {0.8, 0.5962847939999439, 0, -0.4472135954999579},
        Scorer.localCosine(STATS.meanGradGeneral(), STATS.meanGradDomain(), 1, 4, 3), 1e-15);
    // Window 1: the sign agreement of ḡ_gen·ḡ_dom: [+, +, 0 (ḡ_gen = 0), −]
    assertArrayEquals(new double[] {1, 1, 0, -1},
        Scorer.localCosine(STATS.meanGradGeneral(), STATS.meanGradDomain(), 2, 2, 1), 0);
    near(new double[] {0.36, 0.48, 3.0, 0}, score(c.withAlignment(Alignment.LOCAL, 1), new long[] {2, 2}));
    // On a 2×2 tensor a 3×3 window covers everything: the local cosine is the tensor cosine (without ε)
    var whole = Scorer.localCosine(STATS.meanGradGeneral(), STATS.meanGradDomain(), 2, 2, 3);
    for (double v : whole) {
      assertEquals(2 / (3 * Math.sqrt(10)), v, 1e-15);
    }
  }

  @Test
  void localAlignmentStaysInRangeAndIsScaleFree() {
    var rnd = new java.util.Random(3);
    int rows = 17;
    int cols = 23;
    var g = new double[rows * cols];
    var d = new double[rows * cols];
    for (int i = 0; i < g.length; i++) {
      g[i] = rnd.nextGaussian() * 1e-9;
      d[i] = g[i] * 0.5 + rnd.nextGaussian() * 1e-9;
    }
    var s = Scorer.localCosine(g, d, rows, cols, 3);
    var scaled = new double[d.length];
    for (int i = 0; i < d.length; i++) {
      scaled[i] = d[i] * 1e6;
    }
    var s2 = Scorer.localCosine(g, scaled, rows, cols, 3);
    double mean = 0;
    for (int i = 0; i < s.length; i++) {
      assertTrue(s[i] >= -1 && s[i] <= 1);
      assertEquals(s[i], s2[i], 1e-12);
      mean += s[i] / s.length;
    }
    // correlated gradients (ρ = 0.5/sqrt(1.25) ≈ 0.447) give a clearly positive local cosine, not a tiny number
    assertTrue(mean > 0.3 && mean < 0.6, "mean local cosine " + mean);
  }

  @Test
  void daiReferenceVariant() {
    // unit vectors: ḡ_gen/3 and ḡ_dom/√10; products [2, 2, 0, −2]/(3√10); on a 2×2 tensor every 3×3 window
    // (zero padding) sums all four: 2/(3√10), divided by 9: a = 2/(27√10) = 0.023424278964210215 everywhere.
    // factor = clamp(1 + 0.2a, 0.8, 1.2) = 1.004684855792842; the +1e-8 on both Fishers cancels (β = 1).
    // softplus(0.05f + 0.5·sqrt(0.25 + 1e-8)), softplus(−0.1f + 0.5·sqrt(1 + 1e-8)),
    // softplus(2f + 0.5·sqrt(4 + 1e-8)), softplus(0.5·sqrt(1e-8)) =
    var c = ScoringConfig.defaults().withMethod(ScoringMethod.DAI_REFERENCE);
    near(new double[] {0.8544898130652502, 0.9127348037280073, 3.0575146750650095, 0.6931721808724454},
        score(c, new long[] {2, 2}));
    // α = 100: 1 + 100a = 3.34 is clamped to 1.2
    near(new double[] {0.8601118893231408, 0.9010896153506202, 3.4328284716344957, 0.6931721808724454},
        score(c.withHyper(1, 0.5, 100), new long[] {2, 2}));
  }

  @Test
  void referenceBoxFilterZeroPadding() {
    // 3×3 input 1..9: the corner's window holds 1+2+4+5 = 12, an edge's 1+…+6 = 21, the centre's all 45
    double[] x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    assertArrayEquals(new double[] {12, 21, 16, 27, 45, 33, 24, 39, 28}, Scorer.boxSum(x, 3, 3, 1), 0);
  }

  @Test
  void referenceHalfStorageUnderflowsTinyStatistics() {
    // F + 1e-8 for F of a few 1e-9 is below 2^-25 ≈ 2.98e-8, half the smallest float16 subnormal: stored as 0,
    // so the Fisher term vanishes and every score is softplus(0.5·sqrt(|θ| + 1e-8)) (the alignment only
    // multiplies the Fisher term).
    var tiny = new WeightStatistics(new double[] {1e-9, 2e-9, 0, 1e-9}, new double[] {5e-9, 1e-9, 1e-9, 3e-9},
        STATS.meanGradGeneral(), STATS.meanGradDomain());
    var in = new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight", new long[] {2, 2}), W, tiny);
    var c = ScoringConfig.defaults().withMethod(ScoringMethod.DAI_REFERENCE).withReferenceHalfStorage(true);
    var expected = new double[4];
    for (int i = 0; i < 4; i++) {
      expected[i] = Scorer.softplus(0.5 * Math.sqrt(Math.abs(W[i]) + 1e-8));
    }
    near(expected, new Scorer(c).score(in));
    // without the half storage the tiny Fisher difference survives: element 0 has (5e-9 − 1e-9)·0.25·f > 0
    var exact = new Scorer(c.withReferenceHalfStorage(false)).score(in);
    assertTrue(exact[0] > expected[0]);
  }

  @Test
  void baselines() {
    near(new double[] {0.25, 1, 4, 0}, score(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE),
        new long[] {2, 2}));
    // F_dom·θ²: 0.3·0.0625, 0.1·1, 0.5·16, 1·0
    near(new double[] {0.01875, 0.1, 8.0, 0}, score(ScoringConfig.defaults().withMethod(ScoringMethod.FISHER_DOMAIN),
        new long[] {2, 2}));
    // F_gen·θ²: 0.1·0.0625, 0.2·1, 0·16, 0.5·0
    near(new double[] {0.00625, 0.2, 0, 0}, score(ScoringConfig.defaults().withMethod(ScoringMethod.FISHER_GENERAL),
        new long[] {2, 2}));
  }

  @Test
  void randomIsSeededPerTensorNameAndIndex() {
    var c = ScoringConfig.defaults().withMethod(ScoringMethod.RANDOM).withSeed(42);
    int n = 100_000;
    var w = new float[n];
    var a = new Scorer(c).score(new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight", new long[] {100, 1000}),
        w, null));
    var again = new Scorer(c).score(new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight",
        new long[] {100, 1000}), w, null));
    var other = new Scorer(c).score(new TensorInput(new TensorMeta("layers.1.mlp.up_proj.weight",
        new long[] {100, 1000}), w, null));
    var reseeded = new Scorer(c.withSeed(43)).score(new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight",
        new long[] {100, 1000}), w, null));
    assertArrayEquals(a, again, 0);
    assertNotEquals(a[0], other[0]);
    assertNotEquals(a[0], reseeded[0]);
    double mean = 0;
    for (double v : a) {
      assertTrue(v >= 0 && v < 1);
      mean += v / n;
    }
    assertEquals(0.5, mean, 0.005); // sd of the mean is 0.29/sqrt(1e5) ≈ 0.0009
  }

  @Test
  void postProcessing() {
    double[] x = {1, 2, 3, 4};
    // minmax: (x − 1)/(3 + 1e-8)
    near(new double[] {0, 1 / (3 + 1e-8), 2 / (3 + 1e-8), 3 / (3 + 1e-8)}, Scorer.postProcess(x, PostProcess.MINMAX, 1));
    // zscore: mean 2.5, unbiased std sqrt(5/3) = 1.2909944487358056, sigmoid(z / T)
    near(new double[] {0.23832312525290708, 0.4043678411899093, 0.5956321588100907, 0.7616768747470929},
        Scorer.postProcess(x, PostProcess.ZSCORE_SIGMOID, 1));
    near(new double[] {0.08917175611457602, 0.3154855955552073, 0.6845144044447926, 0.9108282438854239},
        Scorer.postProcess(x, PostProcess.ZSCORE_SIGMOID, 0.5));
    // rank / n, ascending, ties by index: [3, 1, 3, 2] → 1 is rank 0, 2 rank 1, the first 3 rank 2, the second 3
    near(new double[] {0.5, 0, 0.75, 0.25}, Scorer.postProcess(new double[] {3, 1, 3, 2}, PostProcess.RANK, 1));
    near(x, Scorer.postProcess(x, PostProcess.NONE, 1));
    // a constant tensor: minmax 0, zscore 0.5 (std 0), one element: rank 0
    near(new double[] {0, 0}, Scorer.postProcess(new double[] {7, 7}, PostProcess.MINMAX, 1));
    near(new double[] {0.5, 0.5}, Scorer.postProcess(new double[] {7, 7}, PostProcess.ZSCORE_SIGMOID, 1));
    near(new double[] {0}, Scorer.postProcess(new double[] {7}, PostProcess.RANK, 1));
    // through the scorer: magnitude [0.25, 1, 4, 0] ranked → [1/4, 2/4, 3/4, 0]
    var c = ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE).withPostProcess(PostProcess.RANK, 1);
    near(new double[] {0.25, 0.5, 0.75, 0}, score(c, new long[] {2, 2}));
  }

  @Test
  void fusionTerm() {
    // 2·F_dom·|θ| + 0.5·|θ|: 2·0.3·0.25 + 0.125 = 0.275; 0.2 + 0.5 = 0.7; 4 + 2 = 6; 0
    var c = ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE).withFusion(2, 0.5);
    near(new double[] {0.275, 0.7, 6, 0}, score(c, new long[] {2, 2}));
    // after minmax of magnitude ([0.0625, 0.25, 1, 0] up to the 1e-8): 2·F_dom·|θ| + 1·minmax
    var m = ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE).withPostProcess(PostProcess.MINMAX, 1)
        .withFusion(2, 1);
    near(new double[] {0.15 + 0.25 / (4 + 1e-8), 0.2 + 1 / (4 + 1e-8), 4 + 4 / (4 + 1e-8), 0}, score(m, new long[] {2, 2}));
    // fusion needs F_dom even for magnitude
    var noStats = new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight", new long[] {2, 2}), W, null);
    var e = assertThrows(IllegalArgumentException.class, () -> new Scorer(c).score(noStats));
    assertTrue(e.getMessage().contains("layers.0.mlp.up_proj.weight"), e.getMessage());
  }

  @Test
  void badStatisticsNameTheTensor() {
    String name = "layers.3.mlp.down_proj.weight";
    var meta = new TensorMeta(name, new long[] {2, 2});
    var scorer = new Scorer(ScoringConfig.defaults());
    var shortStats = new WeightStatistics(new double[3], new double[4], new double[4], new double[4]);
    var e = assertThrows(IllegalArgumentException.class, () -> scorer.score(new TensorInput(meta, W, shortStats)));
    assertTrue(e.getMessage().contains(name) && e.getMessage().contains("do not match"), e.getMessage());
    var nan = new WeightStatistics(new double[4], new double[] {0, Double.NaN, 0, 0}, new double[4], new double[4]);
    e = assertThrows(IllegalArgumentException.class, () -> scorer.score(new TensorInput(meta, W, nan)));
    assertTrue(e.getMessage().contains(name) && e.getMessage().contains("NaN") && e.getMessage().contains("element 1"),
        e.getMessage());
    var inf = new WeightStatistics(new double[4], new double[4], new double[] {0, 0, Double.POSITIVE_INFINITY, 0},
        new double[4]);
    e = assertThrows(IllegalArgumentException.class, () -> scorer.score(new TensorInput(meta, W, inf)));
    assertTrue(e.getMessage().contains(name) && e.getMessage().contains("Infinity"), e.getMessage());
    var negative = new WeightStatistics(new double[] {-1, 0, 0, 0}, new double[4], new double[4], new double[4]);
    e = assertThrows(IllegalArgumentException.class, () -> scorer.score(new TensorInput(meta, W, negative)));
    assertTrue(e.getMessage().contains(name) && e.getMessage().contains("negative"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> scorer.score(new TensorInput(meta, new float[3], STATS)));
    assertTrue(e.getMessage().contains(name) && e.getMessage().contains("3 weights"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> scorer.score(new TensorInput(meta, new float[] {0, Float.NaN, 0, 0}, STATS)));
    assertTrue(e.getMessage().contains(name), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> scorer.score(new TensorInput(meta, W, null)));
    assertTrue(e.getMessage().contains(name) && e.getMessage().contains("no statistics"), e.getMessage());
  }

  @Test
  void unknownNamesListTheValidOnes() {
    var e = assertThrows(IllegalArgumentException.class, () -> ScoringMethod.parse("owl"));
    assertTrue(e.getMessage().contains("owl") && e.getMessage().contains("dai-reference")
        && e.getMessage().contains("sparsegpt"), e.getMessage());
    assertEquals(ScoringMethod.WANDA, ScoringMethod.parse("wanda"));
    assertEquals(ScoringMethod.DAI_REFERENCE, ScoringMethod.parse("dai_reference"));
    assertEquals(ScoringMethod.FISHER_DOMAIN, ScoringMethod.parse("fisher-domain"));
    e = assertThrows(IllegalArgumentException.class, () -> PostProcess.parse("softmax"));
    assertTrue(e.getMessage().contains("zscore_sigmoid"), e.getMessage());
    assertEquals(PostProcess.ZSCORE_SIGMOID, PostProcess.parse("zscore_sigmoid"));
  }

  @Test
  void fromSumsDividesByBatches() {
    var ts = new io.gaprune.stats.TensorStats("t", new long[] {2}, new double[] {4, 8}, new double[] {2, -2},
        new double[] {6, 0}, new double[] {1, 3}, 0, 0);
    var s = WeightStatistics.fromSums(ts, 2);
    assertArrayEquals(new double[] {2, 4}, s.fisherGeneral(), 0);
    assertArrayEquals(new double[] {1, -1}, s.meanGradGeneral(), 0);
    assertArrayEquals(new double[] {3, 0}, s.fisherDomain(), 0);
    assertArrayEquals(new double[] {0.5, 1.5}, s.meanGradDomain(), 0);
    assertThrows(IllegalArgumentException.class, () -> WeightStatistics.fromSums(ts, 0));
    // the reference's Fisher divides by samples (here 8 general, 6 domain), the mean gradients by batches (2)
    var r = WeightStatistics.referenceFromSums(ts, 8, 6, 2, 2);
    assertArrayEquals(new double[] {0.5, 1}, r.fisherGeneral(), 0);
    assertArrayEquals(new double[] {1, 0}, r.fisherDomain(), 0);
    assertArrayEquals(new double[] {1, -1}, r.meanGradGeneral(), 0);
    assertArrayEquals(new double[] {0.5, 1.5}, r.meanGradDomain(), 0);
    assertThrows(IllegalArgumentException.class, () -> WeightStatistics.referenceFromSums(ts, 0, 6, 2, 2));
  }

  static ScoringConfig calibrated(double q, double lambda, double a, boolean rank1) {
    return calibrated(q, lambda, a, rank1, 1e-6);
  }

  static ScoringConfig calibrated(double q, double lambda, double a, boolean rank1, double floor) {
    return ScoringConfig.defaults().withMethod(ScoringMethod.DAI_CALIBRATED)
        .withCalibrated(new ScoringConfig.Calibrated(q, lambda, a, 3, rank1, floor));
  }

  @Test
  void calibratedDaiByHand() {
    // λ = 1: c = ΣF_dom / ΣF_gen = 1.9 / 0.8 = 2.375; F = F_dom + 2.375·F_gen = [0.5375, 0.575, 0.5, 2.1875]
    // mean(F) = 0.95 → ε = 9.5e-7; score = 2·log|θ| + 0.5·log(F + ε), θ_3 = 0 → −∞
    double eps = 9.5e-7;
    near(new double[] {2 * Math.log(0.25) + 0.5 * Math.log(0.5375 + eps), 0.5 * Math.log(0.575 + eps),
        2 * Math.log(4) + 0.5 * Math.log(0.5 + eps), Double.NEGATIVE_INFINITY},
        new Scorer(calibrated(0.5, 1, 0, false)).score(input(new long[] {2, 2})));
    // λ = −1: F = max(0, F_dom − 2.375·F_gen) = [0.0625, 0, 0.5, 0], mean 0.140625 → ε = 1.40625e-7;
    // alignment a = 0.5 with the local cosines of the [1,4] layout worked out in daiWithLocalAlignment
    double e2 = 1.40625e-7;
    near(new double[] {2 * Math.log(0.25) + Math.log(0.0625 + e2) + 0.5 * 0.8, Math.log(e2) + 0.5 * 0.5962847939999439,
        2 * Math.log(4) + Math.log(0.5 + e2), Double.NEGATIVE_INFINITY},
        new Scorer(calibrated(1, -1, 0.5, false)).score(input(new long[] {1, 4})));
  }

  @Test
  void calibratedInputTermByHand() {
    // shape [2,2]: column j of element i is i % 2. Σx² domain d = [3, 1], general g = [1, 1].
    // λ = 1: u = d/Σd + g/Σg = [0.75 + 0.5, 0.25 + 0.5] = [1.25, 0.75], ū = 1, κ = 1e-6:
    // term_j = r·log((u_j + 1e-6)/1); r = 0.5
    var stats = new WeightStatistics(STATS.fisherGeneral(), STATS.fisherDomain(), STATS.meanGradGeneral(),
        STATS.meanGradDomain(), new double[] {1, 1}, new double[] {3, 1});
    var t = new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight", new long[] {2, 2}), W, stats);
    var base = new Scorer(calibrated(1, 1, 0, false)).score(t);
    var withInput = new Scorer(ScoringConfig.defaults().withMethod(ScoringMethod.DAI_CALIBRATED)
        .withCalibrated(new ScoringConfig.Calibrated(1, 1, 0, 3, false, 1e-6, 0.5))).score(t);
    double[] term = {0.5 * Math.log(1.25 + 1e-6), 0.5 * Math.log(0.75 + 1e-6)};
    near(new double[] {base[0] + term[0], base[1] + term[1], base[2] + term[0], Double.NEGATIVE_INFINITY}, withInput);
    // λ = −1: u = max(0, [0.75 − 0.5, 0.25 − 0.5]) = [0.25, 0], ū = 0.125: term = r·log((u + 1.25e-7)/0.125)
    var negative = ScoringConfig.Calibrated.defaults();
    var lambdaMinus = new ScoringConfig.Calibrated(1, -1, 0, 3, false, 1e-6, 2);
    double[] raw = Scorer.inputTerm(stats, lambdaMinus);
    near(new double[] {2 * Math.log((0.25 + 1.25e-7) / 0.125), 2 * Math.log(1.25e-7 / 0.125)}, raw);
    // r = 0 (the default) adds nothing: the scores are the same bits as without input statistics
    assertEquals(0.0, negative.inputExponent());
    assertArrayEquals(new Scorer(calibrated(1, 1, 0, false)).score(input(new long[] {2, 2})), base, 0);
  }

  @Test
  void calibratedInputTermNeedsInputStatistics() {
    var c = ScoringConfig.defaults().withMethod(ScoringMethod.DAI_CALIBRATED)
        .withCalibrated(new ScoringConfig.Calibrated(1, 1, 0, 3, false, 0.01, 1));
    assertTrue(c.needsInputSquares());
    var e = assertThrows(IllegalArgumentException.class, () -> new Scorer(c).score(input(new long[] {2, 2})));
    assertTrue(e.getMessage().contains("layers.0.mlp.up_proj.weight") && e.getMessage().contains("Σx²"),
        e.getMessage());
    var wrongWidth = new WeightStatistics(STATS.fisherGeneral(), STATS.fisherDomain(), STATS.meanGradGeneral(),
        STATS.meanGradDomain(), new double[] {1, 1, 1}, new double[] {1, 1, 1});
    e = assertThrows(IllegalArgumentException.class, () -> new Scorer(c).score(
        new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight", new long[] {2, 2}), W, wrongWidth)));
    assertTrue(e.getMessage().contains("3/3 channels"), e.getMessage());
    var nan = new WeightStatistics(STATS.fisherGeneral(), STATS.fisherDomain(), STATS.meanGradGeneral(),
        STATS.meanGradDomain(), new double[] {1, Double.NaN}, new double[] {1, 1});
    e = assertThrows(IllegalArgumentException.class, () -> new Scorer(c).score(
        new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight", new long[] {2, 2}), W, nan)));
    assertTrue(e.getMessage().contains("channel 1"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new ScoringConfig.Calibrated(1, 1, 0, 3, false, 0.01, -1));
  }

  /** Random weights and statistics of one [rows, cols] tensor, heavy-tailed like real gradients. */
  static TensorInput randomInput(int rows, int cols, long seed) {
    var rnd = new java.util.Random(seed);
    int n = rows * cols;
    var w = new float[n];
    var fg = new double[n];
    var fd = new double[n];
    var gg = new double[n];
    var gd = new double[n];
    for (int i = 0; i < n; i++) {
      w[i] = (float) (rnd.nextGaussian() * 0.05);
      fg[i] = Math.exp(rnd.nextGaussian() * 2) * 1e-6;
      fd[i] = Math.exp(rnd.nextGaussian() * 2) * 3e-6;
      gg[i] = rnd.nextGaussian() * 1e-3;
      gd[i] = rnd.nextGaussian() * 1e-3;
    }
    return new TensorInput(new TensorMeta("layers.1.mlp.down_proj.weight", new long[] {rows, cols}), w,
        new WeightStatistics(fg, fd, gg, gd));
  }

  static Integer[] order(double[] scores) {
    var idx = new Integer[scores.length];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = i;
    }
    java.util.Arrays.sort(idx, (x, y) -> Double.compare(scores[x], scores[y]));
    return idx;
  }

  @Test
  void calibratedDaiSpansMagnitudeAndFisher() {
    var t = randomInput(24, 40, 7);
    // q = 0, a = 0: exactly the magnitude ranking
    assertArrayEquals(order(new Scorer(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE)).score(t)),
        order(new Scorer(calibrated(0, 1, 0, false)).score(t)));
    // q = 1, λ = 0, a = 0: the domain Fisher (OBD) ranking F_dom·θ² (ε = 1e-6·mean is far below every F here)
    assertArrayEquals(order(new Scorer(ScoringConfig.defaults().withMethod(ScoringMethod.FISHER_DOMAIN)).score(t)),
        order(new Scorer(calibrated(1, 0, 0, false)).score(t)));
  }

  @Test
  void calibratedDaiDoesNotDependOnTheUnitsOfTheStatistics() {
    // The point of the calibration: scaling F_gen, or both Fishers, by any constant changes no ranking.
    var t = randomInput(16, 32, 11);
    var s = t.stats();
    var scaledGeneral = new TensorInput(t.meta(), t.weights(), new WeightStatistics(times(s.fisherGeneral(), 1e6),
        s.fisherDomain(), s.meanGradGeneral(), s.meanGradDomain()));
    var scaledBoth = new TensorInput(t.meta(), t.weights(), new WeightStatistics(times(s.fisherGeneral(), 1e-4),
        times(s.fisherDomain(), 1e-4), times(s.meanGradGeneral(), 1e-2), times(s.meanGradDomain(), 1e-2)));
    var scorer = new Scorer(calibrated(0.5, 1, 0.3, false));
    var base = order(scorer.score(t));
    assertArrayEquals(base, order(scorer.score(scaledGeneral)));
    assertArrayEquals(base, order(scorer.score(scaledBoth)));
    // The paper's DAI does depend on them: γ·sqrt|θ| does not scale with F.
    var paper = new Scorer(ScoringConfig.defaults());
    assertNotEquals(java.util.Arrays.asList(order(paper.score(t))),
        java.util.Arrays.asList(order(paper.score(new TensorInput(t.meta(), t.weights(), new WeightStatistics(
            times(s.fisherGeneral(), 1e6), times(s.fisherDomain(), 1e6), s.meanGradGeneral(), s.meanGradDomain()))))));
  }

  static double[] times(double[] a, double k) {
    var out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i] * k;
    }
    return out;
  }

  @Test
  void rankOneRecoversAnOuterProductAndAveragesNoise() {
    double[] r = {1, 2, 3};
    double[] c = {0.5, 4, 1, 2};
    var f = new double[12];
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 4; j++) {
        f[i * 4 + j] = r[i] * c[j];
      }
    }
    assertArrayEquals(f, Scorer.rankOne(f, 3, 4), 1e-12);
    assertArrayEquals(new double[6], Scorer.rankOne(new double[6], 2, 3), 0);
  }

  @Test
  void calibratedParametersAreChecked() {
    assertThrows(IllegalArgumentException.class, () -> new ScoringConfig.Calibrated(-0.1, 1, 0, 3, false));
    assertThrows(IllegalArgumentException.class, () -> new ScoringConfig.Calibrated(0.5, -2, 0, 3, false));
    assertThrows(IllegalArgumentException.class, () -> new ScoringConfig.Calibrated(0.5, 1, Double.NaN, 3, false));
    assertThrows(IllegalArgumentException.class, () -> new ScoringConfig.Calibrated(0.5, 1, 0, 2, false));
    assertThrows(IllegalArgumentException.class, () -> new ScoringConfig.Calibrated(0.5, 1, 0, 3, false, 0));
    var e = assertThrows(IllegalArgumentException.class,
        () -> new Scorer(calibrated(0.5, 1, 0, false)).score(new TensorInput(
            new TensorMeta("layers.0.mlp.up_proj.weight", new long[] {2, 2}), W, null)));
    assertTrue(e.getMessage().contains("no statistics"), e.getMessage());
  }

  /**
   * The floor keeps a large weight whose measured sensitivity is near 0 (a saturated unit: the case that made
   * the unfloored score prune MiniLM's largest layer-0 weights and collapse retrieval, docs/results.md): with
   * κ = 0.01 it outranks a typical weight of average sensitivity, without the floor it falls below it.
   */
  @Test
  void theFloorKeepsLargeWeightsOfFlatUnits() {
    // θ = [1.5 (F = 1e-4·mean), 0.05 (F ≈ mean), 0.04, 0.03], shape [1,4]; λ = 0 so F = F_dom.
    float[] w = {1.5f, 0.05f, 0.04f, 0.03f};
    double[] fd = {1e-4, 1.3333, 1.3333, 1.3333};
    var t = new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight", new long[] {1, 4}), w,
        new WeightStatistics(new double[4], fd, new double[4], new double[4]));
    double mean = (1e-4 + 3 * 1.3333) / 4;
    var floored = new Scorer(calibrated(1, 0, 0, false, 0.01)).score(t);
    var expected = new double[4];
    for (int i = 0; i < 4; i++) {
      expected[i] = 2 * Math.log((double) w[i]) + Math.log(fd[i] + 0.01 * mean); // the weights as float32 holds them
    }
    near(expected, floored);
    assertTrue(floored[0] > floored[1], "the large flat weight is kept before a typical one");
    var unfloored = new Scorer(calibrated(1, 0, 0, false, 1e-6)).score(t);
    assertTrue(unfloored[0] < unfloored[3], "without the floor it goes first");
  }
}
