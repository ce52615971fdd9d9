package io.gaprune.model.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.model.KnownModel;
import io.gaprune.model.TestModels;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class OnnxModelLoaderTest {

  @Test
  void renamesMatMulWeightsAndDerivesTheConfig() {
    var host = TestModels.host(KnownModel.MINILM);
    // 6 layers × 16 tensors + 5 embedding tensors (+ the pooler's 2)
    assertEquals(6 * 16 + 5 + 2, host.size(), host.keySet().toString());
    assertArrayEquals(new long[] {1536, 384}, host.get("encoder.layer.5.intermediate.dense.weight").shape());
    assertArrayEquals(new long[] {384, 1536}, host.get("encoder.layer.5.output.dense.weight").shape());
    assertTrue(host.keySet().stream().noneMatch(n -> n.startsWith("onnx::")));
    var c = TestModels.config(KnownModel.MINILM);
    assertEquals(Arrays.asList(30522, 384, 6, 12, 32, 1536, 512, 2),
        Arrays.asList(c.vocabSize(), c.hiddenSize(), c.numLayers(), c.numHeads(), c.headDim(), c.intermediateSize(),
            c.maxPositions(), c.typeVocabSize()));
    var bge = TestModels.config(KnownModel.BGE_SMALL);
    assertEquals(12, bge.numLayers());
  }

  @Test
  void truncatedModelIsAnErrorNamingTheSource() {
    var bytes = TestModels.resource(KnownModel.MINILM.onnxResource);
    var cut = Arrays.copyOf(bytes, bytes.length / 2);
    var e = assertThrows(IOException.class,
        () -> OnnxModelLoader.readParameters(new ByteArrayInputStream(cut), "cut.onnx"));
    assertTrue(e.getMessage().startsWith("cut.onnx: not a valid ONNX model (truncated or corrupt protobuf"),
        e.getMessage());
  }

  @Test
  void halfFloatsDecode() {
    assertEquals(1.0f, OnnxModelLoader.halfToFloat((short) 0x3c00));
    assertEquals(-2.0f, OnnxModelLoader.halfToFloat((short) 0xc000));
    assertEquals(65504f, OnnxModelLoader.halfToFloat((short) 0x7bff));
    assertEquals(0x1p-24f, OnnxModelLoader.halfToFloat((short) 0x0001));
    assertEquals(Float.POSITIVE_INFINITY, OnnxModelLoader.halfToFloat((short) 0x7c00));
  }
}
