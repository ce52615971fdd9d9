package io.gaprune.planner;

import io.gaprune.model.Shapes;
import io.gaprune.stats.TensorStats;
import java.util.Arrays;
import java.util.Objects;

/** A tensor's name and shape: what the planner needs before reading any data (candidates, budgets). */
public record TensorMeta(String name, long[] shape) {

  public TensorMeta {
    Objects.requireNonNull(name, "name");
    shape = shape.clone();
    Shapes.elementCount(shape);
  }

  public long size() {
    return Shapes.elementCount(shape);
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorMeta t && name.equals(t.name) && Arrays.equals(shape, t.shape);
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape);
  }
}
