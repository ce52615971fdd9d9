package io.gaprune.model.qwen3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.gaprune.model.Batch;
import io.gaprune.model.ModelConfig;
import io.gaprune.model.TinyModels;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Qwen3EncoderTest {

  /**
   * The forward pass equals an independent numpy transcription of Hugging Face's modeling_qwen3 (GQA
   * head mapping, rotate_half layout, q/k norms, SwiGLU) on a tiny random model with left padding.
   */
  @Test
  void matchesTheNumpyTranscriptionOfHuggingFace() throws Exception {
    JsonObject reference;
    try (var in = getClass().getResourceAsStream("/qwen3-reference.json")) {
      reference = JsonParser.parseReader(new InputStreamReader(in, StandardCharsets.UTF_8)).getAsJsonObject();
    }
    var c = reference.getAsJsonObject("config");
    var config = new ModelConfig(ModelConfig.Family.QWEN3, c.get("vocab_size").getAsInt(),
        c.get("hidden_size").getAsInt(), c.get("num_hidden_layers").getAsInt(),
        c.get("num_attention_heads").getAsInt(), c.get("num_key_value_heads").getAsInt(),
        c.get("head_dim").getAsInt(), c.get("intermediate_size").getAsInt(),
        c.get("max_position_embeddings").getAsInt(), c.get("rms_norm_eps").getAsDouble(),
        c.get("rope_theta").getAsDouble(), 0, ModelConfig.Pooling.LAST_TOKEN, true, Qwen3Encoder.QUERY_INSTRUCTION);
    try (var manager = NDManager.newBaseManager()) {
      var parameters = new LinkedHashMap<String, NDArray>();
      for (var e : reference.getAsJsonObject("parameters").entrySet()) {
        var p = e.getValue().getAsJsonObject();
        var shape = new Shape(new com.google.gson.Gson().fromJson(p.get("shape"), long[].class));
        parameters.put(e.getKey(), manager.create(doubles(p, "values"), shape));
      }
      var encoder = new Qwen3Encoder(config, parameters); // names carry "model.": stripped
      var ids = new com.google.gson.Gson().fromJson(reference.get("input_ids"), long[][].class);
      var mask = new com.google.gson.Gson().fromJson(reference.get("attention_mask"), long[][].class);
      var batch = new Batch(manager.create(ids), manager.create(mask), null);

      assertArrayEquals(doubles(reference, "embeddings"), encoder.embed(batch).toDoubleArray(), 1e-12);
      var hidden = encoder.hiddenStates(batch).toDoubleArray();
      var expected = doubles(reference, "last_hidden_state");
      int width = config.hiddenSize();
      int seq = ids[0].length;
      for (int r = 0; r < ids.length; r++) {
        for (int t = 0; t < seq; t++) {
          if (mask[r][t] == 0) {
            continue; // padding states are never read; HF and this encoder fill them differently
          }
          int at = (r * seq + t) * width;
          for (int i = 0; i < width; i++) {
            assertEquals(expected[at + i], hidden[at + i], 1e-12, "row " + r + " token " + t + " dim " + i);
          }
        }
      }
    }
  }

  @Test
  void laterTokensNeverChangeEarlierStates() {
    try (var manager = NDManager.newBaseManager()) {
      var encoder = TinyModels.qwen3(manager, TinyModels.qwen3Config(2), DataType.FLOAT64, 3);
      long[] tokens = {5, 9, 13, 2, 7, 30};
      var before = states(encoder, manager, tokens);
      tokens[4] = 21;
      var after = states(encoder, manager, tokens);
      int width = encoder.config().hiddenSize();
      for (int t = 0; t < tokens.length; t++) {
        var b = java.util.Arrays.copyOfRange(before, t * width, (t + 1) * width);
        var a = java.util.Arrays.copyOfRange(after, t * width, (t + 1) * width);
        if (t < 4) {
          assertArrayEquals(b, a, 0.0, "token " + t + " saw a later token");
        } else {
          assertTrue(maxDifference(a, b) > 1e-3, "token " + t + " did not see the change at 4");
        }
      }
    }
  }

  @Test
  void leftPaddingDoesNotChangeThePooledEmbedding() {
    for (var dtype : new DataType[] {DataType.FLOAT64, DataType.FLOAT32}) {
      try (var manager = NDManager.newBaseManager()) {
        var encoder = TinyModels.qwen3(manager, TinyModels.qwen3Config(2), dtype, 4);
        long[] shortOne = {8, 3, 17};
        long[] longOne = {4, 4, 22, 9, 35, 1, 12};
        var alone = encoder.embed(batch(manager, new long[][] {shortOne})).toType(DataType.FLOAT64, false)
            .toDoubleArray();
        var padded = encoder.embed(batch(manager, new long[][] {shortOne, longOne}));
        var row = padded.get(new NDIndex("0")).toType(DataType.FLOAT64, false).toDoubleArray();
        assertArrayEquals(alone, row, dtype == DataType.FLOAT64 ? 1e-13 : 2e-6, dtype.toString());
        var other = padded.get(new NDIndex("1")).toType(DataType.FLOAT64, false).toDoubleArray();
        assertTrue(maxDifference(alone, other) > 1e-2, "the two rows should differ");
        assertEquals(dtype, padded.getDataType());
      }
    }
  }

  @Test
  void rejectsMissingMisshapenAndUnexpectedTensors() {
    try (var manager = NDManager.newBaseManager()) {
      var config = TinyModels.qwen3Config(1);
      var good = TinyModels.parameters(TinyModels.qwen3(manager, config, DataType.FLOAT32, 1));

      var missing = new LinkedHashMap<>(good);
      missing.remove("layers.0.self_attn.k_norm.weight");
      assertMessage(config, missing, "missing (1): [layers.0.self_attn.k_norm.weight]");

      var misshapen = new LinkedHashMap<>(good);
      misshapen.put("layers.0.self_attn.k_proj.weight", manager.zeros(new Shape(24, 12)));
      assertMessage(config, misshapen, "layers.0.self_attn.k_proj.weight: expected shape (12, 12), got (24, 12)");

      var extra = new LinkedHashMap<>(good);
      extra.put("lm_head.weight", manager.zeros(new Shape(40, 12)));
      assertMessage(config, extra, "unexpected Qwen3 parameter lm_head.weight");

      var mixed = new LinkedHashMap<>(good);
      mixed.put("norm.weight", manager.ones(new Shape(12), DataType.FLOAT64));
      assertMessage(config, mixed, "norm.weight has dtype float64");

      var twice = new LinkedHashMap<>(good);
      twice.put("model.norm.weight", good.get("norm.weight"));
      assertMessage(config, twice, "norm.weight given twice");
    }
  }

  private static void assertMessage(ModelConfig config, java.util.Map<String, NDArray> parameters, String part) {
    var e = assertThrows(IllegalArgumentException.class, () -> new Qwen3Encoder(config, parameters));
    assertTrue(e.getMessage().contains(part), e.getMessage());
  }

  private static double[] states(Qwen3Encoder encoder, NDManager manager, long[] tokens) {
    return encoder.hiddenStates(batch(manager, new long[][] {tokens})).toDoubleArray();
  }

  /** Left-pads the rows with id 0 to the longest. */
  private static Batch batch(NDManager manager, long[][] rows) {
    int seq = 0;
    for (var r : rows) {
      seq = Math.max(seq, r.length);
    }
    var ids = new long[rows.length][seq];
    var mask = new long[rows.length][seq];
    for (int i = 0; i < rows.length; i++) {
      for (int j = 0; j < rows[i].length; j++) {
        ids[i][seq - rows[i].length + j] = rows[i][j];
        mask[i][seq - rows[i].length + j] = 1;
      }
    }
    return new Batch(manager.create(ids), manager.create(mask), null);
  }

  private static double maxDifference(double[] a, double[] b) {
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      max = Math.max(max, Math.abs(a[i] - b[i]));
    }
    return max;
  }

  private static double[] doubles(JsonObject o, String field) {
    var array = o.getAsJsonArray(field);
    var values = new double[array.size()];
    for (int i = 0; i < values.length; i++) {
      values[i] = array.get(i).getAsDouble();
    }
    return values;
  }
}
