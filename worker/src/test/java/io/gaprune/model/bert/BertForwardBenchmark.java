package io.gaprune.model.bert;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.ModelLoader;
import java.util.ArrayList;
import java.util.Collections;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Forward-pass time of the real MiniLM, 24 sequences × 128 tokens (the shape STACK.md measured), median of 7
 * after 2 warm-up runs. Run: {@code mvn -B -ntp -Pbench -pl worker -am verify -Dtest=BertForwardBenchmark
 * -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("bench")
class BertForwardBenchmark {

  @Test
  void minilmForward24x128() throws Exception {
    try (var manager = NDManager.newBaseManager(); var model = ModelLoader.load("minilm", manager, DataType.FLOAT32, 128)) {
      var text = "benzene ".repeat(200); // truncated to exactly 128 word pieces
      var texts = Collections.nCopies(24, text);
      var times = new ArrayList<Double>();
      for (int i = 0; i < 9; i++) {
        try (var step = manager.newSubManager()) {
          var batch = model.tokenizer().encode(texts, step);
          long t0 = System.nanoTime();
          model.encoder().hiddenStates(batch).toFloatArray();
          if (i >= 2) {
            times.add((System.nanoTime() - t0) / 1e9);
          }
        }
      }
      Collections.sort(times);
      System.out.printf("minilm forward 24x128 (DJL/PyTorch): median %.3f s (min %.3f, max %.3f)%n", times.get(3),
          times.get(0), times.get(6));

      // ONNX Runtime on the same inputs, interleaved in the same load conditions
      var env = ai.onnxruntime.OrtEnvironment.getEnvironment();
      try (var session = env.createSession(io.gaprune.model.TestModels.resource("all-minilm-l6-v2.onnx"),
          new ai.onnxruntime.OrtSession.SessionOptions());
          var step = manager.newSubManager()) {
        var batch = model.tokenizer().encode(texts, step);
        var ids = new long[24][128];
        var mask = new long[24][128];
        var types = new long[24][128];
        var flat = batch.inputIds().toLongArray();
        for (int r = 0; r < 24; r++) {
          System.arraycopy(flat, r * 128, ids[r], 0, 128);
          java.util.Arrays.fill(mask[r], 1L);
        }
        var ort = new ArrayList<Double>();
        for (int i = 0; i < 9; i++) {
          try (var a = ai.onnxruntime.OnnxTensor.createTensor(env, ids);
              var b = ai.onnxruntime.OnnxTensor.createTensor(env, mask);
              var c = ai.onnxruntime.OnnxTensor.createTensor(env, types)) {
            long t0 = System.nanoTime();
            try (var out = session.run(java.util.Map.of("input_ids", a, "attention_mask", b, "token_type_ids", c))) {
              out.get(0).getValue();
            }
            if (i >= 2) {
              ort.add((System.nanoTime() - t0) / 1e9);
            }
          }
        }
        Collections.sort(ort);
        System.out.printf("minilm forward 24x128 (ONNX Runtime): median %.3f s (min %.3f, max %.3f)%n", ort.get(3),
            ort.get(0), ort.get(6));
      }
    }
  }
}
