package io.gaprune.stats;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.gaprune.model.Encoder;
import io.gaprune.model.ModelConfig;
import io.gaprune.model.TinyModels;
import io.gaprune.model.qwen3.Qwen3Encoder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Forward + backward of one statistics batch (general + domain half) on random Qwen3 models, three ways, in
 * interleaved rounds so that load from other processes hits all three alike:
 * <ul>
 *   <li>bare: the same encoder and loss calls in a plain loop (one collector, backward, zero the grads, close
 *       a sub-manager) — what any DJL training loop pays;
 *   <li>step, statistics off: {@link StatisticsStep} without reading gradients (its manager and partition
 *       handling on top of bare);
 *   <li>step, statistics on: plus copying gradients to float64, g², cosines and {@link StatisticsAccumulator}.
 * </ul>
 * Run: {@code mvn -B -ntp -Pbench -pl worker -am verify -Dtest=StepBenchmark -Dsurefire.failIfNoSpecifiedTests=false}
 */
@Tag("bench")
class StepBenchmark {

  private static final int WARM_UP = 3;
  private static final int ROUNDS = 15;

  record Setup(String name, ModelConfig config, int triplets, int tokens) {}

  @Test
  void stepTimes() {
    var setups = List.of(
        new Setup("tiny   (2 layers, hidden 12, 4/2 heads)", TinyModels.qwen3Config(2), 4, 8),
        new Setup("small  (4 layers, hidden 256, 8/4 heads, 0.79M weights per layer)", small(), 8, 32));
    System.out.println("| model | triplets × tokens | parameters | bare ms | step, stats off ms | step, stats on ms"
        + " | off / bare | on / off |");
    System.out.println("|---|---|---|---|---|---|---|---|");
    for (var setup : setups) {
      run(setup);
    }
    System.out.println("engine: " + Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion()
        + ", " + Runtime.getRuntime().availableProcessors() + " cores");
  }

  static ModelConfig small() {
    return new ModelConfig(ModelConfig.Family.QWEN3, 2000, 256, 4, 8, 4, 32, 768, 512, 1e-6, 1_000_000.0, 0,
        ModelConfig.Pooling.LAST_TOKEN, true, Qwen3Encoder.QUERY_INSTRUCTION);
  }

  private static void run(Setup setup) {
    try (var manager = NDManager.newBaseManager()) {
      var encoder = TinyModels.qwen3(manager, setup.config(), DataType.FLOAT32, 1);
      var random = new Random(4);
      var general = batch(manager, random, setup);
      var domain = batch(manager, random, setup);
      var names = new ArrayList<>(encoder.parameters().keySet());
      var step = new StatisticsStep(encoder, names);
      var accumulator = new StatisticsAccumulator();
      long[] batchIndex = {0};
      List<Supplier<Object>> variants = List.of(
          () -> bare(encoder, names, general, domain),
          () -> step.run(general, domain, false),
          () -> {
            accumulator.add(batchIndex[0]++, step.run(general, domain, true));
            return null;
          });
      var times = new double[variants.size()][ROUNDS];
      for (int round = -WARM_UP; round < ROUNDS; round++) {
        for (int v = 0; v < variants.size(); v++) {
          long start = System.nanoTime();
          variants.get(v).get();
          if (round >= 0) {
            times[v][round] = (System.nanoTime() - start) / 1e6;
          }
        }
      }
      double bare = median(times[0]);
      double off = median(times[1]);
      double on = median(times[2]);
      long parameters = encoder.parameters().values().stream().mapToLong(a -> a.getShape().size()).sum();
      System.out.println(String.format(Locale.ROOT, "| %s | %d × %d | %,d | %.1f | %.1f | %.1f | %.2f | %.2f |",
          setup.name(), setup.triplets(), setup.tokens(), parameters, bare, off, on, off / bare, on / off));
    }
  }

  private static TripletBatch batch(NDManager manager, Random random, Setup setup) {
    var lengths = new int[setup.triplets()];
    Arrays.fill(lengths, setup.tokens());
    lengths[0] = setup.tokens() / 2; // some left padding
    return new TripletBatch(TinyModels.leftPadded(manager, random, lengths),
        TinyModels.leftPadded(manager, random, lengths), TinyModels.leftPadded(manager, random, lengths));
  }

  /** The plain loop: forward, loss, backward, zero the gradients, free the step. */
  private static Object bare(Encoder encoder, List<String> names, TripletBatch general, TripletBatch domain) {
    names.forEach(n -> encoder.parameters().get(n).setRequiresGradient(true));
    try (var step = NDManager.newBaseManager(); var collector = Engine.getInstance().newGradientCollector()) {
      step.tempAttachAll(general.arrays());
      step.tempAttachAll(domain.arrays());
      for (var half : new TripletBatch[] {general, domain}) {
        var loss = InfoNceLoss.loss(encoder.embed(half.queries()), encoder.embed(half.positives()),
            encoder.embed(half.negatives()));
        collector.backward(loss);
        for (var n : names) {
          JniUtils.zeroGrad((PtNDArray) encoder.parameters().get(n));
        }
      }
    }
    return null;
  }

  static double median(double[] values) {
    var sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
