package io.gaprune.model;

import ai.djl.ndarray.NDArray;
import java.lang.reflect.InvocationTargetException;
import java.util.Map;

/**
 * Constructs {@code io.gaprune.model.qwen3.Qwen3Encoder(ModelConfig, Map)}, which is developed on another
 * branch: looked up by name so that this loader builds before that class is merged, and gives a clear error
 * when it is absent. To be replaced by a direct constructor call once both are on main.
 */
final class Qwen3Bridge {

  private static final String CLASS = "io.gaprune.model.qwen3.Qwen3Encoder";

  private Qwen3Bridge() {}

  static Encoder create(ModelConfig config, Map<String, NDArray> parameters) {
    Class<?> type;
    try {
      type = Class.forName(CLASS);
    } catch (ClassNotFoundException e) {
      throw new IllegalArgumentException("model_type qwen3 needs " + CLASS + ", which this build does not contain");
    }
    try {
      return (Encoder) type.getConstructor(ModelConfig.class, Map.class).newInstance(config, parameters);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException("constructing " + CLASS + ": " + e.getCause(), e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(CLASS + " has no (ModelConfig, Map) constructor: " + e, e);
    }
  }
}
