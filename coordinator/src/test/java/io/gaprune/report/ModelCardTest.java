package io.gaprune.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModelCardTest {

  /** A run's report: dense and the pruned model, retrained, on one set. */
  private static RunReport run() {
    var c = new LinkedHashMap<>(ReportSamples.configuration(List.of(0.5)));
    c.put("retrain_steps", 2);
    var evaluations = List.of(
        new RunReport.Evaluation("dense", "chem/dev", Map.of("ndcg@10", 0.345, "mrr@10", 0.31), "dense", null),
        new RunReport.Evaluation("dai-calibrated", "chem/dev", Map.of("ndcg@10", 0.33, "mrr@10", 0.3),
            "dai-calibrated", 0.5),
        new RunReport.Evaluation("dai-calibrated+retrain", "chem/dev", Map.of("ndcg@10", 0.34, "mrr@10", 0.305),
            "dai-calibrated+retrain", 0.5));
    var tensors = new ArrayList<>(ReportSamples.tensors());
    tensors.add(new RunReport.TensorSparsity("encoder.layer.0.attention.self.query.weight", 147_456, 0));
    long candidates = tensors.stream().mapToLong(RunReport.TensorSparsity::candidates).sum();
    long pruned = tensors.stream().mapToLong(RunReport.TensorSparsity::pruned).sum();
    return new RunReport("run", c, 0.5, (double) pruned / candidates, candidates, pruned, Map.of(), List.of(),
        evaluations, List.of(), null, "dai-calibrated", tensors);
  }

  @Test
  void theCardHasHubFrontMatterAndStatesTheRun() {
    var report = run();
    var card = ModelCard.render(report, "sentence-transformers/all-MiniLM-L6-v2", false);
    assertTrue(card.startsWith("---\n"), card);
    var frontMatter = card.substring(4, card.indexOf("\n---\n", 4)).lines().toList();
    assertEquals(List.of("base_model: sentence-transformers/all-MiniLM-L6-v2", "library_name: sentence-transformers",
        "pipeline_tag: sentence-similarity", "tags:", "- sentence-transformers", "- sentence-similarity",
        "- feature-extraction", "- pruned", "- gaprune"), frontMatter);
    // method and its parameters
    assertTrue(card.contains("| scoring | `dai-calibrated` |"), card);
    assertTrue(card.contains("| calibrated_q | 0.5 |") && card.contains("| calibrated_lambda | 1.0 |"), card);
    assertTrue(!card.contains("| alpha |"), "the paper's DAI parameters do not apply to dai-calibrated");
    assertTrue(card.contains("| retraining steps (masks fixed) | 2 |"), card);
    assertTrue(card.contains(String.format(java.util.Locale.ROOT, "with %,d of its %,d candidate weights",
        report.pruned(), report.candidates())), card);
    // sparsity per layer type: the MLP's four tensors, the attention's untouched one
    assertTrue(card.contains("| mlp | 2,359,296 | 1,179,648 | 0.5000 |"), card);
    assertTrue(card.contains("| attention | 147,456 | 0 | 0.0000 |"), card);
    // calibration data
    assertTrue(card.contains("| general | `data/sample/general-train.json` | 48 |"), card);
    assertTrue(card.contains("| domain | `data/sample/chem-train.json` | 48 |"), card);
    assertTrue(card.contains("k-means representative sampling"), card);
    // evaluation with dense and the share of dense kept
    assertTrue(card.contains("| dense | 0.3450 | 0.3100 | 100.0% |"), card);
    assertTrue(card.contains("| dai-calibrated+retrain | 0.3400 | 0.3050 | 98.6% |"), card);
  }

  @Test
  void aModelWithoutAHubIdHasNoBaseModelLine() {
    var card = ModelCard.render(run(), null, true);
    assertTrue(!card.contains("base_model"), card);
    assertTrue(card.contains("This is the model `minilm`"), card);
    // a model with a query prompt is used with it, as it was evaluated
    assertTrue(card.contains("model.encode([\"a query\"], prompt_name=\"query\")"), card);
  }

  @Test
  void theBaseModelIsTheShortNamesRepositoryOrTheConfigsHubId() {
    assertEquals("sentence-transformers/all-MiniLM-L6-v2", ModelCard.baseModel("minilm", null));
    assertEquals("BAAI/bge-small-en-v1.5", ModelCard.baseModel("bge-small", null));
    var config = JsonParser.parseString("{\"_name_or_path\": \"Qwen/Qwen3-Embedding-0.6B\"}").getAsJsonObject();
    assertEquals("Qwen/Qwen3-Embedding-0.6B", ModelCard.baseModel("/models/q", config));
    var local = JsonParser.parseString("{\"_name_or_path\": \"/home/me/models/q\"}").getAsJsonObject();
    assertNull(ModelCard.baseModel("/models/q", local));
    assertNull(ModelCard.baseModel("/models/q", JsonParser.parseString("{}").getAsJsonObject()));
  }
}
