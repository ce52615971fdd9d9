package io.gaprune.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonParser;
import io.gaprune.model.safetensors.DType;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.model.safetensors.TensorSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writing a model as a Hugging Face folder and loading it back; the folder loader's errors. */
class HuggingFaceFolderTest {

  @TempDir Path tmp;

  private static float[] embed(LoadedModel model, NDManager manager) {
    try (var step = manager.newSubManager()) {
      return model.encoder().embed(model.tokenizer().encode(TestModels.SENTENCES, step)).toFloatArray();
    }
  }

  @Test
  void minilmExportedAndReloadedGivesIdenticalEmbeddings() throws IOException {
    var dir = tmp.resolve("minilm");
    try (var manager = NDManager.newBaseManager()) {
      float[] before;
      try (var model = ModelLoader.load("minilm", manager, DataType.FLOAT32)) {
        before = embed(model, manager);
        HuggingFaceWriter.write(model, dir);
      }
      try (var reloaded = ModelLoader.load(dir.toString(), manager, DataType.FLOAT32)) {
        assertEquals(ModelConfig.Pooling.MEAN, reloaded.config().pooling());
        assertTrue(reloaded.config().normalize());
        assertEquals(TestModels.config(KnownModel.MINILM), reloaded.config());
        assertEquals(dir.toString(), reloaded.source());
        assertTrue(Arrays.equals(before, embed(reloaded, manager)), "embeddings differ after the round trip");
      }
    }
    var pooling = JsonParser.parseString(Files.readString(dir.resolve("1_Pooling/config.json"))).getAsJsonObject();
    assertTrue(pooling.get("pooling_mode_mean_tokens").getAsBoolean());
    assertEquals("bert", JsonParser.parseString(Files.readString(dir.resolve("config.json"))).getAsJsonObject()
        .get("model_type").getAsString());
    // tokenizer_config.json as sentence-transformers/all-MiniLM-L6-v2 ships it
    assertEquals(JsonParser.parseString("""
        {"tokenizer_class": "BertTokenizer", "do_lower_case": true, "model_max_length": 512,
         "padding_side": "right", "truncation_side": "right", "cls_token": "[CLS]", "sep_token": "[SEP]",
         "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]", "tokenize_chinese_chars": true,
         "strip_accents": null, "clean_up_tokenization_spaces": true}"""), json(dir.resolve("tokenizer_config.json")));
    assertOnlyTransformersKeys(dir);
  }

  private static com.google.gson.JsonObject json(Path file) throws IOException {
    return JsonParser.parseString(Files.readString(file)).getAsJsonObject();
  }

  /**
   * config.json names the architecture transformers has built in, and nothing that would make transformers
   * fetch code or ask for another package (remote code, quantisation, an adapter).
   */
  private static void assertOnlyTransformersKeys(Path dir) throws IOException {
    var config = json(dir.resolve("config.json"));
    for (var key : java.util.List.of("auto_map", "quantization_config", "trust_remote_code", "peft_type",
        "adapter_config", "custom_pipelines")) {
      assertTrue(!config.has(key), "config.json has " + key);
    }
    var architectures = config.getAsJsonArray("architectures");
    assertEquals(1, architectures.size());
    assertTrue(java.util.List.of("BertModel", "Qwen3Model").contains(architectures.get(0).getAsString()),
        architectures.toString());
  }

