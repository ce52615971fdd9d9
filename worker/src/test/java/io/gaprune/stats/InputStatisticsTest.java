package io.gaprune.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.Batch;
import io.gaprune.model.Encoder;
import io.gaprune.model.LinearInputRecorder;
import io.gaprune.model.TinyModels;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The input statistics of linear layers (Σx², Σx·xᵀ) collected in the statistics step's forward passes. */
class InputStatisticsTest {

  /** Copies every linear input it is shown, with the mask, to plain arrays: the direct computation's data. */
  private static final class Capture implements LinearInputRecorder {
    final Map<String, List<double[][]>> tokens = new HashMap<>(); // per weight: the real tokens' inputs

    @Override
    public boolean wants(String weight) {
      return true;
    }

    @Override
    public void record(String weight, NDArray input, NDArray attentionMask) {
      long[] shape = input.getShape().getShape();
      int b = (int) shape[0];
      int s = (int) shape[1];
      int in = (int) shape[2];
      double[] x = input.stopGradient().toType(DataType.FLOAT64, false).toDoubleArray();
      long[] mask = attentionMask.toType(DataType.INT64, false).toLongArray();
      var list = tokens.computeIfAbsent(weight, w -> new ArrayList<>());
      for (int t = 0; t < b * s; t++) {
        if (mask[t] != 0) {
          var row = new double[in];
          System.arraycopy(x, t * in, row, 0, in);
          list.add(new double[][] {row});
        }
      }
    }
  }

  private static void embedAll(Encoder encoder, TripletBatch batch, LinearInputRecorder recorder) {
    for (Batch b : new Batch[] {batch.queries(), batch.positives(), batch.negatives()}) {
      encoder.embed(b, recorder);
    }
  }

  @Test
  void sumsEqualADirectComputationOverTheRealTokensForBothFamilies() {
    try (var manager = NDManager.newBaseManager()) {
      for (var encoder : List.<Encoder>of(
          TinyModels.qwen3(manager, TinyModels.qwen3Config(2), DataType.FLOAT64, 5),
          TinyModels.bert(manager, TinyModels.bertConfig(2), DataType.FLOAT64, 6))) {
        var random = new Random(4);
        var general = TinyModels.triplets(manager, random, 3);
        var domain = TinyModels.triplets(manager, random, 3);
        var partition = encoder.parameters().keySet().stream()
            .filter(n -> io.gaprune.model.LayerType.isCandidate(io.gaprune.model.LayerType.parse("linear"), n,
                encoder.parameters().get(n).getShape().getShape()))
            .toList();
        assertTrue(partition.size() >= 12, partition.toString());
        var step = new StatisticsStep(encoder, partition).withInputs(StatisticsStep.Inputs.GRAMS);
        var stats = step.run(general, domain);
        var generalInputs = new Capture();
        embedAll(encoder, general, generalInputs);
        var domainInputs = new Capture();
        embedAll(encoder, domain, domainInputs);
        for (var name : partition) {
          var inputs = stats.tensors().get(name).inputs();
          check(name, generalInputs.tokens.get(name), inputs.squaresGeneral(), inputs.gramGeneral(),
              inputs.tokensGeneral());
          check(name, domainInputs.tokens.get(name), inputs.squaresDomain(), inputs.gramDomain(),
              inputs.tokensDomain());
        }
        // layers that read the same tensor see the same inputs (q/k/v; gate/up)
        var first = partition.get(0);
        var second = partition.get(1);
        assertArrayEquals(stats.tensors().get(first).inputs().gramGeneral(),
            stats.tensors().get(second).inputs().gramGeneral(), 0.0, first + " vs " + second);
      }
    }
  }

  private static void check(String name, List<double[][]> tokens, double[] squares, double[] gram, long count) {
    int in = squares.length;
    assertEquals(tokens.size(), count, name + " tokens");
    assertTrue(count > 0);
    var directSquares = new double[in];
    var directGram = new double[PackedSymmetric.length(in)];
    for (var t : tokens) {
      double[] x = t[0];
      for (int i = 0; i < in; i++) {
        directSquares[i] += x[i] * x[i];
        for (int j = i; j < in; j++) {
          directGram[PackedSymmetric.index(i, j, in)] += x[i] * x[j];
        }
      }
    }
    for (int i = 0; i < in; i++) {
      assertEquals(directSquares[i], squares[i], 1e-10 * (1 + directSquares[i]), name + " Σx²[" + i + "]");
      assertEquals(directSquares[i], gram[PackedSymmetric.index(i, i, in)], 1e-10 * (1 + directSquares[i]),
          name + " diagonal " + i);
    }
    for (int k = 0; k < gram.length; k++) {
      assertEquals(directGram[k], gram[k], 1e-10 * (1 + Math.abs(directGram[k])), name + " Σxxᵀ[" + k + "]");
    }
  }

