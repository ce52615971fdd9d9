package io.gaprune.model.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Our reader reads what DJL writes, and DJL reads what our writer writes: an independent implementation. */
class DjlSafetensorsInteropTest {

  @TempDir Path dir;

  @Test
  void readsWhatDjlWritesAndBack() throws IOException {
    var p = dir.resolve("djl.safetensors");
    float[] w = {0.5f, -1.25f, 3f, 4e-7f, 1e10f, -0f};
    double[] d = {Math.E, -1e-200};
    long[] ids = {-3, 1L << 40};
    try (var m = NDManager.newBaseManager()) {
      NDArray a = m.create(w, new Shape(2, 3));
      a.setName("layer.weight");
      NDArray b = m.create(d, new Shape(2));
      b.setName("layer.double");
      NDArray c = m.create(ids, new Shape(1, 2));
      c.setName("ids");
      NDArray h = m.create(new float[] {1f, 0.333251953125f}).toType(DataType.FLOAT16, false);
      h.setName("half");
      try (OutputStream os = Files.newOutputStream(p)) {
        new NDList(a, b, c, h).encode(os, NDList.Encoding.SAFETENSORS);
      }
    }
    try (var f = SafetensorsFile.open(p)) {
      assertArrayEquals(new long[] {2, 3}, f.info("layer.weight").shape());
      assertEquals(DType.F32, f.info("layer.weight").dtype());
      assertArrayEquals(w, f.readFloats("layer.weight"));
      assertArrayEquals(d, f.readDoubles("layer.double"));
      assertArrayEquals(ids, f.readLongs("ids"));
      assertEquals(DType.F16, f.info("half").dtype());
      assertArrayEquals(new float[] {1f, 0.333251953125f}, f.readFloats("half"));
    }

    var ours = dir.resolve("ours.safetensors");
    try (var wr = SafetensorsWriter.create(ours, List.of(new TensorSpec("x", DType.F32, new long[] {3, 2}),
        new TensorSpec("m", DType.U8, new long[] {2}), new TensorSpec("y", DType.F64, new long[] {1})),
        Map.of("format", "pt"))) {
      wr.writeFloats("x", w);
      wr.writeBytes("m", new byte[] {1, 0});
      wr.writeDoubles("y", new double[] {Math.E});
    }
    try (var m = NDManager.newBaseManager(); var in = Files.newInputStream(ours)) {
      var list = NDList.decode(m, in);
      var byName = new java.util.HashMap<String, NDArray>();
      list.forEach(x -> byName.put(x.getName(), x));
      assertEquals(new Shape(3, 2), byName.get("x").getShape());
      assertArrayEquals(w, byName.get("x").toFloatArray());
      assertEquals(DataType.UINT8, byName.get("m").getDataType());
      assertArrayEquals(new byte[] {1, 0}, byName.get("m").toByteArray());
      assertArrayEquals(new double[] {Math.E}, byName.get("y").toDoubleArray());
    }
  }
}
