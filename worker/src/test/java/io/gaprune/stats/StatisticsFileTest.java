package io.gaprune.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatisticsFileTest {

  @TempDir Path dir;

  static TensorStats tensor(String name, long[] shape, double base) {
    var t = TensorStats.zeros(name, shape);
    for (int i = 0; i < t.size(); i++) {
      t.sumSqGeneral()[i] = base + i;
      t.sumGeneral()[i] = -base * i;
      t.sumSqDomain()[i] = Math.PI * i + base;
      t.sumDomain()[i] = Math.ulp(1.0) * i - base;
    }
    return new TensorStats(name, shape, t.sumSqGeneral(), t.sumGeneral(), t.sumSqDomain(), t.sumDomain(),
        0.1 * base, (long) base);
  }

  @Test
  void roundTripIsBitExact() throws Exception {
    var tensors = new LinkedHashMap<String, TensorStats>();
    tensors.put("layers.0.mlp.up_proj.weight", tensor("layers.0.mlp.up_proj.weight", new long[] {3, 5}, 1.5));
    tensors.put("layers.0.mlp.up_proj.bias", tensor("layers.0.mlp.up_proj.bias", new long[] {3}, 7));
    var stats = new UnitStatistics(tensors, 512, 480, 32, 12.25, 1e-3 / 3);
    var file = dir.resolve("statistics.safetensors");
    StatisticsFile.write(stats, "minilm", file);
    var loaded = StatisticsFile.read(file);
    assertEquals("minilm", loaded.model());
    var back = loaded.statistics();
    assertEquals(stats.generalSamples(), back.generalSamples());
    assertEquals(stats.domainSamples(), back.domainSamples());
    assertEquals(stats.batches(), back.batches());
    assertEquals(stats.generalLossSum(), back.generalLossSum());
    assertEquals(stats.domainLossSum(), back.domainLossSum());
    assertEquals(tensors.keySet(), back.tensors().keySet());
    for (var t : tensors.values()) {
      var b = back.tensors().get(t.name());
      assertArrayEquals(t.shape(), b.shape());
      assertArrayEquals(t.sumSqGeneral(), b.sumSqGeneral());
      assertArrayEquals(t.sumGeneral(), b.sumGeneral());
      assertArrayEquals(t.sumSqDomain(), b.sumSqDomain());
      assertArrayEquals(t.sumDomain(), b.sumDomain());
      assertEquals(t.cosineSum(), b.cosineSum());
      assertEquals(t.negativeCosines(), b.negativeCosines());
    }
  }

  @Test
  void otherFilesAreRefusedByName() throws Exception {
    var notOurs = dir.resolve("model.safetensors");
    try (var w = io.gaprune.model.safetensors.SafetensorsWriter.create(notOurs,
        java.util.List.of(new io.gaprune.model.safetensors.TensorSpec("w", io.gaprune.model.safetensors.DType.F32,
            new long[] {2})), java.util.Map.of())) {
      w.writeFloats("w", new float[] {1, 2});
    }
    var e = assertThrows(java.io.IOException.class, () -> StatisticsFile.read(notOurs));
    assertTrue(e.getMessage().contains(notOurs.toString()) && e.getMessage().contains("not a statistics file"),
        e.getMessage());
    var garbage = Files.writeString(dir.resolve("garbage.safetensors"), "not safetensors at all");
    assertThrows(java.io.IOException.class, () -> StatisticsFile.read(garbage));
  }
}
