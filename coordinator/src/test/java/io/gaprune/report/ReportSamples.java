package io.gaprune.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reports as the pipeline makes them, with known numbers, for the writer's and the browser's tests. */
final class ReportSamples {

  static final List<String> METHODS = List.of("dai-calibrated", "magnitude", "random");
  static final List<Double> SPARSITIES = List.of(0.5, 0.7);
  static final List<String> DATASETS = List.of("chem/dev", "bio/dev");

  private ReportSamples() {}

  static Map<String, Object> configuration(List<Double> sparsities) {
    var c = new LinkedHashMap<String, Object>();
    c.put("model", "minilm");
    c.put("general", "data/sample/general-train.json");
    c.put("domain", "data/sample/chem-train.json");
    c.put("layers", "mlp");
    c.put("scoring", "dai-calibrated");
    c.put("budget", "global");
    c.put("samples", 48);
    c.put("evals", List.of("data/sample/chem-dev"));
    c.put("retrain_steps", 0);
    c.put("seed", 7);
    c.put("max_length", 64);
    c.put("batch_size", 16);
    c.put("calibrated_q", 0.5);
    c.put("calibrated_lambda", 1.0);
    c.put("sparsity", sparsities.get(0));
    c.put("sparsities", sparsities);
    c.put("general_triplets", 48);
    c.put("domain_triplets", 48);
    return c;
  }

  /** nDCG@10 of a method at a sparsity on a data set: dense − drop, each method its own slope. */
  static double ndcg(String dataset, String method, double sparsity) {
    double dense = dataset.equals("chem/dev") ? 0.345 : 0.52;
    double slope = switch (method) {
      case "dai-calibrated" -> 0.02;
      case "magnitude" -> 0.12;
      default -> 0.4;
    };
    return dense - slope * sparsity * sparsity;
  }

  /** Two MLP layers of MiniLM's shapes, sparser in the second layer. */
  static List<RunReport.TensorSparsity> tensors() {
    var out = new ArrayList<RunReport.TensorSparsity>();
    for (int layer = 0; layer < 2; layer++) {
      out.add(new RunReport.TensorSparsity("encoder.layer." + layer + ".intermediate.dense.weight", 589_824,
          layer == 0 ? 235_930 : 353_894));
      out.add(new RunReport.TensorSparsity("encoder.layer." + layer + ".output.dense.weight", 589_824,
          layer == 0 ? 353_894 : 235_930));
    }
    return out;
  }

  /** compare of three methods at two sparsities on two data sets, with dense. */
  static RunReport compare() {
    var evaluations = new ArrayList<RunReport.Evaluation>();
    for (var dataset : DATASETS) {
      evaluations.add(new RunReport.Evaluation("dense", dataset, Map.of("ndcg@10", ndcg(dataset, "x", 0),
          "mrr@10", 0.3), "dense", null));
    }
    for (var sparsity : SPARSITIES) {
      for (var method : METHODS) {
        for (var dataset : DATASETS) {
          evaluations.add(new RunReport.Evaluation(method + "@" + Math.round(sparsity * 100), dataset,
              Map.of("ndcg@10", ndcg(dataset, method, sparsity), "mrr@10", 0.25), method, sparsity));
        }
      }
    }
    var timings = new LinkedHashMap<String, Double>();
    timings.put("statistics", 12.5);
    long candidates = tensors().stream().mapToLong(RunReport.TensorSparsity::candidates).sum();
    long pruned = tensors().stream().mapToLong(RunReport.TensorSparsity::pruned).sum();
    return new RunReport("compare", configuration(SPARSITIES), 0.5, (double) pruned / candidates, candidates, pruned,
        timings, List.of(new RunReport.LayerSparsity("layer.0", 1_179_648, 589_824),
            new RunReport.LayerSparsity("layer.1", 1_179_648, 589_824)),
        evaluations, List.of("3 texts truncated to 64 tokens"), null, "dai-calibrated@50", tensors());
  }
}
