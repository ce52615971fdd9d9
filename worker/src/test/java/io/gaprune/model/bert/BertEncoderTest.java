package io.gaprune.model.bert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.KnownModel;
import io.gaprune.model.TestModels;
import java.util.LinkedHashMap;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Validation, dtype propagation and resource hygiene of the BERT encoder on the real MiniLM weights. */
class BertEncoderTest {

  private static final KnownModel MODEL = KnownModel.MINILM;

  @Test
  void missingTensorIsNamed() {
    try (var manager = NDManager.newBaseManager()) {
      var params = new LinkedHashMap<>(TestModels.parameters(MODEL, manager, DataType.FLOAT32));
      params.remove("encoder.layer.3.intermediate.dense.weight");
      var e = assertThrows(IllegalArgumentException.class, () -> new BertEncoder(TestModels.config(MODEL), params));
      assertTrue(e.getMessage().contains("missing") && e.getMessage().contains("encoder.layer.3.intermediate.dense.weight"),
          e.getMessage());
    }
  }

  @Test
  void wrongShapeNamesTensorExpectedAndActual() {
    try (var manager = NDManager.newBaseManager()) {
      var params = new LinkedHashMap<>(TestModels.parameters(MODEL, manager, DataType.FLOAT32));
      params.put("encoder.layer.1.attention.self.key.weight", manager.zeros(new ai.djl.ndarray.types.Shape(384, 383)));
      var e = assertThrows(IllegalArgumentException.class, () -> new BertEncoder(TestModels.config(MODEL), params));
      assertEquals("BERT parameter encoder.layer.1.attention.self.key.weight: expected shape (384, 384), got (384, 383)",
          e.getMessage());
    }
  }

  @Test
  void unexpectedTensorIsRejectedAndBertPrefixStripped() {
    try (var manager = NDManager.newBaseManager()) {
      var prefixed = new LinkedHashMap<String, NDArray>();
      TestModels.parameters(MODEL, manager, DataType.FLOAT32).forEach((k, v) -> prefixed.put("bert." + k, v));
      var encoder = new BertEncoder(TestModels.config(MODEL), prefixed);
      assertTrue(encoder.parameters().containsKey("embeddings.word_embeddings.weight"));
      prefixed.put("encoder.layer.6.output.dense.weight", manager.zeros(new ai.djl.ndarray.types.Shape(2, 2)));
      var e = assertThrows(IllegalArgumentException.class, () -> new BertEncoder(TestModels.config(MODEL), prefixed));
      assertTrue(e.getMessage().startsWith("unexpected BERT parameter encoder.layer.6.output.dense.weight"),
          e.getMessage());
    }
  }

  @Test
  void float64ParametersGiveAFloat64ForwardPassThatAgreesWithFloat32() throws Exception {
    try (var manager = NDManager.newBaseManager(); var tokenizer = TestModels.tokenizer(MODEL, 128)) {
      var f32 = new BertEncoder(TestModels.config(MODEL), TestModels.parameters(MODEL, manager, DataType.FLOAT32));
      var f64 = new BertEncoder(TestModels.config(MODEL), TestModels.parameters(MODEL, manager, DataType.FLOAT64));
      manager.cap();
      try (var step = manager.newSubManager()) {
        var batch = tokenizer.encode(TestModels.SENTENCES, step);
        var h64 = f64.hiddenStates(batch);
        assertEquals(DataType.FLOAT64, h64.getDataType());
        var e64 = f64.embed(batch);
        assertEquals(DataType.FLOAT64, e64.getDataType());
        var diff = e64.sub(f32.embed(batch).toType(DataType.FLOAT64, false)).abs().max().getDouble();
        assertTrue(diff < 1e-5, "float32 vs float64 embeddings differ by " + diff);
      }
    }
  }

  @Test
  void encodingManyBatchesLeavesNoArraysBehind() throws Exception {
    try (var manager = NDManager.newBaseManager(); var tokenizer = TestModels.tokenizer(MODEL, 128)) {
      var encoder = new BertEncoder(TestModels.config(MODEL), TestModels.parameters(MODEL, manager, DataType.FLOAT32));
      int before = manager.getManagedArrays().size();
      for (int i = 0; i < 20; i++) {
        try (var step = manager.newSubManager()) {
          var texts = List.of(TestModels.SENTENCES.get(i % 8), TestModels.SENTENCES.get((i + 3) % 8));
          encoder.embed(tokenizer.encode(texts, step)).toFloatArray();
        }
        assertEquals(before, manager.getManagedArrays().size(), "arrays attached to the parameters' manager");
      }
    }
  }
}