  @Test
  void recordingChangesNeitherTheForwardNorTheGradients() {
    try (var manager = NDManager.newBaseManager()) {
      for (var dtype : new DataType[] {DataType.FLOAT32, DataType.FLOAT64}) {
        for (var encoder : List.<Encoder>of(
            TinyModels.qwen3(manager, TinyModels.qwen3Config(2), dtype, 8),
            TinyModels.bert(manager, TinyModels.bertConfig(2), dtype, 9))) {
          var random = new Random(2);
          var general = TinyModels.triplets(manager, random, 3);
          var domain = TinyModels.triplets(manager, random, 3);
          assertArrayEquals(encoder.embed(general.queries()).toType(DataType.FLOAT64, false).toDoubleArray(),
              encoder.embed(general.queries(), new Capture()).toType(DataType.FLOAT64, false).toDoubleArray(), 0.0);
          var partition = encoder.parameters().keySet().stream().filter(n -> n.contains("mlp.")
              || n.contains("intermediate.dense.weight") || n.contains("output.dense.weight")).toList();
          var plain = new StatisticsStep(encoder, partition).run(general, domain);
          var withInputs = new StatisticsStep(encoder, partition).withInputs(StatisticsStep.Inputs.NORMS)
              .run(general, domain);
          for (var name : partition) {
            assertArrayEquals(plain.tensors().get(name).sumSqGeneral(), withInputs.tensors().get(name).sumSqGeneral(),
                0.0, name);
            assertArrayEquals(plain.tensors().get(name).sumDomain(), withInputs.tensors().get(name).sumDomain(), 0.0,
                name);
            assertTrue(withInputs.tensors().get(name).inputs().hasSquares()
                && !withInputs.tensors().get(name).inputs().hasGrams(), name);
          }
          assertEquals(plain.generalLossSum(), withInputs.generalLossSum(), 0.0);
        }
      }
    }
  }

  /** The recorder's detached copies and sums die with each step: no manager grows (as StatisticsStepLeakTest). */
  @Test
  void recordingLeavesNoArraysBehind() {
    try (var parameters = NDManager.newBaseManager(); var data = NDManager.newBaseManager()) {
      var encoder = TinyModels.bert(parameters, TinyModels.bertConfig(2), DataType.FLOAT32, 5);
      var random = new Random(2);
      var general = TinyModels.triplets(data, random, 4);
      var domain = TinyModels.triplets(data, random, 4);
      var partition = encoder.parameters().keySet().stream().filter(n -> n.endsWith("dense.weight")).toList();
      var step = new StatisticsStep(encoder, partition).withInputs(StatisticsStep.Inputs.GRAMS);
      var sums = step.run(general, domain);
      int parameterArrays = parameters.getManagedArrays().size();
      int dataArrays = data.getManagedArrays().size();
      int systemChildren = parameters.getParentManager().getManagedArrays().size();
      for (int i = 0; i < 40; i++) {
        sums = step.accumulate(general, domain, sums);
      }
      assertEquals(parameterArrays, parameters.getManagedArrays().size(), "parameter manager grew");
      assertEquals(dataArrays, data.getManagedArrays().size(), "batch manager grew");
      assertEquals(systemChildren, parameters.getParentManager().getManagedArrays().size(), "system manager grew");
      assertEquals(41, sums.batches());
    }
  }

  @Test
  void unitsAddUpAndNonLinearCandidatesAreRefused() {
    try (var manager = NDManager.newBaseManager()) {
      var encoder = TinyModels.qwen3(manager, TinyModels.qwen3Config(1), DataType.FLOAT64, 3);
      var random = new Random(6);
      var a = TinyModels.triplets(manager, random, 2);
      var b = TinyModels.triplets(manager, random, 2);
      var step = new StatisticsStep(encoder, List.of("layers.0.mlp.down_proj.weight"))
          .withInputs(StatisticsStep.Inputs.GRAMS);
      var one = step.run(a, b);
      var two = step.run(b, a);
      var sum = step.accumulate(b, a, step.run(a, b));
      var t = sum.tensors().get("layers.0.mlp.down_proj.weight").inputs();
      var t1 = one.tensors().get("layers.0.mlp.down_proj.weight").inputs();
      var t2 = two.tensors().get("layers.0.mlp.down_proj.weight").inputs();
      assertEquals(t1.tokensGeneral() + t2.tokensGeneral(), t.tokensGeneral());
      assertEquals(t1.tokensGeneral(), t2.tokensDomain());
      for (int i = 0; i < t.gramGeneral().length; i++) {
        assertEquals(t1.gramGeneral()[i] + t2.gramGeneral()[i], t.gramGeneral()[i], 1e-12 * (1 + Math.abs(t.gramGeneral()[i])));
      }
      var copy = one.copy().plus(two.copy());
      assertArrayEquals(t.squaresDomain(), copy.tensors().get("layers.0.mlp.down_proj.weight").inputs().squaresDomain(),
          1e-12);
      var e = assertThrows(IllegalArgumentException.class, () -> new StatisticsStep(encoder,
          List.of("embed_tokens.weight")).withInputs(StatisticsStep.Inputs.NORMS).run(a, b));
      assertTrue(e.getMessage().contains("embed_tokens.weight") && e.getMessage().contains("linear"), e.getMessage());
    }
  }
}
