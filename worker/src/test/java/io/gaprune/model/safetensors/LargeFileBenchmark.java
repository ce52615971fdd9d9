package io.gaprune.model.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file above 2 GB for real: a small tensor, then one of 2^29 + 3 floats (2 GiB + 12 bytes), then another small
 * tensor whose data start past byte 2^31, so mapping positions and window boundaries above the int range are
 * exercised. Excluded from the suite (it writes 2 GB); run with
 * {@code mvn -B -ntp -Pbench -pl worker -am verify -Dtest=LargeFileBenchmark -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("bench")
class LargeFileBenchmark {

  @TempDir Path dir;

  static float value(long i) {
    return (float) ((i * 2654435761L) % 1000003) - 500000f;
  }

  @Test
  void writesAndReadsAFileAboveTwoGigabytes() throws IOException {
    var p = dir.resolve("big.safetensors");
    long n = (1L << 29) + 3;
    long t0 = System.nanoTime();
    try (var w = SafetensorsWriter.create(p, List.of(new TensorSpec("head", DType.F32, new long[] {3}),
        new TensorSpec("big", DType.F32, new long[] {n}), new TensorSpec("tail", DType.BF16, new long[] {2, 2})),
        Map.of("what", "large"))) {
      w.writeFloats("head", new float[] {1, 2, 3});
      var chunk = new float[1 << 20];
      for (long i = 0; i < n; i += chunk.length) {
        int len = (int) Math.min(chunk.length, n - i);
        for (int j = 0; j < len; j++) {
          chunk[j] = value(i + j);
        }
        w.writeFloats("big", chunk, 0, len);
      }
      w.writeFloats("tail", new float[] {1.5f, -2f, 0.25f, 8f});
    }
    double write = (System.nanoTime() - t0) / 1e9;
    long t1 = System.nanoTime();
    long checked = 0;
    try (var f = SafetensorsFile.open(p)) {
      assertEquals(f.dataStart() + 12 + 4L * n + 8, Files.size(p)); // head F32[3], big, tail BF16[2,2]
      // the tail's data begin past 2^31
      assertTrue(f.dataStart() + f.info("tail").begin() > Integer.MAX_VALUE);
      assertEquals(List.of(1.5f, -2f, 0.25f, 8f), toList(f.readFloats("tail")));
      assertEquals(List.of(1f, 2f, 3f), toList(f.readFloats("head")));
      // whole-tensor read (2^29 + 3 floats, two 1 GiB windows and a remainder)
      var all = f.readFloats("big");
      for (long i = 0; i < n; i += 9973) {
        assertEquals(value(i), all[(int) i], "element " + i);
        checked++;
      }
      assertEquals(value(n - 1), all[(int) (n - 1)]);
      // a range across the first window boundary (element 2^28)
      var part = new float[10];
      f.readFloats("big", (1L << 28) - 5, part, 0, 10);
      for (int j = 0; j < 10; j++) {
        assertEquals(value((1L << 28) - 5 + j), part[j]);
      }
    }
    double read = (System.nanoTime() - t1) / 1e9;
    System.out.printf("file %.2f GB: written in %.1f s, opened and read (whole 2 GiB tensor + ranges) in %.1f s,"
        + " %d samples checked%n", Files.size(p) / 1e9, write, read, checked);
  }

  private static List<Float> toList(float[] a) {
    var out = new java.util.ArrayList<Float>();
    for (float v : a) {
      out.add(v);
    }
    return out;
  }
}
