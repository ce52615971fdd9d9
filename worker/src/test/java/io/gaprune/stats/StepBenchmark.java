package io.gaprune.stats;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.gaprune.data.TripletReader;
import io.gaprune.model.Encoder;
import io.gaprune.model.ModelLoader;
import io.gaprune.model.ModelConfig;
import io.gaprune.model.TinyModels;
import io.gaprune.model.qwen3.Qwen3Encoder;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Forward + backward of one statistics batch (general + domain half) on random Qwen3 models and on
 * all-MiniLM-L6-v2 with real triplets, three ways, in interleaved rounds (the first variant rotating) so that
 * load from other processes hits all three alike:
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

  record Setup(String name, ModelConfig config, int triplets, int tokens) {}

  @Test
  void stepTimes() throws Exception {
    var setups = List.of(
        new Setup("Qwen3 tiny (2 layers, hidden 12, 4/2 heads)", TinyModels.qwen3Config(2), 4, 8),
        new Setup("Qwen3 small (4 layers, hidden 256, 8/4 heads)", small(), 8, 32));
    System.out.println("Medians of wall ms / process CPU ms (CPU time is what the step costs; wall time also shows"
        + " waiting for cores other processes hold).");
    System.out.println("| model | partition | triplets × tokens | partition weights | bare | step, stats off"
        + " | step, stats on | off / bare | on / off |");
    System.out.println("|---|---|---|---|---|---|---|---|---|");
    for (var setup : setups) {
      try (var manager = NDManager.newBaseManager()) {
        var encoder = TinyModels.qwen3(manager, setup.config(), DataType.FLOAT32, 1);
        var random = new Random(4);
        var general = batch(manager, random, setup);
        var domain = batch(manager, random, setup);
        run(setup.name(), "all", setup.triplets() + " × " + setup.tokens(), encoder,
            new ArrayList<>(encoder.parameters().keySet()), general, domain, 3, 15);
      }
    }
    miniLm();
    System.out.println("engine: " + Engine.getInstance().getEngineName() + " " + Engine.getInstance().getVersion()
        + ", " + Runtime.getRuntime().availableProcessors() + " cores");
  }

  static ModelConfig small() {
    return new ModelConfig(ModelConfig.Family.QWEN3, 2000, 256, 4, 8, 4, 32, 768, 512, 1e-6, 1_000_000.0, 0,
        ModelConfig.Pooling.LAST_TOKEN, true, Qwen3Encoder.QUERY_INSTRUCTION);
  }

  /** all-MiniLM-L6-v2 on 8 + 8 real triplets (chem, general), MLP partition and all parameters. */
  private static void miniLm() throws Exception {
    var data = Path.of(System.getProperty("gaprune.shared.data", "/work/shared/data"));
    try (var manager = NDManager.newBaseManager();
        var model = ModelLoader.load("minilm", manager, DataType.FLOAT32, 128)) {
      var general = TripletBatch.tokenize(TripletReader.readAll(data.resolve("general/train.json")).subList(0, 8),
          model.tokenizer(), model.config(), manager);
      var domain = TripletBatch.tokenize(TripletReader.readAll(data.resolve("chem/train.json")).subList(0, 8),
          model.tokenizer(), model.config(), manager);
      var tokens = general.positives().inputIds().getShape().get(1) + "/" + domain.positives().inputIds().getShape().get(1);
      var encoder = model.encoder();
      var mlp = encoder.parameters().keySet().stream()
          .filter(n -> n.endsWith("intermediate.dense.weight")
              || (n.endsWith("output.dense.weight") && !n.contains("attention")))
          .toList();
      // MLP only: an all-parameter accumulator of MiniLM holds 4 × 22.7M doubles per block
      run("all-MiniLM-L6-v2", "MLP weights", "8 × ≤" + tokens, encoder, mlp, general, domain, 2, 9);
    }
  }

  private static void run(String name, String partitionName, String shape, Encoder encoder, List<String> names,
      TripletBatch general, TripletBatch domain, int warmUp, int rounds) {
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
    var times = new double[variants.size()][rounds];
    var cpu = new double[variants.size()][rounds];
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    for (int round = -warmUp; round < rounds; round++) {
      for (int k = 0; k < variants.size(); k++) {
        int v = Math.floorMod(round + k, variants.size()); // rotate who goes first: no position bias (GC, caches)
        long start = System.nanoTime();
        long startCpu = os.getProcessCpuTime();
        variants.get(v).get();
        if (round >= 0) {
          times[v][round] = (System.nanoTime() - start) / 1e6;
          cpu[v][round] = (os.getProcessCpuTime() - startCpu) / 1e6;
        }
      }
    }
    double bare = median(times[0]);
    double off = median(times[1]);
    double on = median(times[2]);
    long weights = names.stream().mapToLong(n -> encoder.parameters().get(n).getShape().size()).sum();
    double bareCpu = median(cpu[0]);
    double offCpu = median(cpu[1]);
    double onCpu = median(cpu[2]);
    System.out.println(String.format(Locale.ROOT,
        "| %s | %s | %s | %,d | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f | %.2f / %.2f | %.2f / %.2f |",
        name, partitionName, shape, weights, bare, bareCpu, off, offCpu, on, onCpu, off / bare, offCpu / bareCpu,
        on / off, onCpu / offCpu));
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
    encoder.parameters().forEach((n, p) -> p.setRequiresGradient(names.contains(n)));
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
