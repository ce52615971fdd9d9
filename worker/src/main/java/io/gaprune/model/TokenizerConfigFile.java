package io.gaprune.model;

import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The {@code tokenizer_config.json} of a written model folder: what transformers' {@code AutoTokenizer} reads
 * beside {@code tokenizer.json}. Without it {@code model_max_length} is 1e30, so {@code truncation=True} cuts
 * nothing and a text longer than the position table fails inside the model.
 *
 * <p>A folder that came with one keeps it as it was (the upstream file is the reference), completed only where
 * a key this project relies on is missing ({@code model_max_length}, {@code padding_side}). A model without one
 * (the class-path exports, a bare folder) gets the file upstream ships for its family:
 * <ul>
 *   <li>BERT, as sentence-transformers/all-MiniLM-L6-v2 and BAAI/bge-small-en-v1.5 ship it:
 *       {@code BertTokenizer}, {@code model_max_length} = the position table (512), {@code do_lower_case} from
 *       the tokenizer's normaliser, right padding, and the special tokens {@code [CLS] [SEP] [PAD] [UNK] [MASK]}
 *       as the tokenizer names them.</li>
 *   <li>Qwen3, as Qwen3-Embedding ships it: left padding, {@code eos_token} {@code <|im_end|>} and
 *       {@code pad_token} {@code <|endoftext|>} when the vocabulary has them, {@code model_max_length} = the
 *       position table. Its class is {@code PreTrainedTokenizerFast}, which transformers 4 and 5 both load from
 *       {@code tokenizer.json} as it is; {@code Qwen2Tokenizer} in transformers 5 rebuilds the pre-tokenizer
 *       from its own regular expression and would not be the tokenizer this project ran.</li>
 * </ul>
 */
public final class TokenizerConfigFile {

  private TokenizerConfigFile() {}

  /** The file's content for {@code model}: its upstream file completed, or the family's as upstream ships it. */
  public static JsonObject of(LoadedModel model) {
    var config = model.config();
    var tokenizer = model.tokenizer();
    var upstream = model.tokenizerConfig();
    if (upstream != null) {
      var out = upstream.deepCopy();
      if (!out.has("model_max_length") || out.get("model_max_length").isJsonNull()) {
        out.addProperty("model_max_length", config.maxPositions());
      }
      if (!out.has("padding_side")) {
        out.addProperty("padding_side", sideName(tokenizer.paddingSide()));
      }
      return out;
    }
    var json = parse(tokenizer.json());
    var tokens = specialTokens(json);
    var out = new JsonObject();
    if (config.family() == ModelConfig.Family.BERT) {
      out.addProperty("tokenizer_class", "BertTokenizer");
      out.addProperty("do_lower_case", lowercases(json));
      out.addProperty("model_max_length", config.maxPositions());
      out.addProperty("padding_side", sideName(tokenizer.paddingSide()));
      out.addProperty("truncation_side", "right");
      addToken(out, "cls_token", tokens, "[CLS]");
      addToken(out, "sep_token", tokens, "[SEP]");
      addToken(out, "pad_token", tokens, padToken(json, "[PAD]"));
      addToken(out, "unk_token", tokens, unkToken(json, "[UNK]"));
      addToken(out, "mask_token", tokens, "[MASK]");
      out.addProperty("tokenize_chinese_chars", true);
      out.add("strip_accents", JsonNull.INSTANCE);
      out.addProperty("clean_up_tokenization_spaces", true);
    } else {
      out.addProperty("tokenizer_class", "PreTrainedTokenizerFast");
      out.addProperty("model_max_length", config.maxPositions());
      out.addProperty("padding_side", sideName(tokenizer.paddingSide()));
      out.addProperty("truncation_side", "right");
      addToken(out, "eos_token", tokens, tokens.contains("<|im_end|>") ? "<|im_end|>" : "<|endoftext|>");
      addToken(out, "pad_token", tokens, padToken(json, "<|endoftext|>"));
      out.addProperty("clean_up_tokenization_spaces", false);
    }
    return out;
  }

  private static JsonObject parse(byte[] tokenizerJson) {
    try {
      return JsonParser.parseString(new String(tokenizerJson, StandardCharsets.UTF_8)).getAsJsonObject();
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("tokenizer.json is not a JSON object: " + e.getMessage(), e);
    }
  }

  private static String sideName(TextTokenizer.PaddingSide side) {
    return side == TextTokenizer.PaddingSide.LEFT ? "left" : "right";
  }

  /** The contents of the tokenizer's added tokens (where special tokens live in a {@code tokenizer.json}). */
  static Set<String> specialTokens(JsonObject json) {
    var out = new LinkedHashSet<String>();
    var added = json.get("added_tokens");
    if (added != null && added.isJsonArray()) {
      for (var e : added.getAsJsonArray()) {
        var content = e.isJsonObject() ? e.getAsJsonObject().get("content") : null;
        if (content != null && content.isJsonPrimitive()) {
          out.add(content.getAsString());
        }
      }
    }
    return out;
  }

  /** Whether the normaliser lower-cases: a {@code BertNormalizer} with {@code lowercase}, or a {@code Lowercase} step. */
  static boolean lowercases(JsonObject json) {
    return lowercases(json.get("normalizer"));
  }

  private static boolean lowercases(JsonElement normalizer) {
    if (normalizer == null || !normalizer.isJsonObject()) {
      return false;
    }
    var n = normalizer.getAsJsonObject();
    var type = n.has("type") ? n.get("type").getAsString() : "";
    switch (type) {
      case "BertNormalizer" -> {
        return n.has("lowercase") && n.get("lowercase").getAsBoolean();
      }
      case "Lowercase" -> {
        return true;
      }
      case "Sequence" -> {
        if (n.has("normalizers")) {
          for (var step : n.getAsJsonArray("normalizers")) {
            if (lowercases(step)) {
              return true;
            }
          }
        }
        return false;
      }
      default -> {
        return false;
      }
    }
  }

  private static String padToken(JsonObject json, String fallback) {
    var padding = json.get("padding");
    if (padding != null && padding.isJsonObject() && padding.getAsJsonObject().has("pad_token")) {
      return padding.getAsJsonObject().get("pad_token").getAsString();
    }
    return fallback;
  }

  private static String unkToken(JsonObject json, String fallback) {
    var model = json.get("model");
    if (model != null && model.isJsonObject()) {
      var unk = model.getAsJsonObject().get("unk_token");
      if (unk != null && unk.isJsonPrimitive()) {
        return unk.getAsString();
      }
    }
    return fallback;
  }

  /** Names {@code token} under {@code key} when the tokenizer has it; a token it lacks is left out, not invented. */
  private static void addToken(JsonObject out, String key, Set<String> tokens, String token) {
    if (tokens.contains(token)) {
      out.addProperty(key, token);
    }
  }
}