  /**
   * A folder that came with a tokenizer_config.json (the golden Qwen3 one, written by transformers 5) keeps it
   * as it was; a Qwen3 model without one gets Qwen3-Embedding's settings (left padding, eos and pad tokens).
   */
  @Test
  void qwen3TokenizerConfigIsKeptOrWrittenAsUpstream() throws IOException {
    var golden = Path.of(System.getProperty("gaprune.shared.data", "/work/shared/data")).toAbsolutePath()
        .normalize().resolveSibling("golden").resolve("qwen3-tiny").resolve("model");
    var kept = tmp.resolve("kept");
    var bare = tmp.resolve("bare");
    try (var manager = NDManager.newBaseManager();
        var model = ModelLoader.load(golden.toString(), manager, DataType.FLOAT32)) {
      HuggingFaceWriter.write(model, kept);
      assertEquals(json(golden.resolve("tokenizer_config.json")), json(kept.resolve("tokenizer_config.json")));
      assertOnlyTransformersKeys(kept);
      var withoutFile = new LoadedModel(model.encoder(), model.tokenizer(), model.source(), model.hfConfig());
      HuggingFaceWriter.write(withoutFile, bare);
    }
    assertEquals(JsonParser.parseString("""
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 256, "padding_side": "left",
         "truncation_side": "right", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
         "clean_up_tokenization_spaces": false}"""), json(bare.resolve("tokenizer_config.json")));
    // an upstream file without model_max_length or padding_side is completed, its other keys kept
    var partial = tmp.resolve("partial");
    try (var manager = NDManager.newBaseManager();
        var model = ModelLoader.load(golden.toString(), manager, DataType.FLOAT32)) {
      var upstream = json(golden.resolve("tokenizer_config.json"));
      upstream.remove("model_max_length");
      upstream.remove("padding_side");
      HuggingFaceWriter.write(new LoadedModel(model.encoder(), model.tokenizer(), model.source(), model.hfConfig(),
          upstream), partial);
    }
    var completed = json(partial.resolve("tokenizer_config.json"));
    assertEquals(256, completed.get("model_max_length").getAsInt());
    assertEquals("left", completed.get("padding_side").getAsString());
    assertEquals("TokenizersBackend", completed.get("tokenizer_class").getAsString());
  }

  @Test
  void bgeKeepsClsPoolingAndQueryInstructionThroughTheFolder() throws IOException {
    var dir = tmp.resolve("bge");
    try (var manager = NDManager.newBaseManager()) {
      float[] before;
      try (var model = ModelLoader.load("bge-small", manager, DataType.FLOAT32)) {
        before = embed(model, manager);
        HuggingFaceWriter.write(model, dir);
      }
      try (var reloaded = ModelLoader.load(dir.toString(), manager, DataType.FLOAT32)) {
        assertEquals(TestModels.config(KnownModel.BGE_SMALL), reloaded.config());
        assertTrue(Arrays.equals(before, embed(reloaded, manager)));
        // the written tokenizer_config.json is read back and written again unchanged
        assertEquals(json(dir.resolve("tokenizer_config.json")), reloaded.tokenizerConfig());
      }
    }
    var tokenizerConfig = json(dir.resolve("tokenizer_config.json"));
    assertEquals(512, tokenizerConfig.get("model_max_length").getAsInt());
    assertTrue(tokenizerConfig.get("do_lower_case").getAsBoolean());
    assertEquals("[CLS]", tokenizerConfig.get("cls_token").getAsString());
    assertOnlyTransformersKeys(dir);
  }

  /** A minilm folder written once for the error cases below. */
  private Path writeMinilm() throws IOException {
    var dir = tmp.resolve("m");
    try (var manager = NDManager.newBaseManager(); var model = ModelLoader.load("minilm", manager, DataType.FLOAT32)) {
      HuggingFaceWriter.write(model, dir);
    }
    return dir;
  }

  private static IOException loadFails(Path dir) {
    try (var manager = NDManager.newBaseManager()) {
      return assertThrows(IOException.class, () -> ModelLoader.load(dir.toString(), manager, DataType.FLOAT32));
    }
  }

