package io.gaprune.report;

import com.google.gson.JsonObject;
import io.gaprune.model.KnownModel;
import io.gaprune.model.LayerType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The {@code README.md} of a written model folder, as the Hugging Face Hub renders a model card: YAML front
 * matter ({@code base_model}, {@code library_name: sentence-transformers}, {@code pipeline_tag:
 * sentence-similarity}, tags), then what was done to the base model (method and its parameters), the sparsity
 * per layer type, the calibration data, and the evaluation of the pruned model beside the dense one.
 *
 * <p>Everything in it comes from the run's {@link RunReport}, so the card is written after the evaluation
 * ({@code PruningPipeline.run}); the model writer itself knows nothing of the run.
 */
public final class ModelCard {

  /** A Hub repository id, {@code owner/name}: what {@code base_model} must hold for the Hub to link it. */
  private static final Pattern REPO_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*");

  private ModelCard() {}

  /**
   * The base model's Hub id: the short names' upstream repositories, or a folder's {@code _name_or_path} when
   * it is one (transformers writes it into configs it saves); null when unknown (a local folder without it).
   */
  public static String baseModel(String modelSpec, JsonObject hfConfig) {
    var known = KnownModel.byShortName(modelSpec);
    if (known != null) {
      return known.hubName;
    }
    var name = hfConfig == null ? null : hfConfig.get("_name_or_path");
    if (name != null && name.isJsonPrimitive() && REPO_ID.matcher(name.getAsString()).matches()
        && !Files.exists(Path.of(name.getAsString()))) {
      return name.getAsString();
    }
    return null;
  }

