package io.gaprune.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.TinyModels;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StatisticsStepTest {

  @Test
  void onlyThePartitionGetsGradientsAndStatistics() {
    try (var manager = NDManager.newBaseManager()) {
      var encoder = TinyModels.qwen3(manager, TinyModels.qwen3Config(2), DataType.FLOAT32, 7);
      var random = new Random(1);
      var general = TinyModels.triplets(manager, random, 4);
      var domain = TinyModels.triplets(manager, random, 4);
      var partition = List.of("layers.1.mlp.down_proj.weight", "layers.0.mlp.gate_proj.weight",
          "layers.0.mlp.up_proj.weight");

      var c = new StatisticsStep(encoder, partition).run(general, domain);

      // listed in the encoder's order, whatever order the partition was given in
      assertEquals(List.of("layers.0.mlp.gate_proj.weight", "layers.0.mlp.up_proj.weight",
          "layers.1.mlp.down_proj.weight"), new ArrayList<>(c.tensors().keySet()));
      for (var e : encoder.parameters().entrySet()) {
        assertEquals(partition.contains(e.getKey()), e.getValue().hasGradient(), e.getKey());
      }
      for (var t : c.tensors().values()) {
        assertArrayEquals(encoder.parameters().get(t.name()).getShape().getShape(), t.shape());
        assertTrue(norm(t.sumGeneral()) > 0 && norm(t.sumDomain()) > 0, t.name() + " has a zero gradient");
        double cosine = dot(t.sumGeneral(), t.sumDomain()) / (norm(t.sumGeneral()) * norm(t.sumDomain()));
        assertEquals(cosine, t.cosineSum(), 1e-12, t.name());
        assertEquals(cosine < 0 ? 1 : 0, t.negativeCosines(), t.name());
      }
      assertEquals(1, c.batches());
      assertEquals(4, c.generalSamples());
      assertEquals(4, c.domainSamples());
      assertEquals(4 * FiniteDifferences.loss(encoder, general), c.generalLossSum(), 1e-5);
      assertEquals(4 * FiniteDifferences.loss(encoder, domain), c.domainLossSum(), 1e-5);

      // a second partition on the same encoder releases the first one's tensors
      var other = new StatisticsStep(encoder, Set.of("norm.weight")).run(general, domain);
      assertEquals(Set.of("norm.weight"), other.tensors().keySet());
      assertTrue(encoder.parameters().get("norm.weight").hasGradient());
      assertFalse(encoder.parameters().get("layers.0.mlp.up_proj.weight").hasGradient());
    }
  }

  /** The second half must not see the first half's gradient, nor a step the previous step's. */
  @Test
  void gradientsDoNotCarryOverBetweenHalvesOrSteps() {
    try (var manager = NDManager.newBaseManager()) {
      var encoder = TinyModels.qwen3(manager, TinyModels.qwen3Config(1), DataType.FLOAT64, 2);
      var random = new Random(3);
      var a = TinyModels.triplets(manager, random, 3);
      var b = TinyModels.triplets(manager, random, 3);
      var step = new StatisticsStep(encoder, encoder.parameters().keySet());
      var ab = step.run(a, b);
      var ba = step.run(b, a);
      var aa = step.run(a, a);
      for (var name : encoder.parameters().keySet()) {
        assertArrayEquals(ab.tensors().get(name).sumGeneral(), ba.tensors().get(name).sumDomain(), 0.0, name);
        assertArrayEquals(ab.tensors().get(name).sumGeneral(), aa.tensors().get(name).sumDomain(), 0.0, name);
      }
    }
  }

  /**
   * A tensor the forward pass never reads (BERT's pooler) has no gradient at all in PyTorch; its statistics
   * are those of a zero gradient, not a crash.
   */
  @Test
  void aTensorTheLossDoesNotReachGetsZeroStatistics() {
    try (var manager = NDManager.newBaseManager()) {
      var config = TinyModels.bertConfig(1);
      var parameters = TinyModels.parameters(TinyModels.bert(manager, config, DataType.FLOAT32, 4));
      parameters.put("pooler.dense.weight", manager.ones(new ai.djl.ndarray.types.Shape(12, 12)));
      parameters.put("pooler.dense.bias", manager.ones(new ai.djl.ndarray.types.Shape(12)));
      var encoder = new io.gaprune.model.bert.BertEncoder(config, parameters);
      var random = new Random(9);
      var general = TinyModels.triplets(manager, random, 3);
      var domain = TinyModels.triplets(manager, random, 3);
      var c = new StatisticsStep(encoder, List.of("pooler.dense.weight", "encoder.layer.0.output.dense.weight"))
          .run(general, domain);
      var pooler = c.tensors().get("pooler.dense.weight");
      assertEquals(0, norm(pooler.sumSqGeneral()) + norm(pooler.sumDomain()));
      assertEquals(0, pooler.cosineSum());
      assertTrue(norm(c.tensors().get("encoder.layer.0.output.dense.weight").sumGeneral()) > 0);
    }
  }

  /**
   * The backward pass must read only memory that autograd owns. DJL's {@code div(Number)} and kin put the
   * number in a tensor over a Java direct buffer and close it after the op; a collection between the forward
   * and the backward pass then frees the buffer that autograd saved, and the gradients below the op become
   * garbage (how the NaN of "non-finite statistic ... SUM_SQ_GENERAL" came about). Here the collector runs
   * between the passes, and the gradients must be bit-identical to those of an undisturbed step, for both
   * families and both dtypes.
   */
  @Test
  void gradientsDoNotDependOnTheGarbageCollector() throws InterruptedException {
    for (var dtype : List.of(DataType.FLOAT32, DataType.FLOAT64)) {
      try (var manager = NDManager.newBaseManager()) {
        var encoders = List.<io.gaprune.model.Encoder>of(
            TinyModels.bert(manager, TinyModels.bertConfig(2), dtype, 5),
            TinyModels.qwen3(manager, TinyModels.qwen3Config(2), dtype, 6));
        for (var encoder : encoders) {
          var batch = TinyModels.triplets(manager, new Random(8), 4);
          var undisturbed = gradients(encoder, batch, false);
          var collected = gradients(encoder, batch, true);
          for (var e : undisturbed.entrySet()) {
            var label = encoder + " " + e.getKey();
            for (double g : collected.get(e.getKey())) {
              assertTrue(Double.isFinite(g), label + " has a non-finite gradient after a collection");
            }
            assertArrayEquals(e.getValue(), collected.get(e.getKey()), 0.0, label);
          }
        }
      }
    }
  }

  /** Every parameter's gradient of the batch's loss; {@code collect} runs the garbage collector mid-step. */
  private static java.util.Map<String, double[]> gradients(io.gaprune.model.Encoder encoder, TripletBatch batch,
      boolean collect) throws InterruptedException {
    var out = new java.util.LinkedHashMap<String, double[]>();
    try (var step = NDManager.newBaseManager()) {
      step.tempAttachAll(batch.arrays());
      encoder.parameters().values().forEach(p -> p.setRequiresGradient(true));
      try (var recording = ProcessAutograd.open()) {
        var loss = InfoNceLoss.loss(encoder.embed(batch.queries()), encoder.embed(batch.positives()),
            encoder.embed(batch.negatives()));
        if (collect) {
          for (int i = 0; i < 5; i++) {
            System.gc(); // buffers that only closed arrays referenced are freed now, before backward reads them
            Thread.sleep(20);
          }
        }
        recording.collector().backward(loss);
      }
      for (var e : encoder.parameters().entrySet()) {
        var gradient = e.getValue().getGradient();
        step.attachAll(gradient);
        out.put(e.getKey(), gradient.toType(DataType.FLOAT64, false).toDoubleArray());
        ai.djl.pytorch.jni.JniUtils.zeroGrad((ai.djl.pytorch.engine.PtNDArray) e.getValue());
      }
      encoder.parameters().values().forEach(p -> p.setRequiresGradient(false));
    }
    return out;
  }

  @Test
  void rejectsNamesTheEncoderDoesNotHave() {
    try (var manager = NDManager.newBaseManager()) {
      var encoder = TinyModels.qwen3(manager, TinyModels.qwen3Config(1), DataType.FLOAT32, 2);
      var e = assertThrows(IllegalArgumentException.class,
          () -> new StatisticsStep(encoder, List.of("layers.0.mlp.up_proj.weight", "layers.9.mlp.up_proj.weight")));
      assertEquals("partition names parameters the encoder does not have: [layers.9.mlp.up_proj.weight]",
          e.getMessage());
    }
  }

  static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  static double norm(double[] a) {
    return Math.sqrt(dot(a, a));
  }
}
