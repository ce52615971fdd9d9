package io.gaprune.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Map;
import java.util.function.Predicate;

/** The checks every architecture makes of its named parameters before it runs. */
public final class ParameterCheck {

  private ParameterCheck() {}

  /**
   * Checks that {@code parameters} holds exactly the {@code expected} tensors (plus any {@code tolerated}
   * extra), each with its shape, all of one floating-point dtype, which is returned.
   *
   * @param family how messages name the architecture ("BERT", "Qwen3")
   * @param model what an unexpected tensor is not part of ("6-layer BertModel")
   * @throws IllegalArgumentException naming the tensor that is missing, unexpected, misshapen or of another dtype
   */
  public static DataType validate(String family, String model, Map<String, NDArray> parameters,
      Map<String, Shape> expected, Predicate<String> tolerated, String reference) {
    var missing = new ArrayList<String>();
    for (var e : expected.entrySet()) {
      var array = parameters.get(e.getKey());
      if (array == null) {
        missing.add(e.getKey());
      } else if (!array.getShape().equals(e.getValue())) {
        throw new IllegalArgumentException(family + " parameter " + e.getKey() + ": expected shape " + e.getValue()
            + ", got " + array.getShape());
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException(family + " parameters missing (" + missing.size() + "): "
          + (missing.size() > 8 ? missing.subList(0, 8) + " ..." : missing));
    }
    for (var e : parameters.entrySet()) {
      if (!expected.containsKey(e.getKey()) && !tolerated.test(e.getKey())) {
        throw new IllegalArgumentException("unexpected " + family + " parameter " + e.getKey() + " "
            + e.getValue().getShape() + " (not part of a " + model + ")");
      }
    }
    var dtype = parameters.get(reference).getDataType();
    if (!dtype.isFloating()) {
      throw new IllegalArgumentException(family + " parameters must be floating point, got " + dtype);
    }
    for (var e : parameters.entrySet()) {
      if (e.getValue().getDataType() != dtype) {
        throw new IllegalArgumentException(family + " parameter " + e.getKey() + " has dtype "
            + e.getValue().getDataType() + ", the others " + dtype);
      }
    }
    return dtype;
  }
}
