package io.gaprune.model.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.Batch;
import io.gaprune.model.KnownModel;
import io.gaprune.model.ModelConfig;
import io.gaprune.model.TestModels;
import java.util.HashMap;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The DJL forward pass against ONNX Runtime running the exported graph, on the real weights. */
class BertOnnxParityTest {

  @ParameterizedTest
  @EnumSource(KnownModel.class)
  void lastHiddenStateAndPooledEmbeddingMatchOnnxRuntime(KnownModel model) throws Exception {
    var config = TestModels.config(model);
    var env = OrtEnvironment.getEnvironment();
    try (var manager = NDManager.newBaseManager();
        var session = env.createSession(TestModels.resource(model.onnxResource), new OrtSession.SessionOptions());
        var tokenizer = TestModels.tokenizer(model, 128)) {
      assertEquals(Set.of("input_ids", "attention_mask", "token_type_ids"), session.getInputNames(),
          model + " graph inputs");
      var hiddenOutput = hiddenStateOutput(session);
      var encoder = new BertEncoder(config, TestModels.parameters(model, manager, DataType.FLOAT32));
      manager.cap(); // any intermediate that lands in the parameters' manager now throws
      try (var step = manager.newSubManager()) {
        var batch = tokenizer.encode(TestModels.SENTENCES, step);
        int b = (int) batch.inputIds().getShape().get(0);
        int s = (int) batch.inputIds().getShape().get(1);
        var mask = batch.attentionMask().toLongArray();
        assertTrue(s > 30 && mask[s - 1] == 0, "the batch must mix lengths (padding present)");

        float[][][] expected = runOrt(env, session, hiddenOutput, batch, b, s);
        var hidden = encoder.hiddenStates(batch);
        assertEquals(DataType.FLOAT32, hidden.getDataType());
        var actual = hidden.toFloatArray();
        int h = config.hiddenSize();
        double maxDiff = 0;
        for (int i = 0; i < b; i++) {
          for (int t = 0; t < s; t++) {
            if (mask[i * s + t] == 0) {
              continue;
            }
            for (int k = 0; k < h; k++) {
              maxDiff = Math.max(maxDiff, Math.abs(expected[i][t][k] - actual[(i * s + t) * h + k]));
            }
          }
        }
        System.out.printf("%s: max |Δ last_hidden_state| = %.3g over %d×%d tokens%n", model, maxDiff, b, s);
        assertTrue(maxDiff <= 1e-4, model + ": max abs difference " + maxDiff);

        var pooled = encoder.embed(batch).toFloatArray();
        for (int i = 0; i < b; i++) {
          var ref = pool(expected[i], mask, i, s, config.pooling());
          double dot = 0;
          double na = 0;
          double nb = 0;
          for (int k = 0; k < h; k++) {
            dot += ref[k] * pooled[i * h + k];
            na += ref[k] * ref[k];
            nb += (double) pooled[i * h + k] * pooled[i * h + k];
          }
          assertEquals(1.0, nb, 1e-5, "normalised embedding");
          double cosine = dot / Math.sqrt(na * nb);
          assertTrue(cosine >= 0.99999, model + " sentence " + i + ": pooled cosine " + cosine);
        }
      }
    }
  }

  /**
   * The graph output holding the token states: named last_hidden_state (bge export) or the one rank-3 output
   * (the MiniLM export calls it output_0, beside the pooler's 2-D output).
   */
  private static String hiddenStateOutput(OrtSession session) throws Exception {
    var rank3 = new java.util.ArrayList<String>();
    for (var e : session.getOutputInfo().entrySet()) {
      if (e.getValue().getInfo() instanceof TensorInfo t && t.getShape().length == 3) {
        rank3.add(e.getKey());
      }
    }
    if (rank3.contains("last_hidden_state")) {
      return "last_hidden_state";
    }
    assertEquals(1, rank3.size(), "rank-3 outputs of the graph: " + session.getOutputInfo());
    return rank3.get(0);
  }

  private static float[][][] runOrt(OrtEnvironment env, OrtSession session, String output, Batch batch, int b,
      int s) throws Exception {
    var inputs = new HashMap<String, OnnxTensor>();
    try {
      inputs.put("input_ids", tensor(env, batch.inputIds().toLongArray(), b, s));
      inputs.put("attention_mask", tensor(env, batch.attentionMask().toLongArray(), b, s));
      inputs.put("token_type_ids", tensor(env, batch.tokenTypeIds().toLongArray(), b, s));
      try (var result = session.run(inputs)) {
        return (float[][][]) result.get(output).orElseThrow().getValue();
      }
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  private static OnnxTensor tensor(OrtEnvironment env, long[] flat, int b, int s) throws Exception {
    var rows = new long[b][s];
    for (int i = 0; i < b; i++) {
      System.arraycopy(flat, i * s, rows[i], 0, s);
    }
    return OnnxTensor.createTensor(env, rows);
  }

  /** The reference pooling in plain Java over ONNX Runtime's states. */
  private static double[] pool(float[][] states, long[] mask, int row, int s, ModelConfig.Pooling pooling) {
    var out = new double[states[0].length];
    if (pooling == ModelConfig.Pooling.CLS) {
      for (int k = 0; k < out.length; k++) {
        out[k] = states[0][k];
      }
      return out;
    }
    int count = 0;
    for (int t = 0; t < s; t++) {
      if (mask[row * s + t] == 1) {
        count++;
        for (int k = 0; k < out.length; k++) {
          out[k] += states[t][k];
        }
      }
    }
    for (int k = 0; k < out.length; k++) {
      out[k] /= count;
    }
    return out;
  }
}
