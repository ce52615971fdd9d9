package io.gaprune.model.qwen3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.gaprune.data.Triplet;
import io.gaprune.model.LoadedModel;
import io.gaprune.model.ModelConfig;
import io.gaprune.model.ModelLoader;
import io.gaprune.model.TextTokenizer;
import io.gaprune.model.safetensors.SafetensorsFile;
import io.gaprune.stats.StatisticsStep;
import io.gaprune.stats.TripletBatch;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * Holds the project's Qwen3 to Hugging Face transformers' own code, through {@code ../shared/golden/qwen3-tiny/}
 * read as it is (made by its {@code make_fixture.py} with transformers 5.18 and torch 2.13; see the golden
 * README): the folder is loaded with {@link ModelLoader} as a user's {@code --model PATH} would be, the texts and
 * triplets go through the project's tokenizer, instruction and InfoNCE, and the outputs must equal
 * transformers': token ids exactly, embeddings within 1e-5 (float32) and 1e-12 (float64), the loss's gradient
 * of every tensor within 1e-4 (float32) and 1e-10 (float64) relative ({@code max|Δg| / max|g|} per tensor, as
 * the golden README measures), and the θ = 1e4 variant, whose {@code config.json} holds the RoPE base only
 * inside {@code rope_parameters}, embedded as transformers embeds it.
 *
 * <p>The float64 references are transformers with its three float32 casts (RMSNorm, RoPE tables, softmax)
 * removed, i.e. the same computation as this project's float64 pass. The golden folder is the sibling of the
 * {@code gaprune.shared.data} folder; like the other tests of shared data, a missing folder fails.
 */
class Qwen3GoldenTest {

  static final Path GOLDEN = Path.of(System.getProperty("gaprune.shared.data", "/work/shared/data"))
      .toAbsolutePath().normalize().resolveSibling("golden").resolve("qwen3-tiny");

  private static JsonObject json(String file) throws IOException {
    var path = GOLDEN.resolve(file);
    assertTrue(Files.isRegularFile(path), path + " is missing: the golden references live beside the shared data "
        + "(../shared/golden/qwen3-tiny/ next to the checkout)");
    return JsonParser.parseString(Files.readString(path, StandardCharsets.UTF_8)).getAsJsonObject();
  }

  private static LoadedModel load(String folder, NDManager manager, DataType dtype) throws IOException {
    return ModelLoader.load(GOLDEN.resolve(folder).toString(), manager, dtype, 256);
  }

  /**
   * The loader reads the checkpoint's settings as transformers does (θ = 1e6, the card's query prompt with no
   * space after {@code Query:}), the project's instruction gives transformers' query texts, and every text
   * tokenizes to transformers' ids, one by one and as left-padded batches.
   */
  @Test
  void tokenIdsAndQueryTextsAreTransformers() throws IOException {
    var reference = json("reference.json");
    var inputs = json("inputs.json");
    try (var manager = NDManager.newBaseManager();
        var model = load("model", manager, DataType.FLOAT32)) {
      var config = model.config();
      assertEquals(1e6, config.ropeTheta(), 0);
      assertEquals(inputs.get("query_prompt").getAsString() + "{q}", config.queryInstruction());
      // the project's own template gives the card's prompt for the card's task
      assertEquals(config.queryInstruction(), Qwen3Encoder.queryInstruction(
          "Given a web search query, retrieve relevant passages that answer the query"));
      assertEquals(ModelConfig.Pooling.LAST_TOKEN, config.pooling());
      assertEquals(TextTokenizer.PaddingSide.LEFT, model.tokenizer().paddingSide());

      var queries = TextTokenizer.withInstruction(strings(inputs.getAsJsonArray("queries")),
          config.queryInstruction());
      assertEquals(strings(reference.getAsJsonObject("queries").getAsJsonArray("texts")), queries);
      // A query that already carries the instruction is not instructed twice.
      assertEquals(queries, TextTokenizer.withInstruction(queries, config.queryInstruction()));

      for (var e : reference.getAsJsonObject("token_ids").entrySet()) {
        assertArrayEquals(longs(e.getValue().getAsJsonArray()), model.tokenizer().ids(e.getKey()),
            "token ids of " + e.getKey());
      }
      for (var label : List.of("docs", "queries")) {
        var part = reference.getAsJsonObject(label);
        var batch = model.tokenizer().encode(strings(part.getAsJsonArray("texts")), manager);
        var mask = matrix(part.getAsJsonArray("attention_mask"));
        var ids = matrix(part.getAsJsonArray("input_ids"));
        assertArrayEquals(mask, batch.attentionMask().toLongArray(), label + " attention mask (left padding)");
        var ours = batch.inputIds().toLongArray();
        for (int i = 0; i < ids.length; i++) {
          if (mask[i] == 1) { // padding ids are never read; transformers pads with <|endoftext|>, this project with 0
            assertEquals(ids[i], ours[i], label + " input id at flat position " + i);
          }
        }
      }
    }
  }