  @Test
  void brokenFoldersGiveErrorsNamingFileAndProblem() throws IOException {
    var dir = writeMinilm();
    var weights = dir.resolve("model.safetensors");
    var good = Files.readAllBytes(weights);

    // a tensor with the wrong shape
    var specs = new ArrayList<TensorSpec>();
    try (var manager = NDManager.newBaseManager()) {
      var params = HuggingFaceFolder.readParameters(dir, manager, DataType.FLOAT32);
      for (var e : params.entrySet()) {
        var shape = e.getKey().equals("encoder.layer.2.output.dense.weight") ? new long[] {384, 1535}
            : e.getValue().getShape().getShape();
        specs.add(new TensorSpec(e.getKey(), DType.F32, shape));
      }
      try (var w = SafetensorsWriter.create(weights, specs, Map.of())) {
        for (var s : specs) {
          w.writeFloats(s.name(), new float[(int) s.elementCount()]);
        }
      }
      params.values().forEach(NDArray::close);
    }
    assertEquals(dir + ": BERT parameter encoder.layer.2.output.dense.weight: expected shape (384, 1536), got "
        + "(384, 1535)", loadFails(dir).getMessage());

    // truncated weights
    Files.write(weights, Arrays.copyOf(good, good.length - 1000));
    var e = loadFails(dir);
    assertTrue(e.getMessage().contains(weights.toString()) && e.getMessage().contains("truncated"), e.getMessage());
    Files.write(weights, good);

    // no weights at all
    Files.delete(weights);
    assertEquals(dir + ": no model.safetensors or model.safetensors.index.json", loadFails(dir).getMessage());
    Files.write(weights, good);

    // missing tokenizer
    Files.move(dir.resolve("tokenizer.json"), dir.resolve("tokenizer.json.bak"));
    assertTrue(loadFails(dir).getMessage().startsWith(dir.resolve("tokenizer.json") + ": tokenizer file not found"));
    Files.move(dir.resolve("tokenizer.json.bak"), dir.resolve("tokenizer.json"));

    // unknown model_type
    var config = dir.resolve("config.json");
    var original = Files.readString(config);
    Files.writeString(config, original.replace("\"bert\"", "\"llama\""));
    assertEquals(config + ": unsupported model_type 'llama' (supported: bert, qwen3)", loadFails(dir).getMessage());

    // missing config
    Files.delete(config);
    assertEquals(config + ": file not found", loadFails(dir).getMessage());
    Files.writeString(config, original);

    // a pooling config that names two modes
    var pooling = dir.resolve("1_Pooling/config.json");
    Files.writeString(pooling, Files.readString(pooling).replace("\"pooling_mode_cls_token\": false",
        "\"pooling_mode_cls_token\": true"));
    assertTrue(loadFails(dir).getMessage().startsWith(pooling + ": expected exactly one of"));
  }

  /** Rewrites the folder's weights with {@code dtype}, in {@code shards} files with an index when more than one. */
  private static void rewriteWeights(Path dir, DType dtype, int shards) throws IOException {
    try (var manager = NDManager.newBaseManager()) {
      var params = HuggingFaceFolder.readParameters(dir, manager, DataType.FLOAT32);
      try (var old = Files.list(dir)) {
        for (var f : old.filter(f -> f.getFileName().toString().startsWith("model")).toList()) {
          Files.delete(f);
        }
      }
      var names = new ArrayList<>(params.keySet());
      var weightMap = new com.google.gson.JsonObject();
      for (int k = 0; k < shards; k++) {
        var file = shards == 1 ? "model.safetensors"
            : String.format("model-%05d-of-%05d.safetensors", k + 1, shards);
        var part = names.subList(k * names.size() / shards, (k + 1) * names.size() / shards);
        var specs = part.stream().map(n -> new TensorSpec(n, dtype, params.get(n).getShape().getShape())).toList();
        try (var w = SafetensorsWriter.create(dir.resolve(file), specs, Map.of("format", "pt"))) {
          for (var n : part) {
            w.writeFloats(n, params.get(n).toFloatArray());
            weightMap.addProperty(n, file);
          }
        }
      }
      if (shards > 1) {
        var index = new com.google.gson.JsonObject();
        index.add("metadata", new com.google.gson.JsonObject());
        index.add("weight_map", weightMap);
        Files.writeString(dir.resolve("model.safetensors.index.json"), index.toString());
      }
    }
  }

