package io.gaprune.planner;

/**
 * Every scoring hyperparameter, with the paper's and the reference's defaults ({@link #defaults()}).
 *
 * @param method the scoring method
 * @param beta weight of the general Fisher in {@code F_dom − β·F_gen} (paper: 1.0)
 * @param gamma weight of the magnitude term {@code γ·sqrt|θ|} (paper: 0.5)
 * @param alpha weight of the alignment, {@code 1 + α·s} (paper: 0.2)
 * @param alignment per-tensor cosine (paper) or per-weight local cosine (dai only)
 * @param alignmentWindow odd window width of the local alignment (1 = sign agreement)
 * @param cosineEpsilon ε in the paper's cosine denominator
 * @param referenceClampLow lower clamp of {@code 1 + α·a} in dai-reference (0.8)
 * @param referenceClampHigh upper clamp of {@code 1 + α·a} in dai-reference (1.2)
 * @param referenceHalfStorage dai-reference only: round the Fisher values (plus 1e-8) and the alignment through
 *     float16 as the reference stores them (GAPRUNE.md items 2, 3), so tiny values become 0 as there
 * @param postProcess per-tensor normalisation
 * @param temperature T of {@code zscore_sigmoid}
 * @param fusion whether to add the fusion term
 * @param fusionAlpha α_f of {@code α_f·F_dom·|θ| + β_f·score}
 * @param fusionBeta β_f of the same
 * @param seed seed of the random baseline
 * @param calibrated the parameters of {@code dai-calibrated} ({@link Calibrated})
 * @param calibration which half's input statistics {@code wanda}'s scores read (a session's; {@code run} and
 *     {@code compare} plan Wanda layer by layer with their own {@code --calibration})
 */