  @Test
  void embeddingsAreTransformersInFloat32AndFloat64() throws IOException {
    var reference = json("reference.json");
    for (var dtype : List.of(DataType.FLOAT32, DataType.FLOAT64)) {
      double tolerance = dtype == DataType.FLOAT32 ? 1e-5 : 1e-12;
      var key = dtype == DataType.FLOAT32 ? "f32_hf_eager" : "f64_hf_nocast";
      try (var manager = NDManager.newBaseManager();
          var model = load("model", manager, dtype)) {
        for (var label : List.of("docs", "queries")) {
          var part = reference.getAsJsonObject(label);
          double delta = maxDelta(embed(model, strings(part.getAsJsonArray("texts")), manager),
              flatten(part.getAsJsonArray(key)));
          System.out.printf(Locale.ROOT, "golden qwen3-tiny %s %s embeddings: max |Δ| %.3g%n", dtype, label, delta);
          assertTrue(delta <= tolerance, dtype + " " + label + " embeddings differ from transformers' by " + delta
              + " (allowed " + tolerance + ")");
        }
      }
    }
  }

  /** The config written the transformers-5 way ({@code rope_parameters} only) must give θ = 1e4. */
  @Test
  void theRopeBaseInsideRopeParametersIsUsed() throws IOException {
    var reference = json("reference.json");
    try (var manager = NDManager.newBaseManager();
        var model = load("model_theta1e4", manager, DataType.FLOAT32)) {
      assertEquals(1e4, model.config().ropeTheta(), 0);
      for (var label : List.of("docs", "queries")) {
        var part = reference.getAsJsonObject(label);
        // texts as transformers embedded them: the queries already hold the prompt (the folder has no prompt file)
        double delta = maxDelta(embed(model, strings(part.getAsJsonArray("texts")), manager),
            flatten(part.getAsJsonArray("f32_variant_theta1e4")));
        System.out.printf(Locale.ROOT, "golden qwen3-tiny theta 1e4 %s embeddings: max |Δ| %.3g%n", label, delta);
        assertTrue(delta <= 1e-5, "θ = 1e4 " + label + " embeddings differ from transformers' by " + delta);
      }
    }
  }