  @Test
  void shardedAndBf16CheckpointsLoad() throws IOException {
    var dir = writeMinilm();
    float[] reference;
    try (var manager = NDManager.newBaseManager()) {
      try (var model = ModelLoader.load(dir.toString(), manager, DataType.FLOAT32)) {
        reference = embed(model, manager);
      }
      rewriteWeights(dir, DType.F32, 3);
      assertTrue(Files.exists(dir.resolve("model-00003-of-00003.safetensors")));
      try (var sharded = ModelLoader.load(dir.toString(), manager, DataType.FLOAT32)) {
        assertTrue(Arrays.equals(reference, embed(sharded, manager)), "sharded checkpoint gives other embeddings");
      }
      rewriteWeights(dir, DType.BF16, 1);
      try (var bf16 = ModelLoader.load(dir.toString(), manager, DataType.FLOAT32)) {
        var e = embed(bf16, manager);
        int h = 384;
        for (int i = 0; i < e.length / h; i++) {
          double dot = 0;
          for (int k = 0; k < h; k++) {
            dot += (double) e[i * h + k] * reference[i * h + k];
          }
          assertTrue(dot > 0.99, "bf16 weights: cosine " + dot + " to the f32 embedding of sentence " + i);
        }
      }
    }
  }

  @Test
  void qwen3FolderRoundTripGivesTheSameEncoder() throws IOException {
    var dir = tmp.resolve("qwen3");
    var tiny = TinyModels.qwen3Config(2);
    var config = new ModelConfig(tiny.family(), tiny.vocabSize(), tiny.hiddenSize(), tiny.numLayers(), tiny.numHeads(),
        tiny.numKvHeads(), tiny.headDim(), tiny.intermediateSize(), tiny.maxPositions(), tiny.normEps(),
        tiny.ropeTheta(), 0, ModelConfig.Pooling.LAST_TOKEN, true, "Instruct: find the definition\nQuery:{q}");
    var hf = JsonParser.parseString("""
        {"architectures": ["Qwen3Model"], "model_type": "qwen3", "hidden_size": 12, "num_attention_heads": 4,
         "num_key_value_heads": 2, "head_dim": 6, "intermediate_size": 20, "rms_norm_eps": 1e-06,
         "rope_theta": 10000.0, "max_position_embeddings": 64, "vocab_size": 40, "num_hidden_layers": 2,
         "tie_word_embeddings": true}""").getAsJsonObject();
    try (var manager = NDManager.newBaseManager()) {
      var encoder = new io.gaprune.model.qwen3.Qwen3Encoder(config,
          TinyModels.parameters(TinyModels.qwen3(manager, tiny, DataType.FLOAT32, 7)));
      var batch = TinyModels.leftPadded(manager, new java.util.Random(3), 5, 2, 7);
      var before = encoder.embed(batch).toFloatArray();
      var tokenizer = TextTokenizer.fromJson(TestModels.resource(KnownModel.MINILM.tokenizerResource), "tok", 64,
          TextTokenizer.PaddingSide.LEFT);
      try (var model = new LoadedModel(encoder, tokenizer, "tiny qwen3", hf)) {
        HuggingFaceWriter.write(model, dir);
      }
      try (var reloaded = ModelLoader.load(dir.toString(), manager, DataType.FLOAT32)) {
        assertTrue(reloaded.encoder() instanceof io.gaprune.model.qwen3.Qwen3Encoder);
        assertEquals(config, reloaded.config());
        assertEquals(TextTokenizer.PaddingSide.LEFT, reloaded.tokenizer().paddingSide());
        assertTrue(reloaded.hfConfig().get("tie_word_embeddings").getAsBoolean(), "unknown fields are kept");
        assertTrue(Arrays.equals(before, reloaded.encoder().embed(batch).toFloatArray()));
      }
    }
  }

  @Test
  void qwen3ConfigFieldsAreParsed() throws IOException {
    var json = JsonParser.parseString("""
        {"model_type": "qwen3", "hidden_size": 1024, "num_attention_heads": 16, "num_key_value_heads": 8,
         "head_dim": 128, "intermediate_size": 3072, "rms_norm_eps": 1e-06, "rope_theta": 1000000,
         "max_position_embeddings": 32768, "vocab_size": 151669, "num_hidden_layers": 28}""").getAsJsonObject();
    var st = new SentenceTransformersConfig(null, false,
        "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:{q}");
    var c = HuggingFaceFolder.qwen3Config(json, Path.of("config.json"), st);
    assertEquals(new ModelConfig(ModelConfig.Family.QWEN3, 151669, 1024, 28, 16, 8, 128, 3072, 32768, 1e-6, 1e6, 0,
        ModelConfig.Pooling.LAST_TOKEN, true, st.queryInstruction()), c);
    json.remove("hidden_size");
    var e = assertThrows(IOException.class, () -> HuggingFaceFolder.qwen3Config(json, Path.of("config.json"), st));
    assertEquals("config.json: missing or non-numeric field \"hidden_size\"", e.getMessage());
  }

