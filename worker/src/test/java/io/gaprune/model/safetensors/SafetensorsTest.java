package io.gaprune.model.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

  @TempDir Path dir;

  /** A file made of a raw header string and raw data bytes, for malformed inputs. */
  private Path raw(String name, String header, byte[] data) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    var buf = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    buf.putLong(h.length).put(h).put(data);
    var p = dir.resolve(name);
    Files.write(p, buf.array());
    return p;
  }

  private static <T extends Throwable> String message(Class<T> type, org.junit.jupiter.api.function.Executable e) {
    return assertThrows(type, e).getMessage();
  }

  /**
   * The same tensors and metadata give the same bytes whatever order the metadata map iterates in (a session's
   * weights file written by two JVMs once differed in its SHA-256 only by the order of {@code Map.of}'s keys).
   */
  @Test
  void metadataIsWrittenInKeyOrderWhateverTheMapsOrder() {
    var specs = List.of(new TensorSpec("w", DType.F32, new long[] {2, 3}));
    var forward = new java.util.LinkedHashMap<String, String>();
    var backward = new java.util.LinkedHashMap<String, String>();
    for (String k : new String[] {"format", "gaprune.kind", "gaprune.layerwise", "a", "z"}) {
      forward.put(k, "v-" + k);
    }
    var keys = new java.util.ArrayList<>(forward.keySet());
    java.util.Collections.reverse(keys);
    keys.forEach(k -> backward.put(k, "v-" + k));
    var header = new String(SafetensorsWriter.header(specs, forward), StandardCharsets.UTF_8);
    assertEquals(header, new String(SafetensorsWriter.header(specs, backward), StandardCharsets.UTF_8));
    assertTrue(header.startsWith("{\"__metadata__\":{\"a\":\"v-a\",\"format\":\"v-format\",\"gaprune.kind\""), header);
  }

  @Test
  void roundTripOfEveryWritableType() throws IOException {
    var p = dir.resolve("all.safetensors");
    float[] f32 = {1.5f, -2.25f, 0f, Float.MIN_VALUE, 3.4e38f, -0.0f};
    double[] f64 = {Math.PI, -1e-300, 1e300, 0.1};
    float[] halfable = {1f, 0.5f, -2f, 65504f, 0x1p-24f, 0.333251953125f}; // exact in f16
    float[] bf16able = {1f, 3.140625f, -0.333984375f, 0x1.8p120f, 0x1p-126f, 256f}; // exact in bf16
    long[] i64 = {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE};
    long[] i32 = {Integer.MIN_VALUE, 7, Integer.MAX_VALUE};
    byte[] u8 = {0, 1, (byte) 200, (byte) 255};
    byte[] bool = {1, 0, 0, 1};
    var specs = List.of(
        new TensorSpec("w.f32", DType.F32, new long[] {2, 3}),
        new TensorSpec("w.f64", DType.F64, new long[] {4}),
        new TensorSpec("w.f16", DType.F16, new long[] {3, 2}),
        new TensorSpec("w.bf16", DType.BF16, new long[] {6}),
        new TensorSpec("ids", DType.I64, new long[] {2, 2}),
        new TensorSpec("small", DType.I32, new long[] {3}),
        new TensorSpec("mask", DType.U8, new long[] {2, 2}),
        new TensorSpec("flags", DType.BOOL, new long[] {4}),
        new TensorSpec("scalar", DType.F32, new long[] {}),
        new TensorSpec("empty", DType.F32, new long[] {0, 3}));
    try (var w = SafetensorsWriter.create(p, specs, Map.of("format", "pt", "note", "é\"<>"))) {
      w.writeFloats("w.f32", f32, 0, 4); // in two pieces
      w.writeFloats("w.f32", f32, 4, 2);
      w.writeDoubles("w.f64", f64);
      w.writeFloats("w.f16", halfable);
      w.writeFloats("w.bf16", bf16able);
      w.writeLongs("ids", i64);
      w.writeLongs("small", i32);
      w.writeBytes("mask", u8);
      w.writeBytes("flags", bool);
      w.writeFloats("scalar", new float[] {42f});
      // "empty" has no elements: complete as declared
    }
    assertFalse(Files.exists(dir.resolve("all.safetensors.partial")));

    // The header is padded with spaces so that the data start 8-byte aligned.
    try (var f = SafetensorsFile.open(p)) {
      assertEquals(0, f.dataStart() % 8);
      assertEquals(Map.of("format", "pt", "note", "é\"<>"), f.metadata());
      assertEquals(List.of("w.f32", "w.f64", "w.f16", "w.bf16", "ids", "small", "mask", "flags", "scalar", "empty"),
          f.tensors().stream().map(TensorInfo::name).toList());
      var info = f.info("w.f32");
      assertEquals(DType.F32, info.dtype());
      assertArrayEquals(new long[] {2, 3}, info.shape());
      assertEquals(24, info.byteSize());
      assertArrayEquals(f32, f.readFloats("w.f32"));
      assertArrayEquals(f64, f.readDoubles("w.f64"));
      assertArrayEquals(new float[] {(float) Math.PI, (float) -1e-300, Float.POSITIVE_INFINITY, 0.1f},
          f.readFloats("w.f64"));
      assertArrayEquals(halfable, f.readFloats("w.f16"));
      assertArrayEquals(new double[] {1, 0.5, -2, 65504, 0x1p-24, 0.333251953125}, f.readDoubles("w.f16"));
      assertArrayEquals(bf16able, f.readFloats("w.bf16"));
      assertArrayEquals(i64, f.readLongs("ids"));
      assertArrayEquals(new long[] {Integer.MIN_VALUE, 7, Integer.MAX_VALUE}, f.readLongs("small"));
      assertArrayEquals(new long[] {0, 1, 200, 255}, f.readLongs("mask"));
      assertArrayEquals(new byte[] {0, 1, (byte) 200, (byte) 255}, f.readRawBytes("mask"));
      assertArrayEquals(new long[] {1, 0, 0, 1}, f.readLongs("flags"));
      assertArrayEquals(new float[] {42f}, f.readFloats("scalar"));
      assertEquals(1, f.info("scalar").elementCount());
      assertEquals(0, f.readFloats("empty").length);
      // a range read
      var part = new float[3];
      f.readFloats("w.f32", 2, part, 1, 2);
      assertArrayEquals(new float[] {0, 0f, Float.MIN_VALUE}, part);
    }
    // the header as bytes: starts with '{', padded with spaces only
    var bytes = Files.readAllBytes(p);
    long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    var header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
    assertTrue(header.startsWith("{\"__metadata__\":"), header);
    assertEquals(header.strip().length(), header.stripTrailing().length());
  }

  @Test
  void writerRoundsFloatsToHalfTypes() throws IOException {
    var p = dir.resolve("round.safetensors");
    try (var w = SafetensorsWriter.create(p, List.of(new TensorSpec("h", DType.F16, new long[] {2}),
        new TensorSpec("b", DType.BF16, new long[] {2})), Map.of())) {
      w.writeFloats("h", new float[] {1f / 3, 65520f});
      w.writeFloats("b", new float[] {1f / 3, (float) Math.PI});
    }
    try (var f = SafetensorsFile.open(p)) {
      assertArrayEquals(new byte[] {0x55, 0x35, 0x00, 0x7C}, f.readRawBytes("h")); // 0x3555, +inf, little-endian
      assertArrayEquals(new float[] {0.333251953125f, Float.POSITIVE_INFINITY}, f.readFloats("h"));
      assertArrayEquals(new float[] {0.333984375f, 3.140625f}, f.readFloats("b"));
    }
  }

  @Test
  void largeTensorReadInManyWindowsMatches() throws IOException {
    var p = dir.resolve("big.safetensors");
    int n = 100_003;
    var rnd = new Random(7);
    var values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) rnd.nextGaussian();
    }
    try (var w = SafetensorsWriter.create(p, List.of(new TensorSpec("x", DType.F32, new long[] {n}),
        new TensorSpec("y", DType.BF16, new long[] {n})), null)) {
      for (int i = 0; i < n; i += 4096) {
        w.writeFloats("x", values, i, Math.min(4096, n - i));
      }
      w.writeFloats("y", values);
    }
    // windows of 1000 bytes: 250 floats, so a tensor spans hundreds of mappings
    try (var f = SafetensorsFile.open(p, 1000)) {
      assertArrayEquals(values, f.readFloats("x"));
      var y = f.readFloats("y");
      for (int i = 0; i < n; i++) {
        assertEquals(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(values[i])), y[i]);
      }
      var d = new double[777];
      f.readDoubles("x", 99_000, d, 0, 777);
      for (int i = 0; i < 777; i++) {
        assertEquals(values[99_000 + i], d[i]);
      }
    }
  }

  @Test
  void openDispatchesOnDirectoriesAndIndexes() throws IOException {
    var single = dir.resolve("single");
    Files.createDirectories(single);
    try (var w = SafetensorsWriter.create(single.resolve("model.safetensors"),
        List.of(new TensorSpec("a", DType.F32, new long[] {1})), Map.of())) {
      w.writeFloats("a", new float[] {5f});
    }
    try (var r = SafetensorsReader.open(single)) {
      assertTrue(r instanceof SafetensorsFile);
      assertArrayEquals(new float[] {5f}, r.readFloats("a"));
    }
    var empty = dir.resolve("nothing");
    Files.createDirectories(empty);
    assertTrue(message(SafetensorsException.class, () -> SafetensorsReader.open(empty)).contains("neither"));
  }

  private void writeShard(Path p, String[] names, float[][] data) throws IOException {
    var specs = new java.util.ArrayList<TensorSpec>();
    for (int i = 0; i < names.length; i++) {
      specs.add(new TensorSpec(names[i], DType.F32, new long[] {data[i].length}));
    }
    try (var w = SafetensorsWriter.create(p, specs, Map.of("format", "pt"))) {
      for (int i = 0; i < names.length; i++) {
        w.writeFloats(names[i], data[i]);
      }
    }
  }

  @Test
  void shardedCheckpointIsOneView() throws IOException {
    var ck = dir.resolve("ck");
    Files.createDirectories(ck);
    writeShard(ck.resolve("model-00002-of-00002.safetensors"), new String[] {"layers.1.w", "norm.weight"},
        new float[][] {{3, 4}, {5}});
    writeShard(ck.resolve("model-00001-of-00002.safetensors"), new String[] {"embed.weight", "layers.0.w"},
        new float[][] {{1}, {2, 2}});
    Files.writeString(ck.resolve("model.safetensors.index.json"), """
        {"metadata": {"total_size": 24},
         "weight_map": {"layers.1.w": "model-00002-of-00002.safetensors",
                        "embed.weight": "model-00001-of-00002.safetensors",
                        "norm.weight": "model-00002-of-00002.safetensors",
                        "layers.0.w": "model-00001-of-00002.safetensors"}}
        """);
    try (var r = SafetensorsReader.open(ck)) {
      assertTrue(r instanceof ShardedSafetensors);
      assertEquals(List.of("embed.weight", "layers.0.w", "layers.1.w", "norm.weight"),
          r.tensors().stream().map(TensorInfo::name).toList());
      assertEquals("24", r.metadata().get("total_size"));
      assertArrayEquals(new float[] {3, 4}, r.readFloats("layers.1.w"));
      assertArrayEquals(new float[] {2, 2}, r.readFloats("layers.0.w"));
      assertEquals(ck.resolve("model-00002-of-00002.safetensors").toAbsolutePath(), r.fileOf("norm.weight"));
      var e = message(SafetensorsException.class, () -> r.readFloats("lm_head.weight"));
      assertTrue(e.contains("lm_head.weight") && e.contains("missing"), e);
    }
  }

  @Test
  void shardedCheckpointErrorsNameShardAndTensor() throws IOException {
    var ck = dir.resolve("bad");
    Files.createDirectories(ck);
    writeShard(ck.resolve("a.safetensors"), new String[] {"x"}, new float[][] {{1}});
    var index = ck.resolve("model.safetensors.index.json");
    Files.writeString(index, "{\"weight_map\": {\"x\": \"a.safetensors\", \"y\": \"a.safetensors\"}}");
    var e = message(SafetensorsException.class, () -> SafetensorsReader.open(index));
    assertTrue(e.contains("tensor y") && e.contains("a.safetensors"), e);
    Files.writeString(index, "{\"weight_map\": {\"x\": \"a.safetensors\", \"z\": \"b.safetensors\"}}");
    e = message(SafetensorsException.class, () -> SafetensorsReader.open(index));
    assertTrue(e.contains("b.safetensors") && e.contains("missing") && e.contains("z"), e);
    Files.writeString(index, "{\"weight_map\": [1, 2]}");
    e = message(SafetensorsException.class, () -> SafetensorsReader.open(index));
    assertTrue(e.contains("weight_map"), e);
    Files.writeString(index, "{\"weight_map\": {\"x\": ");
    e = message(SafetensorsException.class, () -> SafetensorsReader.open(index));
    assertTrue(e.contains("bad JSON") && e.contains(index.toString()), e);
  }

  @Test
  void truncatedFilesAreNamed() throws IOException {
    var p = dir.resolve("t.safetensors");
    try (var w = SafetensorsWriter.create(p, List.of(new TensorSpec("a", DType.F32, new long[] {4})), null)) {
      w.writeFloats("a", new float[] {1, 2, 3, 4});
    }
    var bytes = Files.readAllBytes(p);
    var cut = dir.resolve("cut.safetensors");
    Files.write(cut, Arrays.copyOf(bytes, bytes.length - 3));
    var e = message(SafetensorsException.class, () -> SafetensorsFile.open(cut));
    assertTrue(e.contains(cut.toString()) && e.contains("tensor a") && e.contains("out of bounds"), e);

    Files.write(cut, Arrays.copyOf(bytes, 5));
    e = message(SafetensorsException.class, () -> SafetensorsFile.open(cut));
    assertTrue(e.contains(cut.toString()) && e.contains("truncated"), e);

    Files.write(cut, Arrays.copyOf(bytes, 20)); // the header is cut
    e = message(SafetensorsException.class, () -> SafetensorsFile.open(cut));
    assertTrue(e.contains("truncated") && e.contains("header length"), e);

    var missing = dir.resolve("absent.safetensors");
    e = message(SafetensorsException.class, () -> SafetensorsFile.open(missing));
    assertTrue(e.contains(missing.toString()), e);
  }

  @Test
  void malformedHeadersAreRejectedWithTheReason() throws IOException {
    byte[] four = new byte[4];
    var cases = Map.of(
        "json", new Object[] {"{\"a\": {\"dtype\": \"F32\", ", "bad header JSON"},
        "notobject", new Object[] {"[1, 2]    ", "expected an object"},
        "dtype", new Object[] {"{\"a\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,4]}}", "unknown dtype \"F7\""},
        "size", new Object[] {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "needs 8 bytes"},
        "offsets", new Object[] {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", "bad data_offsets"},
        "lacks", new Object[] {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", "lacks data_offsets"},
        "dup", new Object[] {"{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
            + "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", "appears twice"},
        "overlap", new Object[] {"{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
            + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", "overlaps"},
        "hole", new Object[] {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
            + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", "hole"},
        "leftover", new Object[] {"{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", "cover 2"});
    for (var c : cases.entrySet()) {
      var p = raw(c.getKey() + ".safetensors", (String) c.getValue()[0], four);
      var e = message(SafetensorsException.class, () -> SafetensorsFile.open(p));
      assertTrue(e.contains((String) c.getValue()[1]) && e.contains(p.toString()), c.getKey() + ": " + e);
    }
    // a header length that cannot be right
    var p = dir.resolve("huge.safetensors");
    Files.write(p, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
    var e = message(SafetensorsException.class, () -> SafetensorsFile.open(p));
    assertTrue(e.contains("implausible header length"), e);
  }

  @Test
  void readingTheWrongWayIsRefused() throws IOException {
    var p = dir.resolve("r.safetensors");
    try (var w = SafetensorsWriter.create(p, List.of(new TensorSpec("ids", DType.I64, new long[] {2}),
        new TensorSpec("w", DType.F32, new long[] {2})), null)) {
      w.writeLongs("ids", new long[] {1, 2});
      w.writeFloats("w", new float[] {1, 2});
    }
    try (var f = SafetensorsFile.open(p)) {
      var e = message(SafetensorsException.class, () -> f.readFloats("ids"));
      assertTrue(e.contains("ids") && e.contains("I64"), e);
      e = message(SafetensorsException.class, () -> f.readLongs("w"));
      assertTrue(e.contains("w") && e.contains("F32"), e);
      e = message(SafetensorsException.class, () -> f.readFloats("nope"));
      assertTrue(e.contains("tensor nope is missing") && e.contains(p.toString()), e);
      e = message(SafetensorsException.class, () -> f.readFloats("w", 1, new float[2], 0, 2));
      assertTrue(e.contains("outside its 2 elements"), e);
    }
    var bool = raw("bool.safetensors", "{\"b\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]}}",
        new byte[] {1, 7});
    try (var f = SafetensorsFile.open(bool)) {
      var e = message(SafetensorsException.class, () -> f.readLongs("b"));
      assertTrue(e.contains("BOOL element 1 is 7"), e);
    }
  }

  @Test
  void writerEnforcesOrderCompletenessAndRanges() throws IOException {
    var p = dir.resolve("w.safetensors");
    var specs = List.of(new TensorSpec("a", DType.U8, new long[] {2}), new TensorSpec("b", DType.I32, new long[] {1}));
    var w = SafetensorsWriter.create(p, specs, null);
    var e = message(SafetensorsException.class, () -> w.writeLongs("b", new long[] {1}));
    assertTrue(e.contains("declared order") && e.contains("a is next"), e);
    e = message(SafetensorsException.class, () -> w.writeLongs("a", new long[] {1, 256}));
    assertTrue(e.contains("value 256") && e.contains("U8"), e);
    e = message(SafetensorsException.class, () -> w.writeFloats("a", new float[] {1, 2}));
    assertTrue(e.contains("float values") && e.contains("U8"), e);
    e = message(SafetensorsException.class, () -> w.writeBytes("a", new byte[] {1, 2, 3}));
    assertTrue(e.contains("3 more elements"), e);
    w.writeBytes("a", new byte[] {1, 2});
    e = message(SafetensorsException.class, w::close);
    assertTrue(e.contains("tensor b lacks 1 of 1"), e);
    assertFalse(Files.exists(p));
    assertFalse(Files.exists(dir.resolve("w.safetensors.partial")));

    e = message(SafetensorsException.class, () -> SafetensorsWriter.create(p,
        List.of(new TensorSpec("a", DType.U8, new long[] {1}), new TensorSpec("a", DType.U8, new long[] {1})), null));
    assertTrue(e.contains("declared twice"), e);
  }
}
