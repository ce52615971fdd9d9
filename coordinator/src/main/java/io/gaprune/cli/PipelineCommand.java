package io.gaprune.cli;

import io.gaprune.pipeline.PipelineOptions;
import io.gaprune.pipeline.PruningPoint;
import io.gaprune.planner.Calibration;
import io.gaprune.planner.ScoringConfig;
import io.gaprune.planner.Structure;
import io.gaprune.progress.ConsoleProgress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options {@code run} and {@code compare} share. Data defaults point into the shipped sample
 * ({@code data/sample} under {@code gaprune.home}, which the launcher sets to the checkout), so the main job
 * runs on a fresh machine with no other data.
 */
abstract class PipelineCommand {

  static Path home() {
    return Path.of(System.getProperty("gaprune.home", "."));
  }

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "output folder, new or empty (a folder with files in it needs --force)")
  Path out;

  @Option(names = "--force", description = "--out may hold an earlier run's files: they are removed first "
      + "(named on the terminal), other files are kept")
  boolean force;

  @Option(names = "--model", defaultValue = "minilm", paramLabel = "minilm|bge-small|PATH",
      description = "model to prune: a bundled short name or a Hugging Face checkpoint folder (default ${DEFAULT-VALUE})")
  String model;

  @Option(names = "--general", paramLabel = "FILE",
      description = "general-domain triplets, JSON array or JSON Lines (default: data/sample/general-train.json)")
  Path general;

  @Option(names = "--domain", paramLabel = "FILE",
      description = "domain triplets (default: data/sample/chem-train.json)")
  Path domain;

  /** What unstructured pruning prunes when --sparsity is left out. */
  static final double DEFAULT_SPARSITY = 0.5;

  /** Null when not given: an N:M structure fixes the sparsity, and only a conflicting one is an error. */
  @Option(names = "--sparsity", description = "fraction of candidate weights to prune (default 0.5; with "
      + "--structure N:M it is 1 − N/M, and a different value is an error)")
  Double sparsity;

  @Option(names = "--structure", defaultValue = "unstructured", paramLabel = "unstructured|2:4|4:8|N:M",
      description = "sparsity pattern: unstructured, or N:M, where every group of M consecutive input weights of a "
          + "row keeps its N best (any method; the budget is then not used) (default ${DEFAULT-VALUE})")
  String structure;

  @Option(names = "--layers", defaultValue = "mlp",
      description = "candidate layer types: mlp, attention, layernorm, embed, final_norm, linear, all; comma-separated (default ${DEFAULT-VALUE})")
  String layers;

  @Option(names = "--budget", defaultValue = "global", paramLabel = "global|uniform|owl|rows",
      description = "global (one selection over all candidates), uniform (every layer at the sparsity), owl (OWL's "
          + "layer-wise sparsities: layers with more outliers of |W|·‖x‖ pruned less, λ 0.08, M 5; unstructured "
          + "only) or rows (every output row of every tensor at the sparsity, Wanda's comparison group) "
          + "(default ${DEFAULT-VALUE})")
  String budget;

  @Option(names = "--workers", defaultValue = "1",
      description = "statistics workers: one in this process, the rest as child processes (default ${DEFAULT-VALUE})")
  int workers;

  @Option(names = "--samples", defaultValue = "" + PipelineOptions.DEFAULT_SAMPLES,
      description = "calibration triplets kept per set by k-means representative sampling; 0 keeps all (default ${DEFAULT-VALUE})")
  int samples;

  @Option(names = "--eval", paramLabel = "BEIR_DIR",
      description = "BEIR retrieval folder to evaluate on; repeatable (default: data/sample/chem-dev)")
  List<Path> evals = new ArrayList<>();

  @Option(names = "--retrain-steps", defaultValue = "0",
      description = "masked InfoNCE fine-tuning steps on the domain triplets after pruning (paper: 100; default ${DEFAULT-VALUE})")
  int retrainSteps;

  @Option(names = "--seed", defaultValue = "42", description = "seed of sampling, batches, random baseline, retraining (default ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--max-length", defaultValue = "128", description = "tokens per text; longer texts are truncated and counted (default ${DEFAULT-VALUE})")
  int maxLength;

  @Option(names = "--batch-size", defaultValue = "" + PipelineOptions.DEFAULT_BATCH_SIZE, description = "triplets per statistics batch and half (default ${DEFAULT-VALUE})")
  int batchSize;

  @Option(names = "--beta", defaultValue = "1.0", description = "DAI: weight of the general Fisher (default ${DEFAULT-VALUE})")
  double beta;

  @Option(names = "--gamma", defaultValue = "0.5", description = "DAI: weight of the magnitude term γ·sqrt|θ| (default ${DEFAULT-VALUE})")
  double gamma;

  @Option(names = "--alpha", defaultValue = "0.2", description = "DAI: weight of the alignment, 1 + α·s (default ${DEFAULT-VALUE})")
  double alpha;

  @Option(names = "--alignment", defaultValue = "tensor",
      description = "DAI alignment: tensor (the paper's per-tensor cosine) or local (per weight, 3×3 window) (default ${DEFAULT-VALUE})")
  String alignment;

  @Option(names = "--post-process", defaultValue = "none",
      description = "per-tensor score normalisation: none, zscore_sigmoid, minmax, rank (default ${DEFAULT-VALUE})")
  String postProcess;

  @Option(names = "--fisher-exponent", defaultValue = "1.0",
      description = "dai-calibrated: exponent q of the Fisher factor; 0 ranks as magnitude, 1 as Fisher (default ${DEFAULT-VALUE})")
  double fisherExponent;

  @Option(names = "--general-weight", defaultValue = "1.0",
      description = "dai-calibrated: weight λ of the general Fisher, on the domain Fisher's scale; negative lowers general-only weights (default ${DEFAULT-VALUE})")
  double generalWeight;

  @Option(names = "--alignment-weight", defaultValue = "0.0",
      description = "dai-calibrated: weight of the per-weight gradient alignment, a factor e^(a·s) (default ${DEFAULT-VALUE})")
  double alignmentWeight;

  @Option(names = "--rank1", description = "dai-calibrated: use the rank-1 (row × column) estimate of each matrix's Fisher")
  boolean rank1;

  @Option(names = "--fisher-floor", defaultValue = "0.01",
      description = "dai-calibrated: κ, no weight's Fisher counts as less than κ times its tensor's mean (default ${DEFAULT-VALUE})")
  double fisherFloor;

  @Option(names = "--calibration", defaultValue = "domain", paramLabel = "domain|general|both",
      description = "wanda, sparsegpt: which calibration set's input statistics they read; both sums the two (default ${DEFAULT-VALUE})")
  String calibration;

  @Option(names = "--statistics", paramLabel = "FILE",
      description = "plan from the statistics file of an earlier run (--save-statistics) instead of computing them")
  Path statistics;

  @Option(names = "--save-statistics",
      description = "write the computed statistics to OUT/statistics.safetensors, for --statistics later")
  boolean saveStatistics;

  @Option(names = "--quiet", description = "print only warnings, results and errors")
  boolean quiet;

  @Option(names = "--json-log", description = "progress as JSON lines on stderr, for scripts")
  boolean jsonLog;

  @Option(names = "--verbose", description = "print stack traces of errors")
  boolean verbose;

  /** The options of a run at {@code --structure} and {@code --sparsity}. */
  PipelineOptions options(String scoring) {
    var pattern = Structure.parse(structure);
    return options(scoring, new PruningPoint(pattern, pattern.sparsity(sparsity, DEFAULT_SPARSITY)));
  }

  private Calibration calibration() {
    try {
      return Calibration.parse(calibration);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--calibration " + e.getMessage(), e);
    }
  }

  PipelineOptions options(String scoring, PruningPoint point) {
    var sample = home().resolve("data").resolve("sample");
    return new PipelineOptions(model,
        general != null ? general : sample.resolve("general-train.json"),
        domain != null ? domain : sample.resolve("chem-train.json"),
        point.sparsity(), layers, scoring, budget, workers, samples,
        evals.isEmpty() ? List.of(sample.resolve("chem-dev")) : evals,
        retrainSteps, seed, maxLength, batchSize, out,
        new PipelineOptions.ScoringParameters(beta, gamma, alpha, alignment, postProcess,
            new ScoringConfig.Calibrated(fisherExponent, generalWeight, alignmentWeight,
                ScoringConfig.Calibrated.defaults().alignmentWindow(), rank1, fisherFloor)),
        statistics, saveStatistics, point.structure(), calibration());
  }

  /**
   * Checks {@code --out} once the options are valid and before any work: a file or a folder with files in it is
   * an error unless {@code --force}, which removes an earlier run's files (not this run's inputs) and says so.
   */
  void prepareOut(PipelineOptions options) {
    var inputs = new ArrayList<Path>(List.of(options.general(), options.domain()));
    inputs.addAll(options.evals());
    if (options.statistics() != null) {
      inputs.add(options.statistics());
    }
    var done = OutputFolder.prepare(out, force, "--out", inputs);
    if (!done.isEmpty()) {
      System.err.println("gaprune: " + done);
    }
  }

  /**
   * The terminal shows progress; the cluster's INFO lines (nodes joining, workers registering) are for
   * daemons, so an interactive job logs warnings only unless --verbose.
   */
  void quietLogs() {
    if (!verbose) {
      var root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
      root.setLevel(ch.qos.logback.classic.Level.WARN);
    }
  }

  ConsoleProgress progress() {
    var mode = jsonLog ? ConsoleProgress.Mode.JSON : quiet ? ConsoleProgress.Mode.QUIET : ConsoleProgress.Mode.TEXT;
    return new ConsoleProgress(System.err, mode);
  }
}
