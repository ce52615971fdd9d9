package io.gaprune.model;

import java.util.Arrays;
import java.util.Map;
import java.util.regex.Pattern;

/** Derives the shape part of a BERT {@link ModelConfig} from its parameters' shapes (HF names). */
public final class BertShapes {

  private static final Pattern LAYER = Pattern.compile("^(?:bert\\.)?encoder\\.layer\\.(\\d+)\\..*");

  private BertShapes() {}

  /**
   * @param shapes parameter name → shape
   * @param source named in errors
   * @throws IllegalArgumentException naming {@code source} and the tensor when a needed one is missing
   */
  public static ModelConfig config(Map<String, long[]> shapes, int numHeads, double eps, ModelConfig.Pooling pooling,
      boolean normalize, String queryInstruction, String source) {
    var word = need(shapes, "embeddings.word_embeddings.weight", 2, source);
    var position = need(shapes, "embeddings.position_embeddings.weight", 2, source);
    var inter = need(shapes, "encoder.layer.0.intermediate.dense.weight", 2, source);
    var types = find(shapes, "embeddings.token_type_embeddings.weight");
    int layers = 0;
    for (var name : shapes.keySet()) {
      var m = LAYER.matcher(name);
      if (m.matches()) {
        layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
      }
    }
    int hidden = (int) word[1];
    if (hidden % numHeads != 0) {
      throw new IllegalArgumentException(source + ": hidden size " + hidden + " is not divisible by " + numHeads
          + " heads");
    }
    return new ModelConfig(ModelConfig.Family.BERT, (int) word[0], hidden, layers, numHeads, numHeads,
        hidden / numHeads, (int) inter[0], (int) position[0], eps, 0, types == null ? 0 : (int) types[0], pooling,
        normalize, queryInstruction);
  }

  private static long[] find(Map<String, long[]> shapes, String name) {
    var s = shapes.get(name);
    return s != null ? s : shapes.get("bert." + name);
  }

  private static long[] need(Map<String, long[]> shapes, String name, int rank, String source) {
    var s = find(shapes, name);
    if (s == null) {
      throw new IllegalArgumentException(source + ": no tensor " + name + " (not a BERT model?)");
    }
    if (s.length != rank) {
      throw new IllegalArgumentException(source + ": tensor " + name + " has shape " + Arrays.toString(s)
          + ", expected " + rank + " dimensions");
    }
    return s;
  }
}
