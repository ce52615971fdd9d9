package io.gaprune.stats;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.LinearInputRecorder;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Sums the inputs of chosen linear layers over the forward passes of one half of a step: {@code Σx²} per input
 * channel, optionally the Gram matrix {@code Σx·xᵀ} (packed), and the tokens, over the non-padding tokens only
 * (padding rows are multiplied by the attention mask's 0). Computed on the device in float64 from a detached
 * copy of the input, so the gradient recording never sees it, then added into float64 arrays here.
 */
final class InputRecorder implements LinearInputRecorder {

  /** One layer's sums for this half. */
  record Sums(double[] squares, double[] gram, long[] tokens) {}

  private final Set<String> weights;
  private final boolean grams;
  private final Map<String, Sums> sums = new HashMap<>();

  InputRecorder(Set<String> weights, boolean grams) {
    this.weights = weights;
    this.grams = grams;
  }

  @Override
  public boolean wants(String weight) {
    return weights.contains(weight);
  }

  @Override
  public void record(String weight, NDArray input, NDArray attentionMask) {
    try (var scope = input.getManager().newSubManager()) {
      scope.tempAttachAll(input, attentionMask); // every result below lands in scope and dies with it
      int in = Math.toIntExact(input.getShape().get(input.getShape().dimension() - 1));
      var mask = attentionMask.toType(DataType.FLOAT64, false).reshape(-1, 1);
      var rows = input.stopGradient().toType(DataType.FLOAT64, false).reshape(-1, in).mul(mask);
      var s = sums.computeIfAbsent(weight, w -> new Sums(new double[in],
          new double[grams ? PackedSymmetric.length(in) : 0], new long[1]));
      if (s.squares().length != in) {
        throw new IllegalStateException("linear layer " + weight + " saw inputs of " + in + " and "
            + s.squares().length + " channels");
      }
      double[] squares = rows.square().sum(new int[] {0}).toDoubleArray();
      for (int j = 0; j < in; j++) {
        s.squares()[j] += squares[j];
      }
      if (grams) {
        PackedSymmetric.addUpper(s.gram(), rows.transpose().matMul(rows).toDoubleArray(), in);
      }
      s.tokens()[0] += Math.round(mask.sum().getDouble());
    }
  }

  /** The sums of one layer, or null when the forward passes never reached it. */
  Sums sums(String weight) {
    return sums.get(weight);
  }
}
