package io.gaprune.model;

import ai.djl.ndarray.NDArray;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.gaprune.model.safetensors.DType;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.model.safetensors.TensorSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;

/**
 * Writes a model as a Hugging Face folder that {@link ModelLoader}, transformers and sentence-transformers
 * load: {@code config.json}, {@code model.safetensors} (float32), {@code tokenizer.json},
 * {@code tokenizer_config.json} ({@link TokenizerConfigFile}: maximum length, lower-casing, padding side,
 * special tokens, as upstream), and the
 * sentence-transformers files that fix pooling and normalisation ({@code modules.json},
 * {@code 1_Pooling/config.json}, {@code 2_Normalize/}, {@code sentence_bert_config.json},
 * {@code config_sentence_transformers.json} with the query prompt).
 */
public final class HuggingFaceWriter {

  private HuggingFaceWriter() {}

  /** Writes {@code model} with its encoder's current parameters. */
  public static void write(LoadedModel model, Path dir) throws IOException {
    write(model, model.encoder().parameters(), dir);
  }

  /**
   * Writes {@code model}'s config and tokenizer with {@code parameters} (e.g. pruned copies, same names and
   * shapes) as the weights, in their map order.
   */
  public static void write(LoadedModel model, Map<String, NDArray> parameters, Path dir) throws IOException {
    Files.createDirectories(dir);
    var config = model.config();
    var specs = new ArrayList<TensorSpec>();
    for (var e : parameters.entrySet()) {
      specs.add(new TensorSpec(e.getKey(), DType.F32, e.getValue().getShape().getShape()));
    }
    try (var writer = SafetensorsWriter.create(dir.resolve("model.safetensors"), specs, Map.of("format", "pt"))) {
      for (var e : parameters.entrySet()) {
        writer.writeFloats(e.getKey(), e.getValue().toFloatArray());
      }
    }
    var hf = model.hfConfig().deepCopy();
    hf.addProperty("torch_dtype", "float32");
    writeJson(dir.resolve("config.json"), hf);
    Files.write(dir.resolve("tokenizer.json"), model.tokenizer().json());
    writeJson(dir.resolve("tokenizer_config.json"), TokenizerConfigFile.of(model));

    var modules = new JsonArray();
    modules.add(module(0, "", "sentence_transformers.models.Transformer"));
    modules.add(module(1, "1_Pooling", SentenceTransformersConfig.POOLING_TYPE));
    if (config.normalize()) {
      modules.add(module(2, "2_Normalize", SentenceTransformersConfig.NORMALIZE_TYPE));
      Files.createDirectories(dir.resolve("2_Normalize"));
    }
    writeJson(dir.resolve("modules.json"), modules);
    var pooling = new JsonObject();
    pooling.addProperty("word_embedding_dimension", config.hiddenSize());
    pooling.addProperty("pooling_mode_cls_token", config.pooling() == ModelConfig.Pooling.CLS);
    pooling.addProperty("pooling_mode_mean_tokens", config.pooling() == ModelConfig.Pooling.MEAN);
    pooling.addProperty("pooling_mode_max_tokens", false);
    pooling.addProperty("pooling_mode_mean_sqrt_len_tokens", false);
    pooling.addProperty("pooling_mode_weightedmean_tokens", false);
    pooling.addProperty("pooling_mode_lasttoken", config.pooling() == ModelConfig.Pooling.LAST_TOKEN);
    pooling.addProperty("include_prompt", true);
    Files.createDirectories(dir.resolve("1_Pooling"));
    writeJson(dir.resolve("1_Pooling").resolve("config.json"), pooling);
    var sbert = new JsonObject();
    sbert.addProperty("max_seq_length", model.tokenizer().maxLength());
    sbert.addProperty("do_lower_case", false);
    writeJson(dir.resolve("sentence_bert_config.json"), sbert);
    var st = new JsonObject();
    var prompts = new JsonObject();
    var instruction = config.queryInstruction();
    if (instruction != null && !instruction.isEmpty()) {
      if (!instruction.endsWith("{q}") || instruction.indexOf("{q}") != instruction.length() - 3
          || instruction.contains("{task}")) {
        throw new IOException(dir + ": query instruction '" + instruction
            + "' cannot be written as a sentence-transformers prompt (it must end with {q} and have no unfilled {task})");
      }
      prompts.addProperty("query", instruction.substring(0, instruction.length() - 3));
    }
    st.add("prompts", prompts);
    st.add("default_prompt_name", com.google.gson.JsonNull.INSTANCE);
    st.addProperty("similarity_fn_name", "cosine");
    writeJson(dir.resolve("config_sentence_transformers.json"), st);
  }

  private static JsonObject module(int idx, String path, String type) {
    var m = new JsonObject();
    m.addProperty("idx", idx);
    m.addProperty("name", Integer.toString(idx));
    m.addProperty("path", path);
    m.addProperty("type", type);
    return m;
  }

  private static void writeJson(Path file, JsonElement json) throws IOException {
    var text = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().serializeNulls().create().toJson(json);
    Files.writeString(file, text + "\n", StandardCharsets.UTF_8);
  }
}
