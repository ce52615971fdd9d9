package io.gaprune.planner;

import io.gaprune.model.Shapes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.model.safetensors.DType;
import io.gaprune.model.safetensors.HalfFloats;
import io.gaprune.model.safetensors.SafetensorsReader;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.model.safetensors.TensorSpec;
import io.gaprune.stats.TensorStats;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Planning straight from safetensors files gives the plan of the same tensors in memory. */
class CheckpointTensorSourceTest {

  @TempDir Path dir;

  @Test
  void planFromFilesEqualsPlanInMemory() throws IOException {
    var rnd = new SplittableRandom(4);
    String[] names = {"layers.0.mlp.up_proj.weight", "layers.0.input_layernorm.weight", "layers.0.mlp.down_proj.weight",
        "layers.1.mlp.gate_proj.weight"};
    long[][] shapes = {{8, 16}, {16}, {16, 8}, {8, 16}};
    DType[] dtypes = {DType.BF16, DType.F32, DType.F32, DType.F16};
    var specs = new ArrayList<TensorSpec>();
    for (int i = 0; i < names.length; i++) {
      specs.add(new TensorSpec(names[i], dtypes[i], shapes[i]));
    }
    specs.add(new TensorSpec("position_ids", DType.I64, new long[] {4})); // never listed: not floating point
    var inMemory = new ArrayList<TensorInput>();
    var stats = new ArrayList<TensorStats>();
    var ckpt = dir.resolve("model.safetensors");
    try (var w = SafetensorsWriter.create(ckpt, specs, Map.of("format", "pt"))) {
      for (int i = 0; i < names.length; i++) {
        int n = (int) Shapes.elementCount(shapes[i]);
        var v = new float[n];
        for (int j = 0; j < n; j++) {
          v[j] = (float) rnd.nextGaussian();
          // what the file will hold after rounding to its dtype
          v[j] = dtypes[i] == DType.BF16 ? HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(v[j]))
              : dtypes[i] == DType.F16 ? HalfFloats.f16ToFloat(HalfFloats.floatToF16(v[j])) : v[j];
        }
        w.writeFloats(names[i], v);
        var s = TensorStats.zeros(names[i], shapes[i]);
        for (int j = 0; j < n; j++) {
          s.sumSqGeneral()[j] = rnd.nextDouble() * 1e-3;
          s.sumSqDomain()[j] = rnd.nextDouble() * 1e-3;
          s.sumGeneral()[j] = rnd.nextGaussian() * 1e-2;
          s.sumDomain()[j] = rnd.nextGaussian() * 1e-2;
        }
        stats.add(s);
        inMemory.add(new TensorInput(new TensorMeta(names[i], shapes[i]), v, WeightStatistics.fromSums(s, 5, 7)));
      }
      w.writeLongs("position_ids", new long[] {0, 1, 2, 3});
    }
    var statsPath = dir.resolve("stats.safetensors");
    CheckpointTensorSource.writeStatistics(statsPath, stats, Map.of("batches", "5/7"));

    var config = PlannerConfig.of(0.5).withBudget(BudgetMode.UNIFORM)
        .withScoring(ScoringConfig.defaults().withHyper(1, 0.01, 0.2));
    var expected = new Planner(config).plan(new InMemoryTensorSource(inMemory), dir.resolve("m1.safetensors"), null);
    try (var weights = SafetensorsReader.open(ckpt); var statsFile = SafetensorsReader.open(statsPath)) {
      var source = new CheckpointTensorSource(weights, CheckpointTensorSource.statisticsFrom(statsFile, 5, 7));
      assertEquals(List.of(names), source.tensors().stream().map(TensorMeta::name).toList());
      var actual = new Planner(config).plan(source, dir.resolve("m2.safetensors"), null);
      assertEquals(expected.selections(), actual.selections());
      assertEquals(expected.layers(), actual.layers());
    }
    try (var m1 = SafetensorsReader.open(dir.resolve("m1.safetensors"));
        var m2 = SafetensorsReader.open(dir.resolve("m2.safetensors"))) {
      for (var t : m1.tensors()) {
        assertArrayEquals(m1.readRawBytes(t.name()), m2.readRawBytes(t.name()));
      }
      assertEquals(3, m2.tensors().size());
    }
  }

  @Test
  void mismatchedStatisticsAreNamed() throws IOException {
    var ckpt = dir.resolve("w.safetensors");
    try (var w = SafetensorsWriter.create(ckpt, List.of(new TensorSpec("layers.0.mlp.up_proj.weight", DType.F32,
        new long[] {2, 2})), null)) {
      w.writeFloats("layers.0.mlp.up_proj.weight", new float[] {1, 2, 3, 4});
    }
    var statsPath = dir.resolve("s.safetensors");
    CheckpointTensorSource.writeStatistics(statsPath,
        List.of(TensorStats.zeros("layers.0.mlp.up_proj.weight", new long[] {4, 1})), null);
    try (var weights = SafetensorsReader.open(ckpt); var statsFile = SafetensorsReader.open(statsPath)) {
      var source = new CheckpointTensorSource(weights, CheckpointTensorSource.statisticsFrom(statsFile, 1, 1));
      var e = assertThrows(IllegalArgumentException.class,
          () -> new Planner(PlannerConfig.of(0.5)).plan(source));
      assertTrue(e.getMessage().contains("layers.0.mlp.up_proj.weight") && e.getMessage().contains("do not match"),
          e.getMessage());
    }
  }
}
