package io.gaprune.planner;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A {@link TensorSource} over tensors already in memory (tests, small models), in the order given. */
public final class InMemoryTensorSource implements TensorSource {

  private final Map<String, TensorInput> byName = new LinkedHashMap<>();
  private final List<TensorMeta> metas;

  public InMemoryTensorSource(List<TensorInput> tensors) {
    for (var t : tensors) {
      if (byName.put(t.name(), t) != null) {
        throw new IllegalArgumentException("tensor " + t.name() + " given twice");
      }
    }
    this.metas = tensors.stream().map(TensorInput::meta).toList();
  }

  @Override
  public List<TensorMeta> tensors() {
    return metas;
  }

  @Override
  public TensorInput load(TensorMeta tensor) {
    var t = byName.get(tensor.name());
    if (t == null) {
      throw new IllegalArgumentException("tensor " + tensor.name() + " is not in this source");
    }
    return t;
  }
}
