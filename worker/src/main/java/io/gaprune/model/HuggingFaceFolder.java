package io.gaprune.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import io.gaprune.model.bert.BertEncoder;
import io.gaprune.model.qwen3.Qwen3Encoder;
import io.gaprune.model.safetensors.SafetensorsReader;
import java.io.IOException;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Loads a Hugging Face checkpoint folder: {@code config.json} (model_type {@code bert} or {@code qwen3}),
 * {@code model.safetensors} or a sharded {@code model.safetensors.index.json}, {@code tokenizer.json} (and
 * {@code tokenizer_config.json}, kept for writing), and
 * the sentence-transformers files when present ({@code modules.json} with its Pooling and Normalize
 * modules, {@code config_sentence_transformers.json}'s query prompt).
 *
 * <p>Without sentence-transformers files a BERT model pools by MEAN without normalisation
 * (sentence-transformers' default for a plain transformer) and a Qwen3 model by its last token, normalised
 * (Qwen3-Embedding's use).
 */
public final class HuggingFaceFolder {

  private HuggingFaceFolder() {}

  public static LoadedModel load(Path dir, NDManager manager, DataType dtype, int maxLength) throws IOException {
    var configFile = dir.resolve("config.json");
    var hf = readJson(configFile);
    var st = SentenceTransformersConfig.read(dir);
    var tokenizerFile = dir.resolve("tokenizer.json");
    if (!Files.isRegularFile(tokenizerFile)) {
      throw new IOException(tokenizerFile + ": tokenizer file not found (the folder needs a fast-tokenizer "
          + "tokenizer.json)");
    }
    var config = config(hf, configFile, st);
    var side = config.family() == ModelConfig.Family.BERT ? TextTokenizer.PaddingSide.RIGHT
        : TextTokenizer.PaddingSide.LEFT;
    var parameters = readParameters(dir, manager, dtype);
    Encoder encoder;
    try {
      encoder = config.family() == ModelConfig.Family.BERT ? new BertEncoder(config, parameters)
          : new Qwen3Encoder(config, parameters);
    } catch (IllegalArgumentException e) {
      parameters.values().forEach(NDArray::close);
      throw new IOException(dir + ": " + e.getMessage(), e);
    }
    var tokenizer = TextTokenizer.fromFile(tokenizerFile, Math.min(maxLength, config.maxPositions()), side);
    var tokenizerConfigFile = dir.resolve("tokenizer_config.json");
    var tokenizerConfig = Files.isRegularFile(tokenizerConfigFile) ? readJson(tokenizerConfigFile) : null;
    return new LoadedModel(encoder, tokenizer, dir.toString(), hf, tokenizerConfig);
  }

  /**
   * The architecture {@code config.json} describes, read without the weights, the tokenizer or the
   * sentence-transformers files (pooling does not change a parameter's shape): what {@code gaprune session
   * estimate} sizes a session from.
   *
   * @throws IOException naming the file and the problem (missing, malformed, unsupported model_type, a field)
   */
  public static ModelConfig readArchitecture(Path configFile) throws IOException {
    return readArchitecture(readJson(configFile), configFile);
  }

  /** {@link #readArchitecture(Path)} of a parsed {@code config.json}; {@code source} names it in errors. */
  public static ModelConfig readArchitecture(JsonObject hf, Path source) throws IOException {
    return config(hf, source, new SentenceTransformersConfig(null, false, ""));
  }

  /** The config of a parsed {@code config.json}, by its {@code model_type}. */
  static ModelConfig config(JsonObject hf, Path configFile, SentenceTransformersConfig st) throws IOException {
    var type = string(hf, "model_type", configFile);
    return switch (type) {
      case "bert" -> bertConfig(hf, configFile, st);
      case "qwen3" -> qwen3Config(hf, configFile, st);
      default -> throw new IOException(configFile + ": unsupported model_type '" + type
          + "' (supported: bert, qwen3)");
    };
  }

  /**
   * Every parameter the loader requires of a model of this config, named as its encoder names them (no
   * {@code bert.}/{@code model.} prefix) and in model order. The encoders refuse a checkpoint whose tensors
   * differ from this, so it is what a loaded model holds (BERT's unused pooler aside, which a checkpoint may
   * add and which is never a candidate).
   */
  public static Map<String, Shape> parameterShapes(ModelConfig config) {
    return config.family() == ModelConfig.Family.BERT ? BertEncoder.expectedShapes(config)
        : Qwen3Encoder.expectedShapes(config);
  }

  /** Every floating-point tensor of the checkpoint as {@code dtype}; integer buffers are skipped. */
  static Map<String, NDArray> readParameters(Path dir, NDManager manager, DataType dtype) throws IOException {
    if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT64) {
      throw new IllegalArgumentException("parameters load as FLOAT32 or FLOAT64, not " + dtype);
    }
    if (!Files.isRegularFile(dir.resolve("model.safetensors"))
        && !Files.isRegularFile(dir.resolve("model.safetensors.index.json"))) {
      throw new IOException(dir + ": no model.safetensors or model.safetensors.index.json"
          + (Files.exists(dir.resolve("pytorch_model.bin")) ? " (pytorch_model.bin is not read: convert it to "
          + "safetensors)" : ""));
    }
    var out = new LinkedHashMap<String, NDArray>();
    try (var reader = SafetensorsReader.open(dir)) {
      for (var info : reader.tensors()) {
        if (!info.dtype().isFloating()) {
          continue; // e.g. embeddings.position_ids
        }
        var shape = new Shape(info.shape());
        // Converted in Java: DJL aborts the JVM on BF16 arrays (STACK.md).
        NDArray a = dtype == DataType.FLOAT64
            ? manager.create(DoubleBuffer.wrap(reader.readDoubles(info.name())), shape)
            : manager.create(FloatBuffer.wrap(reader.readFloats(info.name())), shape);
        a.setName(info.name());
        out.put(info.name(), a);
      }
    } catch (IOException | RuntimeException e) {
      out.values().forEach(NDArray::close);
      throw e;
    }
    return out;
  }

  static ModelConfig bertConfig(JsonObject hf, Path file, SentenceTransformersConfig st) throws IOException {
    var act = hf.has("hidden_act") ? string(hf, "hidden_act", file) : "gelu";
    if (!act.equals("gelu")) {
      throw new IOException(file + ": hidden_act '" + act + "' is not supported (BERT here uses erf GELU)");
    }
    if (hf.has("position_embedding_type") && !string(hf, "position_embedding_type", file).equals("absolute")) {
      throw new IOException(file + ": position_embedding_type '" + string(hf, "position_embedding_type", file)
          + "' is not supported (absolute only)");
    }
    int hidden = integer(hf, "hidden_size", file);
    int heads = integer(hf, "num_attention_heads", file);
    if (heads <= 0 || hidden % heads != 0) {
      throw new IOException(file + ": hidden_size " + hidden + " is not divisible by num_attention_heads " + heads);
    }
    return new ModelConfig(ModelConfig.Family.BERT, integer(hf, "vocab_size", file), hidden,
        integer(hf, "num_hidden_layers", file), heads, heads, hidden / heads, integer(hf, "intermediate_size", file),
        integer(hf, "max_position_embeddings", file), number(hf, "layer_norm_eps", file, 1e-12), 0,
        hf.has("type_vocab_size") ? integer(hf, "type_vocab_size", file) : 2,
        st.pooling() != null ? st.pooling() : ModelConfig.Pooling.MEAN, st.pooling() != null && st.normalize(),
        st.queryInstruction());
  }

  static ModelConfig qwen3Config(JsonObject hf, Path file, SentenceTransformersConfig st) throws IOException {
    int hidden = integer(hf, "hidden_size", file);
    int heads = integer(hf, "num_attention_heads", file);
    int headDim = hf.has("head_dim") ? integer(hf, "head_dim", file) : hidden / heads;
    return new ModelConfig(ModelConfig.Family.QWEN3, integer(hf, "vocab_size", file), hidden,
        integer(hf, "num_hidden_layers", file), heads,
        hf.has("num_key_value_heads") ? integer(hf, "num_key_value_heads", file) : heads, headDim,
        integer(hf, "intermediate_size", file), integer(hf, "max_position_embeddings", file),
        number(hf, "rms_norm_eps", file, 1e-6), ropeTheta(hf, file), 0,
        st.pooling() != null ? st.pooling() : ModelConfig.Pooling.LAST_TOKEN,
        st.pooling() == null || st.normalize(), st.queryInstruction());
  }

  /** transformers' {@code RotaryEmbeddingConfigMixin.default_theta}: the base when a config names none. */
  static final double DEFAULT_ROPE_THETA = 10_000.0;

  /**
   * The RoPE base as transformers reads it, from either way of writing it: transformers 4 writes a top-level
   * {@code rope_theta} (and {@code rope_scaling} for scaled variants), transformers 5 writes
   * {@code "rope_parameters": {"rope_theta", "rope_type"}}. As transformers' {@code convert_rope_params_to_dict}
   * does, a non-null {@code rope_scaling} takes the place of {@code rope_parameters}, a {@code rope_theta}
   * inside that object wins over a top-level one, and with none at all the base is {@value #DEFAULT_ROPE_THETA}.
   * Only plain RoPE ({@code rope_type} or {@code type} "default", or absent) is implemented: any other type
   * (linear, dynamic, yarn, longrope, llama3, ...) changes the frequencies and is refused by name rather than
   * run as plain RoPE.
   */
  static double ropeTheta(JsonObject hf, Path file) throws IOException {
    String field = null;
    JsonObject rope = null;
    for (var name : new String[] {"rope_scaling", "rope_parameters"}) {
      var e = hf.get(name);
      if (e == null || e.isJsonNull()) {
        continue;
      }
      if (!e.isJsonObject()) {
        throw new IOException(file + ": field \"" + name + "\" must be an object or null, got " + e);
      }
      field = name;
      rope = e.getAsJsonObject();
      break;
    }
    if (rope == null) {
      return positive(hf, "rope_theta", "rope_theta", file, DEFAULT_ROPE_THETA);
    }
    for (var entry : rope.entrySet()) {
      if (entry.getValue().isJsonObject()) {
        throw new IOException(file + ": \"" + field + "\" holds per-layer-type RoPE settings (\"" + entry.getKey()
            + "\"); only one global setting is supported");
      }
    }
    var typeField = rope.has("rope_type") ? "rope_type" : rope.has("type") ? "type" : null;
    var type = typeField == null ? "default" : string(rope, typeField, file);
    if (!type.equals("default")) {
      throw new IOException(file + ": RoPE type '" + type + "' (\"" + field + "\"." + typeField
          + ") is not supported: only \"default\" (plain RoPE with rope_theta) is implemented");
    }
    double fallback = positive(hf, "rope_theta", "rope_theta", file, DEFAULT_ROPE_THETA);
    return positive(rope, "rope_theta", field + ".rope_theta", file, fallback);
  }

  /** A positive number {@code o.field} (or the fallback when absent), {@code label} naming it in errors. */
  private static double positive(JsonObject o, String field, String label, Path file, double fallback)
      throws IOException {
    var e = o.get(field);
    if (e == null || e.isJsonNull()) {
      return fallback;
    }
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber() || !(e.getAsDouble() > 0)
        || Double.isInfinite(e.getAsDouble())) {
      throw new IOException(file + ": field \"" + label + "\" must be a positive number, got " + e);
    }
    return e.getAsDouble();
  }

  static JsonObject readJson(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException(file + ": file not found");
    }
    try {
      JsonElement e = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
      if (!e.isJsonObject()) {
        throw new IOException(file + ": expected a JSON object");
      }
      return e.getAsJsonObject();
    } catch (JsonParseException e) {
      throw new IOException(file + ": malformed JSON (" + e.getMessage() + ")", e);
    }
  }

  static String string(JsonObject o, String field, Path file) throws IOException {
    var e = o.get(field);
    if (e == null || !e.isJsonPrimitive()) {
      throw new IOException(file + ": missing or non-string field \"" + field + "\"");
    }
    return e.getAsString();
  }

  static int integer(JsonObject o, String field, Path file) throws IOException {
    var e = o.get(field);
    if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new IOException(file + ": missing or non-numeric field \"" + field + "\"");
    }
    double v = e.getAsDouble();
    if (v != Math.rint(v) || v < 0 || v > Integer.MAX_VALUE) {
      throw new IOException(file + ": field \"" + field + "\" must be a non-negative integer, got " + e);
    }
    return (int) v;
  }

  static double number(JsonObject o, String field, Path file, double fallback) throws IOException {
    var e = o.get(field);
    if (e == null || e.isJsonNull()) {
      return fallback;
    }
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new IOException(file + ": field \"" + field + "\" is not a number");
    }
    return e.getAsDouble();
  }
}