  /** Writes {@code README.md} into the model folder. */
  public static Path write(RunReport report, String baseModel, boolean queryPrompt, Path modelDir) {
    var file = modelDir.resolve("README.md");
    try {
      Files.writeString(file, render(report, baseModel, queryPrompt), StandardCharsets.UTF_8);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the model card " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * @param baseModel the Hub id of the model that was pruned, or null when it has none
   * @param queryPrompt whether the folder's {@code config_sentence_transformers.json} has a query prompt (the
   *     usage example then encodes queries with {@code prompt_name="query"}, as the model was evaluated)
   */
  public static String render(RunReport report, String baseModel, boolean queryPrompt) {
    var c = report.configuration();
    var model = String.valueOf(c.get("model"));
    var out = new StringBuilder("---\n");
    if (baseModel != null) {
      out.append("base_model: ").append(baseModel).append('\n');
    }
    out.append("library_name: sentence-transformers\npipeline_tag: sentence-similarity\ntags:\n")
        .append("- sentence-transformers\n- sentence-similarity\n- feature-extraction\n- pruned\n- gaprune\n")
        .append("---\n\n");
    var modelName = baseModel != null ? baseModel : Path.of(model).getFileName().toString();
    var method = report.chosen() != null ? report.chosen() : String.valueOf(c.get("scoring"));
    out.append("# ").append(modelName).append(", ")
        .append(percent(report.sparsityActual())).append(" of its ").append(c.get("layers"))
        .append(" weights pruned for ").append(domainName(report)).append("\n\n");
    out.append("This is ")
        .append(baseModel != null ? "[" + baseModel + "](https://huggingface.co/" + baseModel + ")"
            : "the model `" + model + "`")
        .append(String.format(Locale.ROOT, " with %,d of its %,d candidate weights (the `%s` layers' weight "
            + "matrices) set to zero by [gaprune](https://arxiv.org/abs/2509.10844)'s `%s` scoring, calibrated on "
            + "general and domain triplets, %s.", report.pruned(), report.candidates(), c.get("layers"), method,
            retrainSentence(c)))
        .append(" The zeros are stored in a dense float32 `model.safetensors`: the file is as large as the base "
            + "model's, and it loads with sentence-transformers and transformers as the base model does.\n\n");

    out.append("## Usage\n\n```python\nfrom sentence_transformers import SentenceTransformer\n\n")
        .append("model = SentenceTransformer(\"path/to/this/folder\")\n")
        .append(queryPrompt
            ? "queries = model.encode([\"a query\"], prompt_name=\"query\")  # the query prompt it was evaluated with\n"
                + "passages = model.encode([\"a passage\"])\n"
            : "embeddings = model.encode([\"a query\", \"a passage\"])\n")
        .append("```\n\n");

    out.append("## Method and parameters\n\n| parameter | value |\n|---|---|\n");
    row(out, "scoring", "`" + method + "`");
    row(out, "sparsity", String.format(Locale.ROOT, "%.4f requested, %.6f actual", report.sparsityRequested(),
        report.sparsityActual()));
    row(out, "candidate layer types", "`" + c.get("layers") + "`");
    if (c.containsKey("structure")) {
      row(out, "structure", "`" + c.get("structure") + "`");
    }
    row(out, "budget", "`" + c.get("budget") + "`");
    for (var e : methodParameters(method, c).entrySet()) {
      row(out, e.getKey(), String.valueOf(e.getValue()));
    }
    row(out, "retraining steps (masks fixed)", String.valueOf(c.get("retrain_steps")));
    row(out, "seed", String.valueOf(c.get("seed")));
    out.append('\n');

    var byType = ReportWriter.sparsityByLayerType(report.tensors());
    if (!byType.isEmpty()) {
      out.append("## Sparsity per layer type\n\n| layer type | candidate weights | pruned | sparsity |\n")
          .append("|---|---:|---:|---:|\n");
      byType.forEach((type, counts) -> out.append(String.format(Locale.ROOT, "| %s | %,d | %,d | %.4f |%n", type,
          counts[0], counts[1], counts[0] == 0 ? 0 : (double) counts[1] / counts[0])));
      out.append('\n');
    }
    if (!report.layers().isEmpty()) {
      out.append("Per layer:\n\n| layer | candidate weights | pruned | sparsity |\n|---|---:|---:|---:|\n");
      for (var layer : report.layers()) {
        out.append(String.format(Locale.ROOT, "| %s | %,d | %,d | %.4f |%n", layer.layer(), layer.candidates(),
            layer.pruned(), layer.sparsity()));
      }
      out.append('\n');
    }

    out.append("## Calibration data\n\n| set | source | triplets used |\n|---|---|---:|\n");
    out.append("| general | `").append(c.get("general")).append("` | ").append(count(c.get("general_triplets")))
        .append(" |\n");
    out.append("| domain | `").append(c.get("domain")).append("` | ").append(count(c.get("domain_triplets")))
        .append(" |\n\n");
    out.append(String.format(Locale.ROOT, "Triplets of query, positive and hard negative; %s; batches of %s, "
        + "texts truncated at %s tokens; the loss is InfoNCE (MultipleNegativesRankingLoss, scale 20).%n%n",
        sampling(c), c.get("batch_size"), c.get("max_length")));

    if (!report.evaluations().isEmpty()) {
      out.append("## Evaluation\n\nRetrieval on BEIR-layout sets (cosine similarity, exact search)");
      if (c.get("evals") instanceof List<?> evals && !evals.isEmpty()) {
        out.append(": ").append(String.join(", ", evals.stream().map(e -> "`" + e + "`").toList()));
      }
      out.append(".\n\n");
      out.append(ReportWriter.evaluationMarkdown(report));
    }
    return out.toString();
  }

  private static void row(StringBuilder out, String name, String value) {
    out.append("| ").append(name).append(" | ").append(value).append(" |\n");
  }

  private static String percent(double fraction) {
    return String.format(Locale.ROOT, "%.1f%%", 100 * fraction);
  }

  /** The evaluation sets' names, which say the domain better than the calibration file's path. */
  private static String domainName(RunReport report) {
    var datasets = ReportWriter.datasets(report);
    return datasets.isEmpty() ? "the domain of `" + report.configuration().get("domain") + "`"
        : String.join(", ", datasets);
  }

  private static String retrainSentence(Map<String, Object> c) {
    var steps = c.get("retrain_steps");
    return steps instanceof Number n && n.intValue() > 0
        ? "then retrained for " + n.intValue() + " steps on the domain triplets with the masks held fixed"
        : "and not retrained";
  }

  private static String sampling(Map<String, Object> c) {
    var samples = c.get("samples");
    return samples instanceof Number n && n.intValue() > 0
        ? "up to " + n.intValue() + " per set chosen by k-means representative sampling (the paper's), seed "
            + c.get("seed")
        : "every triplet of each file";
  }

  private static String count(Object value) {
    return value instanceof Number n ? String.format(Locale.ROOT, "%,d", n.longValue()) : "– (statistics read "
        + "from a file)";
  }

  /** The hyperparameters the method's scores depend on, by the names the CLI and report.json use. */
  static Map<String, Object> methodParameters(String method, Map<String, Object> c) {
    var out = new LinkedHashMap<String, Object>();
    List<String> keys;
    if (method.startsWith("dai-calibrated")) {
      keys = List.of("calibrated_q", "calibrated_lambda", "calibrated_alignment_weight",
          "calibrated_alignment_window", "calibrated_rank1", "calibrated_floor");
    } else if (method.startsWith("dai")) {
      keys = List.of("alpha", "beta", "gamma", "alignment", "post_process");
    } else {
      keys = List.of();
    }
    for (var key : keys) {
      if (c.containsKey(key)) {
        out.put(key, c.get(key));
      }
    }
    return out;
  }

  /** The layer type of a tensor by its name, among the single kinds (the first that matches). */
  static String layerType(String tensor) {
    for (var type : LayerType.values()) {
      if (type.matches(tensor)) {
        return type.toString();
      }
    }
    return "other";
  }
}
