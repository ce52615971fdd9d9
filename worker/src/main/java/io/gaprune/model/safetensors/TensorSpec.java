package io.gaprune.model.safetensors;

import io.gaprune.model.Shapes;
import java.util.Arrays;
import java.util.Objects;

/** A tensor to be written: its name, element type and shape, declared before any data. */
public record TensorSpec(String name, DType dtype, long[] shape) {

  public TensorSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    shape = shape.clone();
    Shapes.elementCount(shape);
  }

  public long elementCount() {
    return Shapes.elementCount(shape);
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorSpec t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, dtype, Arrays.hashCode(shape));
  }

  @Override
  public String toString() {
    return name + " " + dtype + Arrays.toString(shape);
  }
}
