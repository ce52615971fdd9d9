package io.gaprune.report;

import java.util.List;
import java.util.Map;

/**
 * What a run or a comparison produced, as written to {@code report.json} and drawn in {@code report.html}.
 *
 * @param command the subcommand that produced it ({@code run} or {@code compare})
 * @param configuration the effective options, by name
 * @param sparsityRequested the fraction of candidate weights asked to be pruned
 * @param sparsityActual pruned / candidates, as counted in the masks
 * @param candidates candidate weights (the tensors of the chosen layer types), not the model's size
 * @param pruned weights set to zero
 * @param timingsSeconds wall-clock seconds per phase, in phase order
 * @param layers per-layer counts, in model order
 * @param evaluations one row per model variant and data set
 * @param warnings things a user should know (truncated texts, unknown qrels ids, a fully pruned tensor)
 * @param session what the statistics session did, counted by its coordinator ({@code units}, {@code partitions},
 *     {@code passes}, {@code batches}, {@code shard_bytes}, {@code shard_bytes_max_node}, {@code workers},
 *     {@code statistics}); null when the statistics came from a file
 * @param chosen the variant whose plan {@code layers} and {@code tensors} describe ({@code run}: its method;
 *     {@code compare}: the {@code --scoring} method when compared, else the first, at the first sparsity)
 * @param tensors per candidate tensor of that plan, in model order (empty when not known)
 */
public record RunReport(
    String command,
    Map<String, Object> configuration,
    double sparsityRequested,
    double sparsityActual,
    long candidates,
    long pruned,
    Map<String, Double> timingsSeconds,
    List<LayerSparsity> layers,
    List<Evaluation> evaluations,
    List<String> warnings,
    Map<String, Object> session,
    String chosen,
    List<TensorSparsity> tensors) {

  /** A report without a session (statistics read from a file) and without per-tensor counts. */
  public RunReport(String command, Map<String, Object> configuration, double sparsityRequested,
      double sparsityActual, long candidates, long pruned, Map<String, Double> timingsSeconds,
      List<LayerSparsity> layers, List<Evaluation> evaluations, List<String> warnings) {
    this(command, configuration, sparsityRequested, sparsityActual, candidates, pruned, timingsSeconds, layers,
        evaluations, warnings, null, null, List.of());
  }

  /** Candidate and pruned weights of one layer (a transformer block, or the non-block tensors). */
  public record LayerSparsity(String layer, long candidates, long pruned) {
    public double sparsity() {
      return candidates == 0 ? 0 : (double) pruned / candidates;
    }
  }

  /** Candidate and pruned weights of one tensor, by its checkpoint name. */
  public record TensorSparsity(String name, long candidates, long pruned) {
    public double sparsity() {
      return candidates == 0 ? 0 : (double) pruned / candidates;
    }
  }

  /**
   * Retrieval scores of one model variant on one data set.
   *
   * @param variant e.g. {@code dense}, {@code dai}, {@code magnitude@70}, {@code dai+retrain}
   * @param dataset the BEIR folder's name
   * @param metrics {@code ndcg@10}, {@code mrr@10}, {@code recall@10}, {@code recall@100}
   * @param method the variant without its sparsity ({@code dai+retrain}, {@code magnitude}); {@code dense}
   * @param sparsity the sparsity it was pruned to; null for the dense model
   * @param structure {@code unstructured} or N:M ({@code 2:4}); null for the dense model
   */
  public record Evaluation(String variant, String dataset, Map<String, Double> metrics, String method,
      Double sparsity, String structure) {

    /** An unstructured row (a dense one when the sparsity is null). */
    public Evaluation(String variant, String dataset, Map<String, Double> metrics, String method, Double sparsity) {
      this(variant, dataset, metrics, method, sparsity, sparsity == null ? null : "unstructured");
    }

    /** Whether the row was pruned N:M (its sparsity is then fixed by the structure, not chosen). */
    public boolean structured() {
      return structure != null && !structure.equals("unstructured");
    }

    /** A row whose variant names its method and whose sparsity is not known. */
    public Evaluation(String variant, String dataset, Map<String, Double> metrics) {
      this(variant, dataset, metrics, variant, null);
    }

    public boolean dense() {
      return method.equals(DENSE);
    }
  }

  /** The variant name of the unpruned model. */
  public static final String DENSE = "dense";

  /**
   * The unpruned model retrained as compare retrains its pruned variants ({@code --retrain-steps}, the same
   * batches): what a retrained variant is measured against, since retraining alone moves the score.
   */
  public static final String DENSE_RETRAINED = "dense+retrain";
}