  /**
   * The RoPE base read both ways, as transformers reads it: top-level (transformers 4), inside
   * {@code rope_parameters} (transformers 5, which then wins over a top-level value), inside a non-null
   * {@code rope_scaling}; transformers' default 1e4 when none is given; other RoPE types refused by name.
   */
  @Test
  void qwen3RopeThetaIsReadBothWaysAndOtherRopeTypesAreRefused() throws IOException {
    var file = Path.of("m/config.json");
    assertEquals(1e6, theta("\"rope_theta\": 1000000"), 0);
    assertEquals(1e4, theta("\"rope_parameters\": {\"rope_theta\": 10000.0, \"rope_type\": \"default\"}"), 0);
    assertEquals(5e5, theta("\"rope_theta\": 1000000, \"rope_parameters\": {\"rope_theta\": 500000, "
        + "\"rope_type\": \"default\"}"), 0);
    assertEquals(1e6, theta("\"rope_theta\": 1000000, \"rope_parameters\": {\"rope_type\": \"default\"}"), 0);
    assertEquals(1e6, theta("\"rope_theta\": 1000000, \"rope_scaling\": null"), 0);
    assertEquals(2e5, theta("\"rope_theta\": 1000000, \"rope_scaling\": {\"type\": \"default\", "
        + "\"rope_theta\": 200000}"), 0);
    assertEquals(1e4, theta(""), 0);

    var yarn = assertThrows(IOException.class, () -> theta("\"rope_theta\": 1000000, \"rope_scaling\": "
        + "{\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 32768}"));
    assertEquals(file + ": RoPE type 'yarn' (\"rope_scaling\".rope_type) is not supported: only \"default\" "
        + "(plain RoPE with rope_theta) is implemented", yarn.getMessage());
    var linear = assertThrows(IOException.class,
        () -> theta("\"rope_parameters\": {\"rope_theta\": 10000.0, \"type\": \"linear\", \"factor\": 2}"));
    assertTrue(linear.getMessage().contains("RoPE type 'linear' (\"rope_parameters\".type)"), linear.getMessage());
    var nested = assertThrows(IOException.class, () -> theta(
        "\"rope_parameters\": {\"full_attention\": {\"rope_theta\": 10000.0, \"rope_type\": \"default\"}}"));
    assertTrue(nested.getMessage().contains("per-layer-type RoPE settings (\"full_attention\")"), nested.getMessage());
    var negative = assertThrows(IOException.class,
        () -> theta("\"rope_parameters\": {\"rope_theta\": -1, \"rope_type\": \"default\"}"));
    assertEquals(file + ": field \"rope_parameters.rope_theta\" must be a positive number, got -1",
        negative.getMessage());
    var notObject = assertThrows(IOException.class, () -> theta("\"rope_parameters\": 10000"));
    assertEquals(file + ": field \"rope_parameters\" must be an object or null, got 10000", notObject.getMessage());
  }

  private static double theta(String ropeFields) throws IOException {
    var json = JsonParser.parseString("""
        {"model_type": "qwen3", "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
         "head_dim": 16, "intermediate_size": 128, "rms_norm_eps": 1e-06, "max_position_embeddings": 256,
         "vocab_size": 512, "num_hidden_layers": 2%s}""".formatted(ropeFields.isEmpty() ? "" : ", " + ropeFields))
        .getAsJsonObject();
    var st = new SentenceTransformersConfig(null, false, "");
    return HuggingFaceFolder.qwen3Config(json, Path.of("m/config.json"), st).ropeTheta();
  }
}
