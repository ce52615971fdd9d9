package io.gaprune.stats;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.Batch;
import io.gaprune.model.TinyModels;
import java.util.ArrayList;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Autograd through BERT → mean pooling → InfoNCE equals central finite differences (float64) for every
 * parameter: word, position and token-type embeddings, every LayerNorm gain and bias, q/k/v, attention
 * output, intermediate and output dense weights and biases.
 */
class BertGradientTest {

  @Test
  void everyParameterKindMatchesFiniteDifferences() {
    try (var manager = NDManager.newBaseManager()) {
      var encoder = TinyModels.bert(manager, TinyModels.bertConfig(2), DataType.FLOAT64, 13);
      var random = new Random(6);
      var general = withSegments(manager, TinyModels.triplets(manager, random, 3));
      var domain = withSegments(manager, TinyModels.triplets(manager, random, 3));
      var names = new ArrayList<>(encoder.parameters().keySet());
      var contribution = new StatisticsStep(encoder, names).run(general, domain);

      int nonTrivial = FiniteDifferences.check(encoder, general, contribution, true, names,
          "embeddings.word_embeddings.weight", FiniteDifferences.tokens(general), 3, random);
      nonTrivial += FiniteDifferences.check(encoder, domain, contribution, false, names,
          "embeddings.word_embeddings.weight", FiniteDifferences.tokens(domain), 1, random);
      // 37 tensors × 4 probes; position rows beyond the longest text have no gradient
      assertTrue(nonTrivial > 110, "only " + nonTrivial + " probes had a non-negligible gradient");
    }
  }

  /**
   * BERT reads right-padded batches with token types: flips the tiny left-padded batches to the right and
   * marks the second half of each text as segment 1, so both token-type rows get gradients.
   */
  private static TripletBatch withSegments(NDManager manager, TripletBatch batch) {
    return new TripletBatch(rightPadded(manager, batch.queries()), rightPadded(manager, batch.positives()),
        rightPadded(manager, batch.negatives()));
  }

  private static Batch rightPadded(NDManager manager, Batch left) {
    var shape = left.inputIds().getShape();
    int rows = (int) shape.get(0);
    int seq = (int) shape.get(1);
    var ids = left.inputIds().toLongArray();
    var mask = left.attentionMask().toLongArray();
    var outIds = new long[ids.length];
    var outMask = new long[ids.length];
    var types = new long[ids.length];
    for (int r = 0; r < rows; r++) {
      int n = 0;
      for (int t = 0; t < seq; t++) {
        if (mask[r * seq + t] == 1) {
          outIds[r * seq + n] = ids[r * seq + t];
          outMask[r * seq + n] = 1;
          n++;
        }
      }
      for (int t = n / 2; t < n; t++) {
        types[r * seq + t] = 1;
      }
    }
    return new Batch(manager.create(outIds, shape), manager.create(outMask, shape), manager.create(types, shape));
  }
}
