package io.gaprune.model;

import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a sentence-transformers folder says about pooling: {@code modules.json} names a Pooling module
 * (its {@code config.json} holds {@code pooling_mode_*} flags) and optionally a Normalize module;
 * {@code config_sentence_transformers.json} may hold a query prompt.
 *
 * @param pooling the pooling mode, or null when the folder has no sentence-transformers files
 * @param normalize whether a Normalize module follows the pooling
 * @param queryInstruction the query prompt as a template ({@code prompt + "{q}"}), or empty
 */
record SentenceTransformersConfig(ModelConfig.Pooling pooling, boolean normalize, String queryInstruction) {

  static final String POOLING_TYPE = "sentence_transformers.models.Pooling";
  static final String NORMALIZE_TYPE = "sentence_transformers.models.Normalize";

  static SentenceTransformersConfig read(Path dir) throws IOException {
    var instruction = "";
    var stConfig = dir.resolve("config_sentence_transformers.json");
    if (Files.isRegularFile(stConfig)) {
      var prompts = HuggingFaceFolder.readJson(stConfig).get("prompts");
      if (prompts != null && prompts.isJsonObject() && prompts.getAsJsonObject().has("query")) {
        var q = prompts.getAsJsonObject().get("query").getAsString();
        instruction = q.isEmpty() ? "" : q + "{q}";
      }
    }
    var modulesFile = dir.resolve("modules.json");
    if (!Files.isRegularFile(modulesFile)) {
      return new SentenceTransformersConfig(null, false, instruction);
    }
    com.google.gson.JsonArray modules;
    try {
      modules = com.google.gson.JsonParser.parseString(Files.readString(modulesFile)).getAsJsonArray();
    } catch (RuntimeException e) {
      throw new IOException(modulesFile + ": expected a JSON array of modules (" + e.getMessage() + ")", e);
    }
    ModelConfig.Pooling pooling = null;
    boolean normalize = false;
    for (var m : modules) {
      var module = m.getAsJsonObject();
      var type = module.has("type") ? module.get("type").getAsString() : "";
      if (type.equals(POOLING_TYPE)) {
        var poolingFile = dir.resolve(module.get("path").getAsString()).resolve("config.json");
        pooling = poolingMode(HuggingFaceFolder.readJson(poolingFile), poolingFile);
      } else if (type.equals(NORMALIZE_TYPE)) {
        normalize = true;
      }
    }
    if (pooling == null) {
      throw new IOException(modulesFile + ": no " + POOLING_TYPE + " module");
    }
    return new SentenceTransformersConfig(pooling, normalize, instruction);
  }

  private static ModelConfig.Pooling poolingMode(JsonObject c, Path file) throws IOException {
    var modes = new java.util.ArrayList<ModelConfig.Pooling>();
    if (flag(c, "pooling_mode_cls_token")) {
      modes.add(ModelConfig.Pooling.CLS);
    }
    if (flag(c, "pooling_mode_mean_tokens")) {
      modes.add(ModelConfig.Pooling.MEAN);
    }
    if (flag(c, "pooling_mode_lasttoken")) {
      modes.add(ModelConfig.Pooling.LAST_TOKEN);
    }
    for (var unsupported : new String[] {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens"}) {
      if (flag(c, unsupported)) {
        throw new IOException(file + ": " + unsupported + " is not supported (cls, mean or last token)");
      }
    }
    if (modes.size() != 1) {
      throw new IOException(file + ": expected exactly one of pooling_mode_cls_token, pooling_mode_mean_tokens, "
          + "pooling_mode_lasttoken to be true, got " + modes);
    }
    return modes.get(0);
  }

  private static boolean flag(JsonObject c, String name) {
    return c.has(name) && c.get(name).isJsonPrimitive() && c.get(name).getAsBoolean();
  }
}
