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
    long seed) {

  public ScoringConfig {
    if (method == null || alignment == null || postProcess == null) {
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
        PostProcess.NONE, 1.0, false, 1.0, 1.0, 0L);
  }

  public ScoringConfig withMethod(ScoringMethod m) {
    return new ScoringConfig(m, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon, referenceClampLow,
        referenceClampHigh, referenceHalfStorage, postProcess, temperature, fusion, fusionAlpha, fusionBeta, seed);
  }

  public ScoringConfig withPostProcess(PostProcess p, double t) {
    return new ScoringConfig(method, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon,
        referenceClampLow, referenceClampHigh, referenceHalfStorage, p, t, fusion, fusionAlpha, fusionBeta, seed);
  }

  public ScoringConfig withAlignment(Alignment a, int window) {
    return new ScoringConfig(method, beta, gamma, alpha, a, window, cosineEpsilon, referenceClampLow,
        referenceClampHigh, referenceHalfStorage, postProcess, temperature, fusion, fusionAlpha, fusionBeta, seed);
  }

  public ScoringConfig withFusion(double fa, double fb) {
    return new ScoringConfig(method, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon,
        referenceClampLow, referenceClampHigh, referenceHalfStorage, postProcess, temperature, true, fa, fb, seed);
  }

  public ScoringConfig withHyper(double b, double g, double a) {
    return new ScoringConfig(method, b, g, a, alignment, alignmentWindow, cosineEpsilon, referenceClampLow,
        referenceClampHigh, referenceHalfStorage, postProcess, temperature, fusion, fusionAlpha, fusionBeta, seed);
  }

  public ScoringConfig withReferenceHalfStorage(boolean on) {
    return new ScoringConfig(method, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon,
        referenceClampLow, referenceClampHigh, on, postProcess, temperature, fusion, fusionAlpha, fusionBeta, seed);
  }

  public ScoringConfig withSeed(long s) {
    return new ScoringConfig(method, beta, gamma, alpha, alignment, alignmentWindow, cosineEpsilon,
        referenceClampLow, referenceClampHigh, referenceHalfStorage, postProcess, temperature, fusion, fusionAlpha,
        fusionBeta, s);
  }
}
