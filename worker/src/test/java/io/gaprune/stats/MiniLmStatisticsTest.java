package io.gaprune.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.data.Triplet;
import io.gaprune.data.TripletReader;
import io.gaprune.model.ModelLoader;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The whole path on real inputs: triplet files → tokenizer → all-MiniLM-L6-v2 → InfoNCE → statistics of the
 * MLP tensors, accumulated over two batches.
 */
class MiniLmStatisticsTest {

  private static final Path DATA = Path.of(System.getProperty("gaprune.shared.data", "/work/shared/data"));
  private static final int BATCH = 4;

  @Test
  void realTripletsGiveFiniteStatisticsAndASensibleLoss() throws Exception {
    var general = TripletReader.readAll(DATA.resolve("general/train.json")).subList(0, 2 * BATCH);
    var domain = TripletReader.readAll(DATA.resolve("chem/train.json")).subList(0, 2 * BATCH);
    try (var manager = NDManager.newBaseManager();
        var model = ModelLoader.load("minilm", manager, DataType.FLOAT32, 64)) {
      var encoder = model.encoder();
      var partition = encoder.parameters().keySet().stream()
          .filter(n -> n.endsWith("intermediate.dense.weight") || n.endsWith("output.dense.weight"))
          .filter(n -> !n.contains("attention")).toList();
      assertEquals(12, partition.size());
      var step = new StatisticsStep(encoder, partition);
      var accumulator = new StatisticsAccumulator();
      for (int b = 0; b < 2; b++) {
        try (var batchManager = manager.newSubManager()) {
          var g = TripletBatch.tokenize(slice(general, b), model.tokenizer(), model.config(), batchManager);
          var d = TripletBatch.tokenize(slice(domain, b), model.tokenizer(), model.config(), batchManager);
          accumulator.add(b, step.run(g, d));
        }
      }
      var total = accumulator.total();
      assertEquals(2, total.batches());
      assertEquals(2 * BATCH, total.generalSamples());
      // a trained retriever ranks the positive above the 2·4 − 1 other candidates: well under log(8) = 2.08
      for (double mean : new double[] {total.generalLossSum() / total.generalSamples(),
          total.domainLossSum() / total.domainSamples()}) {
        assertTrue(mean > 0 && mean < Math.log(2 * BATCH), "mean loss " + mean);
      }
      System.out.printf("mean loss general %.4f, domain %.4f%n", total.generalLossSum() / total.generalSamples(),
          total.domainLossSum() / total.domainSamples());
      assertEquals(partition, List.copyOf(total.tensors().keySet()));
      for (var t : total.tensors().values()) {
        assertTrue(Math.abs(t.cosineSum()) <= 2, t.name() + " cosine sum " + t.cosineSum());
        double fisher = 0;
        for (int i = 0; i < t.size(); i++) {
          assertTrue(Double.isFinite(t.sumGeneral()[i]) && Double.isFinite(t.sumSqDomain()[i]), t.name());
          fisher += t.sumSqDomain()[i];
        }
        assertTrue(fisher > 0, t.name() + " has no domain gradient");
      }
    }
  }

  private static List<Triplet> slice(List<Triplet> all, int batch) {
    return all.subList(batch * BATCH, (batch + 1) * BATCH);
  }
}
