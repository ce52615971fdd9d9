package io.gaprune.model;

import io.gaprune.model.LayerType;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class LayerTypeTest {

  static final long[] MATRIX = {4, 4};
  static final long[] VECTOR = {4};

  static final List<String> BERT = List.of(
      "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
      "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
      "encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.key.weight",
      "encoder.layer.0.attention.self.value.weight", "encoder.layer.0.attention.output.dense.weight",
      "encoder.layer.0.attention.output.LayerNorm.weight", "encoder.layer.0.intermediate.dense.weight",
      "encoder.layer.0.output.dense.weight", "encoder.layer.0.output.LayerNorm.weight",
      "encoder.layer.11.intermediate.dense.weight", "pooler.dense.weight");

  static final List<String> QWEN3 = List.of(
      "embed_tokens.weight", "layers.0.input_layernorm.weight", "layers.0.self_attn.q_proj.weight",
      "layers.0.self_attn.k_proj.weight", "layers.0.self_attn.v_proj.weight", "layers.0.self_attn.o_proj.weight",
      "layers.0.self_attn.q_norm.weight", "layers.0.self_attn.k_norm.weight", "layers.0.post_attention_layernorm.weight",
      "layers.0.mlp.gate_proj.weight", "layers.0.mlp.up_proj.weight", "layers.0.mlp.down_proj.weight",
      "layers.35.mlp.down_proj.weight", "norm.weight");

  static Set<String> matching(LayerType t, List<String> names) {
    return names.stream().filter(t::matches).collect(Collectors.toSet());
  }

  @Test
  void bertNames() {
    assertEquals(Set.of("encoder.layer.0.intermediate.dense.weight", "encoder.layer.0.output.dense.weight",
        "encoder.layer.11.intermediate.dense.weight"), matching(LayerType.MLP, BERT));
    assertEquals(Set.of("encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.key.weight",
        "encoder.layer.0.attention.self.value.weight", "encoder.layer.0.attention.output.dense.weight"),
        matching(LayerType.ATTENTION, BERT));
    assertEquals(Set.of("embeddings.LayerNorm.weight", "encoder.layer.0.attention.output.LayerNorm.weight",
        "encoder.layer.0.output.LayerNorm.weight"), matching(LayerType.LAYERNORM, BERT));
    assertEquals(Set.of("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight"), matching(LayerType.EMBED, BERT));
    assertEquals(Set.of(), matching(LayerType.FINAL_NORM, BERT));
    // with a model prefix too
    assertTrue(LayerType.MLP.matches("bert.encoder.layer.3.output.dense.weight"));
    assertFalse(LayerType.MLP.matches("bert.encoder.layer.3.attention.output.dense.weight"));
  }

  @Test
  void qwen3Names() {
    assertEquals(Set.of("layers.0.mlp.gate_proj.weight", "layers.0.mlp.up_proj.weight",
        "layers.0.mlp.down_proj.weight", "layers.35.mlp.down_proj.weight"), matching(LayerType.MLP, QWEN3));
    assertEquals(Set.of("layers.0.self_attn.q_proj.weight", "layers.0.self_attn.k_proj.weight",
        "layers.0.self_attn.v_proj.weight", "layers.0.self_attn.o_proj.weight"), matching(LayerType.ATTENTION, QWEN3));
    assertEquals(Set.of("layers.0.input_layernorm.weight", "layers.0.post_attention_layernorm.weight",
        "layers.0.self_attn.q_norm.weight", "layers.0.self_attn.k_norm.weight"), matching(LayerType.LAYERNORM, QWEN3));
    assertEquals(Set.of("embed_tokens.weight"), matching(LayerType.EMBED, QWEN3));
    assertEquals(Set.of("norm.weight"), matching(LayerType.FINAL_NORM, QWEN3));
    assertTrue(LayerType.FINAL_NORM.matches("model.norm.weight"));
    assertTrue(LayerType.MLP.matches("model.layers.2.mlp.up_proj.weight"));
  }

  @Test
  void unionsAndCandidates() {
    assertEquals(EnumSet.of(LayerType.MLP, LayerType.ATTENTION), LayerType.parse("linear"));
    assertEquals(EnumSet.of(LayerType.MLP, LayerType.ATTENTION, LayerType.LAYERNORM, LayerType.EMBED),
        LayerType.parse("all"));
    assertEquals(EnumSet.of(LayerType.MLP, LayerType.EMBED), LayerType.parse("mlp, embed"));
    // only 2+ dimensions: norms never are candidates
    assertTrue(LayerType.isCandidate(LayerType.parse("all"), "layers.0.mlp.up_proj.weight", MATRIX));
    assertFalse(LayerType.isCandidate(LayerType.parse("all"), "layers.0.input_layernorm.weight", VECTOR));
    assertFalse(LayerType.isCandidate(LayerType.parse("mlp"), "layers.0.mlp.up_proj.bias", VECTOR));
    assertFalse(LayerType.isCandidate(LayerType.parse("mlp"), "layers.0.self_attn.q_proj.weight", MATRIX));
  }

  @Test
  void groupsAreBlocks() {
    assertEquals("layer.0", LayerType.group("encoder.layer.0.output.dense.weight"));
    assertEquals("layer.11", LayerType.group("encoder.layer.11.attention.self.query.weight"));
    assertEquals("layer.35", LayerType.group("model.layers.35.mlp.down_proj.weight"));
    assertEquals("embeddings", LayerType.group("embeddings.word_embeddings.weight"));
    assertEquals("embeddings", LayerType.group("embed_tokens.weight"));
    assertEquals("final_norm", LayerType.group("norm.weight"));
    assertEquals("other", LayerType.group("pooler.dense.weight"));
  }

  @Test
  void unknownLayerTypeListsTheValidOnes() {
    var e = assertThrows(IllegalArgumentException.class, () -> LayerType.parse("mlp,conv"));
    assertTrue(e.getMessage().contains("\"conv\"") && e.getMessage().contains(LayerType.VALID), e.getMessage());
  }
}