  /**
   * The InfoNCE loss of the general and of the domain triplets and its gradient for every tensor, through the
   * project's own statistics step (one batch: its {@code g} is the gradient of the batch's mean loss).
   */
  @Test
  void lossesAndGradientsOfEveryTensorAreTransformers() throws IOException {
    var reference = json("reference.json");
    var inputs = json("inputs.json");
    var names = strings(reference.getAsJsonArray("parameter_names"));
    try (var grads = SafetensorsFile.open(GOLDEN.resolve("reference_grads.safetensors"))) {
      for (var dtype : List.of(DataType.FLOAT32, DataType.FLOAT64)) {
        boolean f32 = dtype == DataType.FLOAT32;
        double gradientTolerance = f32 ? 1e-4 : 1e-10;
        double lossTolerance = f32 ? 1e-5 : 1e-12;
        var prefix = f32 ? "f32." : "f64.";
        try (var manager = NDManager.newBaseManager();
            var model = load("model", manager, dtype)) {
          assertEquals(new java.util.TreeSet<>(names), new java.util.TreeSet<>(model.encoder().parameters().keySet()),
              "parameter names");
          var general = TripletBatch.tokenize(triplets(inputs.getAsJsonArray("general")), model.tokenizer(),
              model.config(), manager);
          var domain = TripletBatch.tokenize(triplets(inputs.getAsJsonArray("domain")), model.tokenizer(),
              model.config(), manager);
          var step = new StatisticsStep(model.encoder(), names).run(general, domain);
          var losses = reference.getAsJsonObject("losses");
          var lossKey = f32 ? "f32_hf_eager" : "f64_hf_nocast";
          double generalLoss = step.generalLossSum() / step.generalSamples();
          double domainLoss = step.domainLossSum() / step.domainSamples();
          double generalExpected = losses.getAsJsonObject("general").get(lossKey).getAsDouble();
          double domainExpected = losses.getAsJsonObject("domain").get(lossKey).getAsDouble();
          System.out.printf(Locale.ROOT, "golden qwen3-tiny %s losses: general |Δ| %.3g, domain |Δ| %.3g%n", dtype,
              Math.abs(generalLoss - generalExpected), Math.abs(domainLoss - domainExpected));
          assertEquals(generalExpected, generalLoss, lossTolerance, dtype + " general loss");
          assertEquals(domainExpected, domainLoss, lossTolerance, dtype + " domain loss");

          double worst = 0;
          String worstName = "";
          var failures = new ArrayList<String>();
          for (var name : names) {
            var stats = step.tensors().get(name);
            for (var half : List.of("general", "domain")) {
              var expected = grads.readDoubles(prefix + half + "." + name);
              var ours = half.equals("general") ? stats.sumGeneral() : stats.sumDomain();
              double scale = 0;
              for (double g : expected) {
                scale = Math.max(scale, Math.abs(g));
              }
              assertTrue(scale > 0, prefix + half + "." + name + " has a zero reference gradient");
              double relative = maxDelta(ours, expected) / scale;
              if (relative > worst) {
                worst = relative;
                worstName = half + " " + name;
              }
              if (!(relative <= gradientTolerance)) {
                failures.add(String.format(Locale.ROOT, "%s %s: %.3g", half, name, relative));
              }
            }
          }
          System.out.printf(Locale.ROOT, "golden qwen3-tiny %s gradients: worst max|Δg|/max|g| %.3g (%s)%n", dtype,
              worst, worstName);
          assertTrue(failures.isEmpty(), dtype + " gradients beyond " + gradientTolerance + " relative: " + failures);
        }
      }
    }
  }

  private static double[] embed(LoadedModel model, List<String> texts, NDManager manager) {
    try (var batchManager = manager.newSubManager()) {
      var batch = model.tokenizer().encode(texts, batchManager);
      return model.encoder().embed(batch).toType(DataType.FLOAT64, false).toDoubleArray();
    }
  }

  private static double maxDelta(double[] ours, double[] expected) {
    assertEquals(expected.length, ours.length, "element count");
    double max = 0;
    for (int i = 0; i < ours.length; i++) {
      double d = Math.abs(ours[i] - expected[i]);
      if (!(d <= max)) {
        max = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
      }
    }
    return max;
  }

  private static List<Triplet> triplets(JsonArray array) {
    var out = new ArrayList<Triplet>();
    for (var e : array) {
      var o = e.getAsJsonObject();
      out.add(new Triplet(o.get("query").getAsString(), o.get("positive").getAsString(),
          o.get("negative").getAsString()));
    }
    return out;
  }

  private static List<String> strings(JsonArray array) {
    var out = new ArrayList<String>();
    array.forEach(e -> out.add(e.getAsString()));
    return out;
  }

  private static long[] longs(JsonArray array) {
    var out = new long[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).getAsLong();
    }
    return out;
  }

  private static long[] matrix(JsonArray rows) {
    var out = new ArrayList<Long>();
    rows.forEach(r -> r.getAsJsonArray().forEach(v -> out.add(v.getAsLong())));
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  private static double[] flatten(JsonArray rows) {
    var out = new ArrayList<Double>();
    rows.forEach(r -> r.getAsJsonArray().forEach(v -> out.add(v.getAsDouble())));
    return out.stream().mapToDouble(Double::doubleValue).toArray();
  }
}
