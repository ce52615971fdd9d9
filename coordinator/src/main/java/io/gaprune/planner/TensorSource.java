package io.gaprune.planner;

import java.io.IOException;
import java.util.List;

/**
 * The model as the planner sees it: the tensor list up front, the data one tensor at a time. The planner
 * never holds more than one tensor's data, so a source can stream a model larger than memory (from
 * safetensors files, say); it is read once per selection pass plus once for the masks, and every read of a
 * tensor must return the same values (a changed stream is detected and reported).
 */
public interface TensorSource {

  /** Every tensor of the model in a fixed order: the order ties are broken by. */
  List<TensorMeta> tensors();

  /** Loads one tensor listed by {@link #tensors()}. */
  TensorInput load(TensorMeta tensor) throws IOException;
}