public record ScoringConfig(
    ScoringMethod method,
    double beta,
    double gamma,
    double alpha,
    Alignment alignment,
    int alignmentWindow,
    double cosineEpsilon,
    double referenceClampLow,
    double referenceClampHigh,
    boolean referenceHalfStorage,
    PostProcess postProcess,
    double temperature,
    boolean fusion,
    double fusionAlpha,
    double fusionBeta,
    long seed,
    Calibrated calibrated,
    Calibration calibration) {

  /**
   * The calibrated DAI's parameters (docs/planner.md, "The calibrated DAI"): the score is
   * {@code 2·log|θ| + q·log(F_dom + λ·(ΣF_dom/ΣF_gen)·F_gen + ε) + a·c}, with {@code c} the local cosine of the
   * two mean gradients.
   *
   * @param fisherExponent q: 0 ranks as magnitude, 1 as the Fisher (OBD) saliency; in between both count
   * @param generalWeight λ: the general Fisher's share after it is put on the domain Fisher's scale (≥ −1;
   *     negative values lower weights that matter more to general data than to the domain, the paper's β)
   * @param alignmentWeight a: weight of the per-weight alignment in log space ({@code e^(a·c)} as a factor)
   * @param alignmentWindow odd window of the local cosine (3: the 3×3 neighbourhood)
   * @param rank1 replace each 2-D tensor's mixed Fisher by its rank-1 (row × column) estimate before scoring
   * @param floor κ: the Fisher factor is {@code F + κ·mean(F)} over the tensor, so no weight is judged less
   *     sensitive than κ times the tensor's average (the local quadratic model fails for large weights of
   *     saturated units, whose Fisher is near 0 but whose removal is a large step: docs/planner.md)
   * @param inputExponent r: the input term {@code r·log(u_j/ū)}, with {@code u_j} the input channel's share of
   *     the layer's {@code Σx²} (domain plus λ times general, each half as a share of its total) over the
   *     layer's mean {@code ū}, floored like the Fisher: Wanda's activation scale within a tensor, which moves
   *     no budget between tensors (0: off, the default; a session collects {@code Σx²} when it is not 0)
   */
  public record Calibrated(double fisherExponent, double generalWeight, double alignmentWeight,
      int alignmentWindow, boolean rank1, double floor, double inputExponent) {

    /** Without the input term. */
    public Calibrated(double fisherExponent, double generalWeight, double alignmentWeight, int alignmentWindow,
        boolean rank1, double floor) {
      this(fisherExponent, generalWeight, alignmentWeight, alignmentWindow, rank1, floor, 0);
    }

    /** Without the floor's parameter or the input term: the default floor. */
    public Calibrated(double fisherExponent, double generalWeight, double alignmentWeight, int alignmentWindow,
        boolean rank1) {
      this(fisherExponent, generalWeight, alignmentWeight, alignmentWindow, rank1, DEFAULT_FLOOR, 0);
    }

    public Calibrated {
      if (!(inputExponent >= 0 && inputExponent <= 4)) {
        throw new IllegalArgumentException("dai-calibrated: input exponent r must lie in [0, 4], got "
            + inputExponent);
      }
      if (!(floor > 0 && floor <= 100)) {
        throw new IllegalArgumentException("dai-calibrated: Fisher floor κ must lie in (0, 100], got " + floor);
      }
      if (!(fisherExponent >= 0 && fisherExponent <= 4)) {
        throw new IllegalArgumentException("dai-calibrated: Fisher exponent q must lie in [0, 4], got "
            + fisherExponent);
      }
      if (!(generalWeight >= -1 && generalWeight <= 100)) {
        throw new IllegalArgumentException("dai-calibrated: general weight λ must lie in [-1, 100], got "
            + generalWeight);
      }
      if (!Double.isFinite(alignmentWeight)) {
        throw new IllegalArgumentException("dai-calibrated: alignment weight must be finite, got " + alignmentWeight);
      }
      if (alignmentWindow < 1 || alignmentWindow % 2 == 0) {
        throw new IllegalArgumentException("dai-calibrated: alignment window must be odd and ≥ 1, got "
            + alignmentWindow);
      }
    }

    /**
     * The recommended default, q = 1 and λ = 1 without alignment or rank-1 smoothing: the best of the tuning
     * grid on both dev sets at 70% of the MLP (docs/results.md, "Calibrated DAI").
     */
    public static Calibrated defaults() {
      return new Calibrated(1.0, 1.0, 0.0, 3, false, DEFAULT_FLOOR, 0);
    }

    /** κ of {@link #defaults()}. */
    public static final double DEFAULT_FLOOR = 0.01;
  }

  /**
   * Whether this scoring reads the mean gradients ḡ (the gradient alignment): the paper's and the reference's
   * DAI, and the calibrated DAI with an alignment weight. A session collects and ships Σg only then.
   */
  /** Whether this scoring reads the input channels' {@code Σx²}: Wanda, and the calibrated DAI with an input term. */
  public boolean needsInputSquares() {
    return method == ScoringMethod.WANDA
        || method == ScoringMethod.DAI_CALIBRATED && calibrated.inputExponent() != 0;
  }

  public boolean needsGradientSums() {
    return switch (method) {
      case DAI, DAI_REFERENCE -> true;
      case DAI_CALIBRATED -> calibrated.alignmentWeight() != 0;
      default -> false;
    };
  }

  public ScoringConfig {
    if (method == null || alignment == null || postProcess == null || calibrated == null || calibration == null) {
      throw new IllegalArgumentException("scoring method, alignment and post-processing are required");
    }
    for (double v : new double[] {beta, gamma, alpha, cosineEpsilon, referenceClampLow, referenceClampHigh,
        temperature, fusionAlpha, fusionBeta}) {
      if (!Double.isFinite(v)) {
        throw new IllegalArgumentException("scoring hyperparameters must be finite: " + v);
      }
    }
    if (alignmentWindow < 1 || alignmentWindow % 2 == 0) {
      throw new IllegalArgumentException("alignment window must be odd and ≥ 1, got " + alignmentWindow);
    }
    if (temperature <= 0) {
      throw new IllegalArgumentException("zscore_sigmoid temperature must be > 0, got " + temperature);
    }
    if (cosineEpsilon < 0) {
      throw new IllegalArgumentException("cosine epsilon must be ≥ 0, got " + cosineEpsilon);
    }
    if (referenceClampLow > referenceClampHigh) {
      throw new IllegalArgumentException("clamp low " + referenceClampLow + " > high " + referenceClampHigh);
    }
  }

  /** The paper's DAI with its defaults: β = 1, γ = 0.5, α = 0.2, per-tensor cosine, no post-processing. */
  public static ScoringConfig defaults() {
    return new ScoringConfig(ScoringMethod.DAI, 1.0, 0.5, 0.2, Alignment.TENSOR, 3, 1e-8, 0.8, 1.2, false,
        PostProcess.NONE, 1.0, false, 1.0, 1.0, 0L, Calibrated.defaults(),
        Calibration.DOMAIN);
  }

  public ScoringConfig withMethod(ScoringMethod m) {
    return new ScoringConfig(m, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon, referenceClampLow,
        referenceClampHigh, referenceHalfStorage, postProcess, temperature, fusion, fusionAlpha, fusionBeta, seed, calibrated,
        calibration);
  }

  public ScoringConfig withPostProcess(PostProcess p, double t) {
    return new ScoringConfig(method, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon,
        referenceClampLow, referenceClampHigh, referenceHalfStorage, p, t, fusion, fusionAlpha, fusionBeta, seed, calibrated,
        calibration);
  }

  public ScoringConfig withAlignment(Alignment a, int window) {
    return new ScoringConfig(method, beta, gamma, alpha, a, window, cosineEpsilon, referenceClampLow,
        referenceClampHigh, referenceHalfStorage, postProcess, temperature, fusion, fusionAlpha, fusionBeta, seed, calibrated,
        calibration);
  }

  public ScoringConfig withFusion(double fa, double fb) {
    return new ScoringConfig(method, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon,
        referenceClampLow, referenceClampHigh, referenceHalfStorage, postProcess, temperature, true, fa, fb, seed, calibrated,
        calibration);
  }

  public ScoringConfig withHyper(double b, double g, double a) {
    return new ScoringConfig(method, b, g, a, alignment, alignmentWindow, cosineEpsilon, referenceClampLow,
        referenceClampHigh, referenceHalfStorage, postProcess, temperature, fusion, fusionAlpha, fusionBeta, seed, calibrated,
        calibration);
  }

  public ScoringConfig withReferenceHalfStorage(boolean on) {
    return new ScoringConfig(method, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon,
        referenceClampLow, referenceClampHigh, on, postProcess, temperature, fusion, fusionAlpha, fusionBeta, seed, calibrated,
        calibration);
  }

  public ScoringConfig withSeed(long s) {
    return new ScoringConfig(method, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon,
        referenceClampLow, referenceClampHigh, referenceHalfStorage, postProcess, temperature, fusion, fusionAlpha,
        fusionBeta, s, calibrated, calibration);
  }

  public ScoringConfig withCalibrated(Calibrated c) {
    return new ScoringConfig(method, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon,
        referenceClampLow, referenceClampHigh, referenceHalfStorage, postProcess, temperature, fusion, fusionAlpha,
        fusionBeta, seed, c, calibration);
  }

  public ScoringConfig withCalibration(Calibration c) {
    return new ScoringConfig(method, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon,
        referenceClampLow, referenceClampHigh, referenceHalfStorage, postProcess, temperature, fusion, fusionAlpha,
        fusionBeta, seed, calibrated, c);
  }
}
