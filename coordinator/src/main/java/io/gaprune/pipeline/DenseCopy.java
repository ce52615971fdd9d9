package io.gaprune.pipeline;

import ai.djl.ndarray.NDArray;
import io.gaprune.model.Encoder;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The dense weights of a model, kept on the heap so that {@code compare} can prune (and retrain) the same
 * model once per method and put it back in between. Every parameter is kept, since retraining changes all.
 */
final class DenseCopy {

  private final Map<String, float[]> values;

  private DenseCopy(Map<String, float[]> values) {
    this.values = values;
  }

  static DenseCopy of(Encoder encoder) {
    var values = new LinkedHashMap<String, float[]>();
    for (var e : encoder.parameters().entrySet()) {
      values.put(e.getKey(), e.getValue().toFloatArray());
    }
    return new DenseCopy(values);
  }

  /** Writes the kept values back into the encoder's arrays, in place. */
  void restore(Encoder encoder) {
    for (var e : encoder.parameters().entrySet()) {
      NDArray parameter = e.getValue();
      parameter.set(values.get(e.getKey()));
    }
  }
}
