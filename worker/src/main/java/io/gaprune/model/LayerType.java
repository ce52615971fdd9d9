package io.gaprune.model;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The kinds of tensors pruning may select, matched on Hugging Face parameter names of both families (BERT and
 * Qwen3), with or without a leading {@code model.}/{@code bert.} prefix. {@code linear} and {@code all} are
 * unions; {@code all} is every kind but {@code final_norm} (as in the reference implementation). Only tensors
 * with at least two dimensions are candidates, so norms (1-D) never are, whatever is asked.
 */
public enum LayerType {
  /** BERT {@code layer.N.intermediate.dense} and {@code layer.N.output.dense}; Qwen3 {@code mlp.{gate,up,down}_proj}. */
  MLP("(^|\\.)layers?\\.\\d+\\.(intermediate|output)\\.dense\\.|(^|\\.)mlp\\.(gate_proj|up_proj|down_proj)\\."),
  /** BERT {@code attention.self.{query,key,value}}, {@code attention.output.dense}; Qwen3 {@code self_attn.{q,k,v,o}_proj}. */
  ATTENTION("(^|\\.)attention\\.self\\.(query|key|value)\\.|(^|\\.)attention\\.output\\.dense\\."
      + "|(^|\\.)self_attn\\.(q_proj|k_proj|v_proj|o_proj)\\."),
  /** BERT {@code LayerNorm}; Qwen3 {@code input_layernorm}, {@code post_attention_layernorm}, {@code q_norm}, {@code k_norm}. */
  LAYERNORM("(^|\\.)LayerNorm\\.|_layernorm\\.|(^|\\.)(q_norm|k_norm)\\."),
  /** BERT {@code embeddings.*} (but its LayerNorm); Qwen3 {@code embed_tokens}. */
  EMBED("(^|\\.)embeddings\\.(?!LayerNorm\\.)|(^|\\.)embed_tokens\\."),
  /** Qwen3's final {@code norm.weight} (the top-level one, not a block's). */
  FINAL_NORM("^(model\\.)?norm\\.");

  private final Pattern pattern;

  LayerType(String regex) {
    this.pattern = Pattern.compile(regex);
  }

  public boolean matches(String tensorName) {
    return pattern.matcher(tensorName).find();
  }

  /** The names accepted by {@link #parse}: the five kinds and the unions {@code linear} and {@code all}. */
  public static final String VALID = "mlp, attention, layernorm, embed, final_norm, linear, all";

  /**
   * Parses a comma-separated list such as {@code "mlp"}, {@code "linear"} or {@code "mlp,embed"}.
   *
   * @throws IllegalArgumentException for an unknown name, listing the valid ones
   */
  public static Set<LayerType> parse(String spec) {
    var out = EnumSet.noneOf(LayerType.class);
    for (String raw : spec.split(",")) {
      String s = raw.trim().toLowerCase(Locale.ROOT);
      switch (s) {
        case "mlp" -> out.add(MLP);
        case "attention" -> out.add(ATTENTION);
        case "layernorm" -> out.add(LAYERNORM);
        case "embed" -> out.add(EMBED);
        case "final_norm" -> out.add(FINAL_NORM);
        case "linear" -> out.addAll(EnumSet.of(MLP, ATTENTION));
        case "all" -> out.addAll(EnumSet.complementOf(EnumSet.of(FINAL_NORM)));
        default -> throw new IllegalArgumentException("unknown layer type \"" + raw.trim() + "\" (valid: " + VALID
            + ")");
      }
    }
    return out;
  }

  /** Whether {@code name} of this shape is a pruning candidate for these layer types. */
  public static boolean isCandidate(Set<LayerType> types, String name, long[] shape) {
    if (shape.length < 2) {
      return false;
    }
    for (var t : types) {
      if (t.matches(name)) {
        return true;
      }
    }
    return false;
  }

  private static final Pattern BLOCK = Pattern.compile("(^|\\.)(layer|layers|h|blocks)\\.(\\d+)\\.");

  /**
   * The budget group of a tensor: {@code layer.N} for transformer block N (BERT {@code encoder.layer.N.},
   * Qwen3 {@code layers.N.}); tensors outside the blocks form one group per kind: {@code embeddings},
   * {@code final_norm}, and {@code other} for the rest (a pooler, say).
   */
  public static String group(String name) {
    var m = BLOCK.matcher(name);
    if (m.find()) {
      return "layer." + Integer.parseInt(m.group(3));
    }
    if (EMBED.matches(name) || name.contains("embeddings.")) {
      return "embeddings";
    }
    if (FINAL_NORM.matches(name)) {
      return "final_norm";
    }
    return "other";
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static String describe(Set<LayerType> types) {
    return Arrays.stream(values()).filter(types::contains).map(LayerType::toString)
        .collect(Collectors.joining(","));
  }
}
