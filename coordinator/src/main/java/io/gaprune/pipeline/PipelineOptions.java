package io.gaprune.pipeline;

import io.gaprune.planner.Alignment;
import io.gaprune.planner.BudgetMode;
import io.gaprune.planner.Calibration;
import io.gaprune.planner.MethodSpec;
import io.gaprune.planner.PostProcess;
import io.gaprune.planner.ScoringConfig;
import io.gaprune.model.LayerType;
import io.gaprune.planner.ScoringMethod;
import io.gaprune.planner.Structure;
import io.gaprune.session.SessionRules;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything {@code gaprune run} and {@code gaprune compare} need to know.
 *
 * @param model short name ({@code minilm}, {@code bge-small}) or a Hugging Face checkpoint folder
 * @param general general-domain triplets (reference JSON or JSON Lines)
 * @param domain domain triplets
 * @param sparsity fraction of the candidate weights to prune, in [0, 1]
 * @param layers candidate layer types ({@link LayerType#VALID})
 * @param scoring scoring method of {@code run} ({@link ScoringMethod})
 * @param budget {@code global} or {@code uniform}
 * @param workers statistics workers: one in this JVM, the others as child processes
 * @param samples calibration triplets kept per set by representative sampling (0: all)
 * @param evals BEIR folders to evaluate on
 * @param retrainSteps masked InfoNCE fine-tuning steps after pruning (0: none)
 * @param seed seed of sampling, batching, the random baseline and retraining
 * @param maxLength tokens per text, longer texts are truncated (and counted)
 * @param batchSize triplets per statistics batch and half
 * @param out output folder
 * @param scoringParameters β, γ, α, alignment and post-processing of the scoring (paper defaults)
 * @param statistics a statistics file of an earlier run to plan from instead of computing them (null: compute)
 * @param saveStatistics write the computed statistics to {@code out/statistics.safetensors}
 * @param structure unstructured, or N:M (every group of M consecutive input weights of a row keeps N); N:M fixes
 *     the sparsity at 1 − N/M ({@link Structure#sparsity(Double, double)}) and makes the budget irrelevant
 * @param calibration which half's input statistics Wanda and SparseGPT read ({@code --calibration})
 */
public record PipelineOptions(
    String model,
    Path general,
    Path domain,
    double sparsity,
    String layers,
    String scoring,
    String budget,
    int workers,
    int samples,
    List<Path> evals,
    int retrainSteps,
    long seed,
    int maxLength,
    int batchSize,
    Path out,
    ScoringParameters scoringParameters,
    Path statistics,
    boolean saveStatistics,
    Structure structure,
    Calibration calibration) {

  /** Calibration triplets per set of {@code run} and {@code compare} (and what {@code session estimate} assumes). */
  public static final int DEFAULT_SAMPLES = 512;

  /** Triplets per statistics batch and half of {@code run} and {@code compare}. */
  public static final int DEFAULT_BATCH_SIZE = 16;

  /**
   * The scoring hyperparameters a user can set; {@link #paper()} gives the paper's.
   *
   * @param beta weight of the general Fisher, {@code F_dom − β·F_gen}
   * @param gamma weight of the magnitude term {@code γ·sqrt|θ|}
   * @param alpha weight of the alignment, {@code 1 + α·s}
   * @param alignment {@code tensor} (the paper's per-tensor cosine) or {@code local} (per weight, 3×3 window)
   * @param postProcess per-tensor normalisation: none, zscore_sigmoid, minmax, rank
   * @param calibrated the parameters of {@code dai-calibrated}
   */
  public record ScoringParameters(double beta, double gamma, double alpha, String alignment, String postProcess,
      ScoringConfig.Calibrated calibrated) {

    /** The paper's DAI parameters as given, and the calibrated DAI's defaults. */
    public ScoringParameters(double beta, double gamma, double alpha, String alignment, String postProcess) {
      this(beta, gamma, alpha, alignment, postProcess, ScoringConfig.Calibrated.defaults());
    }

    public ScoringParameters {
      java.util.Objects.requireNonNull(calibrated, "calibrated");
      alignment(alignment);
      PostProcess.parse(postProcess);
      for (double v : new double[] {beta, gamma, alpha}) {
        if (!Double.isFinite(v)) {
          throw new IllegalArgumentException("--beta, --gamma and --alpha must be finite numbers, got " + v);
        }
      }
    }

    private static Alignment alignment(String name) {
      return switch (name.trim().toLowerCase(java.util.Locale.ROOT)) {
        case "tensor" -> Alignment.TENSOR;
        case "local" -> Alignment.LOCAL;
        default -> throw new IllegalArgumentException("unknown alignment \"" + name + "\" (valid: tensor, local)");
      };
    }

    public static ScoringParameters paper() {
      return new ScoringParameters(1.0, 0.5, 0.2, "tensor", "none");
    }

    /** These parameters over the paper's defaults, for {@code method}. */
    public ScoringConfig config(ScoringMethod method, long seed) {
      var defaults = ScoringConfig.defaults();
      return defaults.withMethod(method).withSeed(seed).withHyper(beta, gamma, alpha)
          .withAlignment(alignment(alignment), defaults.alignmentWindow())
          .withPostProcess(PostProcess.parse(postProcess), defaults.temperature())
          .withCalibrated(calibrated);
    }
  }

  /** Unstructured pruning, with Wanda's and SparseGPT's default calibration (the domain set). */
  public PipelineOptions(String model, Path general, Path domain, double sparsity, String layers, String scoring,
      String budget, int workers, int samples, List<Path> evals, int retrainSteps, long seed, int maxLength,
      int batchSize, Path out, ScoringParameters scoringParameters, Path statistics, boolean saveStatistics) {
    this(model, general, domain, sparsity, layers, scoring, budget, workers, samples, evals, retrainSteps, seed,
        maxLength, batchSize, out, scoringParameters, statistics, saveStatistics, Structure.UNSTRUCTURED,
        Calibration.DOMAIN);
  }

  /** The options with the paper's scoring parameters. */
  public PipelineOptions(String model, Path general, Path domain, double sparsity, String layers, String scoring,
      String budget, int workers, int samples, List<Path> evals, int retrainSteps, long seed, int maxLength,
      int batchSize, Path out) {
    this(model, general, domain, sparsity, layers, scoring, budget, workers, samples, evals, retrainSteps, seed,
        maxLength, batchSize, out, ScoringParameters.paper(), null, false);
  }

  public PipelineOptions {
    evals = List.copyOf(evals);
    java.util.Objects.requireNonNull(calibration, "calibration");
    java.util.Objects.requireNonNull(scoringParameters, "scoringParameters");
    java.util.Objects.requireNonNull(structure, "structure");
    // The rules a session's settings meet, with the messages the API and `gaprune session start` give.
    SessionRules.check("sparsity", sparsity, SessionRules.PIPELINE);
    structure.sparsity(sparsity, sparsity);
    LayerType.parse(layers);
    MethodSpec.parse(scoring);
    BudgetMode.parse(budget);
    if (workers < 1) {
      throw new IllegalArgumentException("--workers must be at least 1, got " + workers);
    }
    if (samples < 0) {
      throw new IllegalArgumentException("--samples must be ≥ 0 (0 keeps every triplet), got " + samples);
    }
    if (retrainSteps < 0) {
      throw new IllegalArgumentException("--retrain-steps must be ≥ 0, got " + retrainSteps);
    }
    SessionRules.check("max_seq_len", maxLength, SessionRules.PIPELINE);
    SessionRules.check("batch_size", batchSize, SessionRules.PIPELINE);
    for (var file : List.of(general, domain)) {
      if (!Files.isRegularFile(file)) {
        throw new IllegalArgumentException("triplet file " + file + " does not exist");
      }
    }
    if (statistics != null && !Files.isRegularFile(statistics)) {
      throw new IllegalArgumentException("statistics file " + statistics + " does not exist");
    }
    for (var dir : evals) {
      if (!Files.isDirectory(dir)) {
        throw new IllegalArgumentException("evaluation folder " + dir + " does not exist");
      }
    }
  }

  /** The options as the report lists them. */
  public Map<String, Object> asMap() {
    var map = new LinkedHashMap<String, Object>();
    map.put("model", model);
    map.put("general", general.toString());
    map.put("domain", domain.toString());
    map.put("sparsity", sparsity);
    map.put("layers", layers);
    map.put("scoring", scoring);
    map.put("structure", structure.toString());
    // an N:M mask decides per group of M: no budget is involved, and the report must not suggest one was
    map.put("budget", structure.unstructured() ? budget : "none (" + structure + ")");
    map.put("workers", workers);
    map.put("samples", samples);
    map.put("evals", evals.stream().map(Path::toString).toList());
    map.put("retrain_steps", retrainSteps);
    map.put("seed", seed);
    map.put("max_length", maxLength);
    map.put("batch_size", batchSize);
    map.put("beta", scoringParameters.beta());
    map.put("gamma", scoringParameters.gamma());
    map.put("alpha", scoringParameters.alpha());
    map.put("alignment", scoringParameters.alignment());
    map.put("post_process", scoringParameters.postProcess());
    var c = scoringParameters.calibrated();
    map.put("calibrated_q", c.fisherExponent());
    map.put("calibrated_lambda", c.generalWeight());
    map.put("calibrated_alignment_weight", c.alignmentWeight());
    map.put("calibrated_alignment_window", c.alignmentWindow());
    map.put("calibrated_rank1", c.rank1());
    map.put("calibrated_floor", c.floor());
    map.put("calibration", calibration.toString());
    if (statistics != null) {
      map.put("statistics", statistics.toString());
    }
    return map;
  }

  /** A readable name for an evaluation folder: {@code chem/dev} for {@code .../chem/dev}, else the folder name. */
  public static String datasetName(Path dir) {
    var abs = dir.toAbsolutePath().normalize();
    var name = abs.getFileName().toString();
    var parent = abs.getParent();
    if (parent != null && parent.getFileName() != null
        && List.of("dev", "test", "eval", "train").contains(name)) {
      return parent.getFileName() + "/" + name;
    }
    return name;
  }
}
