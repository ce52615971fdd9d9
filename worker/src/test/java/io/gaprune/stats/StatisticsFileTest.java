package io.gaprune.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.model.safetensors.DType;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.model.safetensors.TensorSpec;
import io.gaprune.protocol.InputStatistics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

  /** Σx² and, when asked, the packed Gram matrices of a layer with {@code in} inputs, in awkward doubles. */
  static InputSums inputs(int in, boolean grams, double base) {
    var sums = InputSums.zeros(in, grams);
    for (int j = 0; j < in; j++) {
      sums.squaresGeneral()[j] = base * j + Double.MIN_VALUE; // subnormal bits survive
      sums.squaresDomain()[j] = j == 0 ? -0.0 : Math.scalb(base, -j * 40);
    }
    for (int k = 0; k < sums.gramGeneral().length; k++) {
      sums.gramGeneral()[k] = base / (k + 3); // the packed position is what travels: no two alike
      sums.gramDomain()[k] = -Math.ulp(base) * k;
    }
    // counts past 2⁵³, where a double would round
    return new InputSums(sums.squaresGeneral(), sums.squaresDomain(), sums.gramGeneral(), sums.gramDomain(),
        (1L << 53) + 1, 123_456_789L * (long) base);
  }

  private static void assertBits(double[] expected, double[] actual, String what) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(Double.doubleToRawLongBits(expected[i]), Double.doubleToRawLongBits(actual[i]),
          what + " [" + i + "]");
    }
  }

  /** Writes {@code stats}, reads them back and checks every array bit for bit and every counter. */
  private UnitStatistics roundTrip(UnitStatistics stats, String fileName) throws IOException {
    var file = dir.resolve(fileName);
    StatisticsFile.write(stats, "minilm", file);
    var loaded = StatisticsFile.read(file);
    assertEquals("minilm", loaded.model());
    var back = loaded.statistics();
    assertEquals(stats.generalSamples(), back.generalSamples());
    assertEquals(stats.domainSamples(), back.domainSamples());
    assertEquals(stats.batches(), back.batches());
    assertEquals(stats.generalLossSum(), back.generalLossSum());
    assertEquals(stats.domainLossSum(), back.domainLossSum());
    assertEquals(List.copyOf(stats.tensors().keySet()), List.copyOf(back.tensors().keySet()));
    for (var t : stats.tensors().values()) {
      var b = back.tensors().get(t.name());
      assertArrayEquals(t.shape(), b.shape());
      assertBits(t.sumSqGeneral(), b.sumSqGeneral(), t.name() + " Σg² general");
      assertBits(t.sumGeneral(), b.sumGeneral(), t.name() + " Σg general");
      assertBits(t.sumSqDomain(), b.sumSqDomain(), t.name() + " Σg² domain");
      assertBits(t.sumDomain(), b.sumDomain(), t.name() + " Σg domain");
      assertEquals(t.cosineSum(), b.cosineSum());
      assertEquals(t.negativeCosines(), b.negativeCosines());
      var in = t.inputs();
      var bin = b.inputs();
      assertEquals(in.hasSquares(), bin.hasSquares(), t.name());
      assertEquals(in.hasGrams(), bin.hasGrams(), t.name());
      assertBits(in.squaresGeneral(), bin.squaresGeneral(), t.name() + " Σx² general");
      assertBits(in.squaresDomain(), bin.squaresDomain(), t.name() + " Σx² domain");
      assertBits(in.gramGeneral(), bin.gramGeneral(), t.name() + " Σxxᵀ general");
      assertBits(in.gramDomain(), bin.gramDomain(), t.name() + " Σxxᵀ domain");
      assertEquals(in.tokensGeneral(), bin.tokensGeneral(), t.name());
      assertEquals(in.tokensDomain(), bin.tokensDomain(), t.name());
    }
    return back;
  }

  @Test
  void inputStatisticsRoundTripBitExactWithAndWithoutGramMatrices() throws Exception {
    var tensors = new LinkedHashMap<String, TensorStats>();
    var up = "layers.0.mlp.up_proj.weight";
    var down = "layers.0.mlp.down_proj.weight";
    var fisherOnly = "layers.1.mlp.up_proj.weight";
    tensors.put(up, tensor(up, new long[] {3, 5}, 1.5).withInputs(inputs(5, true, 1.5)));
    tensors.put(down, tensor(down, new long[] {5, 3}, 2).withInputs(inputs(3, true, 2)));
    var f = TensorStats.zeros(fisherOnly, new long[] {2, 4}, false);
    f.sumSqGeneral()[3] = 0.75;
    tensors.put(fisherOnly, f.withInputs(inputs(4, true, 3)));
    tensors.put("layers.0.mlp.up_proj.bias", tensor("layers.0.mlp.up_proj.bias", new long[] {3}, 7));
    var grams = roundTrip(new UnitStatistics(tensors, 512, 480, 32, 12.25, 1e-3 / 3), "grams.safetensors");
    assertEquals(tensors.get(up).inputs(), grams.tensors().get(up).inputs());
    assertTrue(grams.tensors().get("layers.0.mlp.up_proj.bias").inputs() == InputSums.NONE);
    assertEquals(15, grams.tensors().get(up).inputs().gramGeneral().length);
    // the packing is PackedSymmetric's: (i, j), i ≤ j, row by row, where the planner unpacks it
    var gram = grams.tensors().get(up).inputs().gramGeneral();
    assertEquals(1.5 / (PackedSymmetric.index(1, 3, 5) + 3), PackedSymmetric.unpack(gram, 5)[3 * 5 + 1]);
    assertEquals(InputStatistics.INPUT_STATISTICS_NONE, StatisticsFile.contents(dir.resolve("grams.safetensors"))
        .inputs(), "the bias has none, so the file does not serve every tensor");

    var norms = new LinkedHashMap<String, TensorStats>();
    norms.put(up, tensor(up, new long[] {3, 5}, 1.5).withInputs(inputs(5, false, 1.5)));
    norms.put(fisherOnly, f.withInputs(inputs(4, false, 3)));
    roundTrip(new UnitStatistics(norms, 16, 16, 1, 1, 2), "norms.safetensors");
    var contents = StatisticsFile.contents(dir.resolve("norms.safetensors"));
    assertEquals(InputStatistics.INPUT_NORMS, contents.inputs());
    assertEquals(2, contents.tensors());
    assertEquals("minilm", contents.model());

    var both = new LinkedHashMap<String, TensorStats>();
    both.put(up, tensors.get(up));
    both.put(down, tensors.get(down));
    roundTrip(new UnitStatistics(both, 16, 16, 1, 1, 2), "both.safetensors");
    assertEquals(InputStatistics.INPUT_GRAMS, StatisticsFile.contents(dir.resolve("both.safetensors")).inputs());

    var none = new LinkedHashMap<String, TensorStats>();
    none.put(up, tensor(up, new long[] {3, 5}, 1.5));
    assertTrue(roundTrip(new UnitStatistics(none, 16, 16, 1, 1, 2), "none.safetensors").tensors().get(up).inputs()
        == InputSums.NONE);
  }

  /** The entries a file written before the input statistics held: the four sums and the metadata, nothing else. */
  @Test
  void filesWrittenBeforeTheInputStatisticsStillRead() throws Exception {
    var file = dir.resolve("old.safetensors");
    var name = "layers.0.mlp.up_proj.weight";
    var t = tensor(name, new long[] {2, 3}, 4);
    var md = new LinkedHashMap<String, String>(Map.of("format", "gaprune-statistics-1", "model", "minilm",
        "general_samples", "32", "domain_samples", "32", "batches", "2", "general_loss_sum", "3.5",
        "domain_loss_sum", "4.5", name + ".cosine_sum", "0.4", name + ".negative_cosines", "4"));
    var parts = List.of("sum_sq_general", "sum_general", "sum_sq_domain", "sum_domain");
    try (var w = SafetensorsWriter.create(file, parts.stream().map(p -> new TensorSpec(name + "." + p, DType.F64,
        new long[] {2, 3})).toList(), md)) {
      w.writeDoubles(name + ".sum_sq_general", t.sumSqGeneral());
      w.writeDoubles(name + ".sum_general", t.sumGeneral());
      w.writeDoubles(name + ".sum_sq_domain", t.sumSqDomain());
      w.writeDoubles(name + ".sum_domain", t.sumDomain());
    }
    var back = StatisticsFile.read(file).statistics().tensors().get(name);
    assertBits(t.sumSqGeneral(), back.sumSqGeneral(), "Σg² general");
    assertBits(t.sumDomain(), back.sumDomain(), "Σg domain");
    assertTrue(back.inputs() == InputSums.NONE);
    var contents = StatisticsFile.contents(file);
    assertEquals(InputStatistics.INPUT_STATISTICS_NONE, contents.inputs());
    assertEquals("no input statistics", contents.inputsDescription());
  }

  /** One float64 (or, for a name in {@code float32}, float32) entry per array, as a hand-made or damaged file. */
  private Path handMade(String fileName, Map<String, double[]> arrays, Map<String, long[]> shapes,
      List<String> float32, Map<String, String> extraMetadata) throws IOException {
    var file = dir.resolve(fileName);
    var md = new LinkedHashMap<String, String>(Map.of("format", "gaprune-statistics-1", "model", "minilm",
        "general_samples", "4", "domain_samples", "4", "batches", "1", "general_loss_sum", "1",
        "domain_loss_sum", "1"));
    md.putAll(extraMetadata);
    var specs = new ArrayList<TensorSpec>();
    arrays.forEach((n, a) -> specs.add(new TensorSpec(n, float32.contains(n) ? DType.F32 : DType.F64,
        shapes.getOrDefault(n, new long[] {a.length}))));
    try (var w = SafetensorsWriter.create(file, specs, md)) {
      for (var e : arrays.entrySet()) {
        if (float32.contains(e.getKey())) {
          var f = new float[e.getValue().length];
          w.writeFloats(e.getKey(), f);
        } else {
          w.writeDoubles(e.getKey(), e.getValue());
        }
      }
    }
    return file;
  }

  @Test
  void malformedInputStatisticsAreRefusedNamingFileAndTensor() throws Exception {
    var t = "layers.0.mlp.up_proj.weight";
    var shape = Map.of(t + ".sum_sq_general", new long[] {3, 5}, t + ".sum_sq_domain", new long[] {3, 5});
    var tokens = Map.of(t + ".cosine_sum", "0", t + ".negative_cosines", "0", t + ".input_tokens_general", "10",
        t + ".input_tokens_domain", "12");
    record Case(String what, Map<String, double[]> inputs, List<String> float32, Map<String, String> metadata,
        String message) {}
    var cases = List.of(
        new Case("Σx² of 4 channels for 5 inputs", Map.of(t + ".input_sq_general", new double[4],
            t + ".input_sq_domain", new double[4]), List.of(), tokens,
            t + ".input_sq_general is F64[4], expected F64[5]"),
        new Case("Σx² in float32", Map.of(t + ".input_sq_general", new double[5], t + ".input_sq_domain",
            new double[5]), List.of(t + ".input_sq_domain"), tokens, t + ".input_sq_domain is F32[5], expected F64[5]"),
        new Case("a Gram matrix of the wrong length", Map.of(t + ".input_sq_general", new double[5],
            t + ".input_sq_domain", new double[5], t + ".input_gram_general", new double[25], t + ".input_gram_domain",
            new double[25]), List.of(), tokens, t + ".input_gram_general is F64[25], expected F64[15]"),
        new Case("one half's Σx² only", Map.of(t + ".input_sq_general", new double[5]), List.of(), tokens,
            "tensor " + t + " has " + t + ".input_sq_general without " + t + ".input_sq_domain"),
        new Case("one half's Gram matrix only", Map.of(t + ".input_sq_general", new double[5], t + ".input_sq_domain",
            new double[5], t + ".input_gram_domain", new double[15]), List.of(), tokens,
            "tensor " + t + " has " + t + ".input_gram_domain without " + t + ".input_gram_general"),
        new Case("Gram matrices without Σx²", Map.of(t + ".input_gram_general", new double[15],
            t + ".input_gram_domain", new double[15]), List.of(), tokens,
            "tensor " + t + " has the input Gram matrices but not Σx²"),
        new Case("no token count", Map.of(t + ".input_sq_general", new double[5], t + ".input_sq_domain",
            new double[5]), List.of(), Map.of(t + ".cosine_sum", "0", t + ".negative_cosines", "0",
                t + ".input_tokens_general", "10"), "metadata entry \"" + t + ".input_tokens_domain\" is missing"),
        new Case("a negative token count", Map.of(t + ".input_sq_general", new double[5], t + ".input_sq_domain",
            new double[5]), List.of(), Map.of(t + ".cosine_sum", "0", t + ".negative_cosines", "0",
                t + ".input_tokens_general", "-1", t + ".input_tokens_domain", "3"),
            "metadata entry \"" + t + ".input_tokens_general\" is not a count: -1"),
        new Case("input statistics of a tensor that is not there",
            Map.of("layers.9.mlp.up_proj.weight.input_sq_general", new double[5]), List.of(), tokens,
            "tensor layers.9.mlp.up_proj.weight has input statistics (layers.9.mlp.up_proj.weight.input_sq_general) "
                + "but no layers.9.mlp.up_proj.weight.sum_sq_general"));
    int i = 0;
    for (var c : cases) {
      var arrays = new LinkedHashMap<String, double[]>();
      arrays.put(t + ".sum_sq_general", new double[15]);
      arrays.put(t + ".sum_sq_domain", new double[15]);
      arrays.putAll(c.inputs());
      var file = handMade("bad" + i++ + ".safetensors", arrays, shape, c.float32(), c.metadata());
      var e = assertThrows(IOException.class, () -> StatisticsFile.read(file), c.what());
      assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains(c.message()),
          c.what() + ": " + e.getMessage());
    }
    // input statistics of a tensor that is not a linear layer [out, in]
    var bias = "layers.0.mlp.up_proj.bias";
    var file = handMade("bias.safetensors", new LinkedHashMap<>(Map.of(bias + ".sum_sq_general", new double[3],
        bias + ".sum_sq_domain", new double[3], bias + ".input_sq_general", new double[3], bias + ".input_sq_domain",
        new double[3])), Map.of(), List.of(), Map.of(bias + ".cosine_sum", "0", bias + ".negative_cosines", "0",
            bias + ".input_tokens_general", "1", bias + ".input_tokens_domain", "1"));
    var e = assertThrows(IOException.class, () -> StatisticsFile.read(file));
    assertTrue(e.getMessage().contains(file + ": tensor " + bias + " has input statistics, but its shape [3] is not a "
        + "linear layer's [out, in]"), e.getMessage());
  }

  @Test
  void roundTripIsBitExact() throws Exception {
    var tensors = new LinkedHashMap<String, TensorStats>();
    tensors.put("layers.0.mlp.up_proj.weight", tensor("layers.0.mlp.up_proj.weight", new long[] {3, 5}, 1.5));
    tensors.put("layers.0.mlp.up_proj.bias", tensor("layers.0.mlp.up_proj.bias", new long[] {3}, 7));
    roundTrip(new UnitStatistics(tensors, 512, 480, 32, 12.25, 1e-3 / 3), "statistics.safetensors");
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
