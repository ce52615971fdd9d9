package io.gaprune.pipeline;

import io.gaprune.planner.BudgetMode;
import io.gaprune.model.LayerType;
import io.gaprune.planner.ScoringMethod;
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
    Path out) {

  public PipelineOptions {
    evals = List.copyOf(evals);
    if (!(sparsity >= 0 && sparsity <= 1)) {
      throw new IllegalArgumentException("--sparsity must lie in [0, 1], got " + sparsity);
    }
    LayerType.parse(layers);
    ScoringMethod.parse(scoring);
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
    if (maxLength < 8) {
      throw new IllegalArgumentException("--max-length must be at least 8 tokens, got " + maxLength);
    }
    if (batchSize < 2) {
      throw new IllegalArgumentException("--batch-size must be at least 2 (in-batch negatives), got " + batchSize);
    }
    for (var file : List.of(general, domain)) {
      if (!Files.isRegularFile(file)) {
        throw new IllegalArgumentException("triplet file " + file + " does not exist");
      }
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
    map.put("budget", budget);
    map.put("workers", workers);
    map.put("samples", samples);
    map.put("evals", evals.stream().map(Path::toString).toList());
    map.put("retrain_steps", retrainSteps);
    map.put("seed", seed);
    map.put("max_length", maxLength);
    map.put("batch_size", batchSize);
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
