package io.gaprune.stats;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.TinyModels;
import java.util.ArrayList;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Autograd through Qwen3 → last-token pooling → InfoNCE equals central finite differences (float64). */
class Qwen3GradientTest {

  @Test
  void everyParameterKindMatchesFiniteDifferences() {
    try (var manager = NDManager.newBaseManager()) {
      var encoder = TinyModels.qwen3(manager, TinyModels.qwen3Config(2), DataType.FLOAT64, 11);
      var random = new Random(5);
      var general = TinyModels.triplets(manager, random, 3);
      var domain = TinyModels.triplets(manager, random, 3);
      var names = new ArrayList<>(encoder.parameters().keySet());
      var contribution = new StatisticsStep(encoder, names).run(general, domain);

      int nonTrivial = FiniteDifferences.check(encoder, general, contribution, true, names, "embed_tokens.weight",
          FiniteDifferences.tokens(general), 3, random);
      nonTrivial += FiniteDifferences.check(encoder, domain, contribution, false, names, "embed_tokens.weight",
          FiniteDifferences.tokens(domain), 1, random);
      // 25 tensors × 4 probes: most must carry a real gradient, or the comparison proves nothing
      assertTrue(nonTrivial > 80, "only " + nonTrivial + " probes had a non-negligible gradient");
    }
  }
}
