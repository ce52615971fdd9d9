package io.gaprune.model;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import io.gaprune.model.bert.BertEncoder;
import io.gaprune.model.onnx.OnnxModelLoader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;

/**
 * Loads a model by spec: a short name of a class-path ONNX export ({@code minilm}, {@code bge-small}) or
 * the path of a Hugging Face checkpoint folder.
 */
public final class ModelLoader {

  private ModelLoader() {}

  /** {@link #load(String, NDManager, DataType, int)} with {@link TextTokenizer#DEFAULT_MAX_LENGTH}. */
  public static LoadedModel load(String spec, NDManager manager, DataType dtype) throws IOException {
    return load(spec, manager, dtype, TextTokenizer.DEFAULT_MAX_LENGTH);
  }

  /**
   * @param manager owns the parameters (close it to free them)
   * @param dtype FLOAT32 or FLOAT64 parameters
   * @param maxLength the tokenizer's truncation length (capped at the model's position count)
   * @throws IOException naming the file and the problem when the model cannot be read
   */
  public static LoadedModel load(String spec, NDManager manager, DataType dtype, int maxLength) throws IOException {
    var known = KnownModel.byShortName(spec);
    if (known != null) {
      return loadKnown(known, manager, dtype, maxLength);
    }
    var dir = Path.of(spec);
    if (!Files.isDirectory(dir)) {
      throw new IOException(spec + ": not a known model name (minilm, bge-small) and no such directory");
    }
    return HuggingFaceFolder.load(dir, manager, dtype, maxLength);
  }

  private static LoadedModel loadKnown(KnownModel known, NDManager manager, DataType dtype, int maxLength)
      throws IOException {
    java.util.Map<String, OnnxModelLoader.HostTensor> host;
    try (var in = resource(known.onnxResource)) {
      host = OnnxModelLoader.readParameters(in, known.onnxResource);
    }
    var shapes = new LinkedHashMap<String, long[]>();
    host.forEach((k, v) -> shapes.put(k, v.shape()));
    var config = known.config(shapes);
    var parameters = OnnxModelLoader.toNDArrays(host, manager, dtype);
    host.clear();
    byte[] tokenizerJson;
    try (var in = resource(known.tokenizerResource)) {
      tokenizerJson = in.readAllBytes();
    }
    var tokenizer = TextTokenizer.fromJson(tokenizerJson, known.tokenizerResource,
        Math.min(maxLength, config.maxPositions()), TextTokenizer.PaddingSide.RIGHT);
    var source = known.shortName + " (" + known.hubName + ", class-path " + known.onnxResource + ")";
    return new LoadedModel(new BertEncoder(config, parameters), tokenizer, source, bertConfigJson(config));
  }

  private static InputStream resource(String name) throws IOException {
    var in = ModelLoader.class.getResourceAsStream("/" + name);
    if (in == null) {
      throw new IOException("class-path resource " + name
          + " not found (the langchain4j embedding model jars must be on the class path)");
    }
    return in;
  }

  /** A Hugging Face {@code config.json} for a BERT model of this config (BertModel, absolute positions). */
  public static JsonObject bertConfigJson(ModelConfig c) {
    var o = new JsonObject();
    var arch = new com.google.gson.JsonArray();
    arch.add("BertModel");
    o.add("architectures", arch);
    o.addProperty("model_type", "bert");
    o.addProperty("vocab_size", c.vocabSize());
    o.addProperty("hidden_size", c.hiddenSize());
    o.addProperty("num_hidden_layers", c.numLayers());
    o.addProperty("num_attention_heads", c.numHeads());
    o.addProperty("intermediate_size", c.intermediateSize());
    o.addProperty("hidden_act", "gelu");
    o.addProperty("max_position_embeddings", c.maxPositions());
    o.addProperty("type_vocab_size", c.typeVocabSize());
    o.addProperty("layer_norm_eps", c.normEps());
    o.addProperty("position_embedding_type", "absolute");
    o.addProperty("hidden_dropout_prob", 0.1);
    o.addProperty("attention_probs_dropout_prob", 0.1);
    o.addProperty("initializer_range", 0.02);
    o.addProperty("pad_token_id", 0);
    o.addProperty("torch_dtype", "float32");
    return o;
  }
}
