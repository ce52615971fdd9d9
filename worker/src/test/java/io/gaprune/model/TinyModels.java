package io.gaprune.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.gaprune.model.bert.BertEncoder;
import io.gaprune.model.qwen3.Qwen3Encoder;
import io.gaprune.stats.TripletBatch;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Seeded random models and batches small enough for finite differences: a few layers, hidden 12; Qwen3 with
 * grouped-query attention (4 query and 2 key/value heads), BERT with 3 heads, 2 token types, mean pooling.
 */
public final class TinyModels {

  public static final int VOCAB = 40;

  private TinyModels() {}

  public static ModelConfig qwen3Config(int layers) {
    return new ModelConfig(ModelConfig.Family.QWEN3, VOCAB, 12, layers, 4, 2, 6, 20, 64, 1e-6, 10_000.0, 0,
        ModelConfig.Pooling.LAST_TOKEN, true,
        Qwen3Encoder.queryInstruction("Given a chemistry question, retrieve the related context"));
  }

  public static ModelConfig bertConfig(int layers) {
    return new ModelConfig(ModelConfig.Family.BERT, VOCAB, 12, layers, 3, 3, 4, 20, 16, 1e-12, 0, 2,
        ModelConfig.Pooling.MEAN, true, "");
  }

  /**
   * Random BERT parameters: weights and biases N(0, 0.3²), LayerNorm gains 1 + N(0, 0.1²) and biases
   * N(0, 0.1²).
   */
  public static BertEncoder bert(NDManager manager, ModelConfig config, DataType dtype, long seed) {
    var random = new Random(seed);
    var parameters = new LinkedHashMap<String, NDArray>();
    for (var e : BertEncoder.expectedShapes(config).entrySet()) {
      boolean norm = e.getKey().contains("LayerNorm");
      boolean gain = norm && e.getKey().endsWith("weight");
      parameters.put(e.getKey(), random(manager, e.getValue(), dtype, random, gain ? 1.0 : 0.0, norm ? 0.1 : 0.3));
    }
    return new BertEncoder(config, parameters);
  }

  /**
   * Random Qwen3 parameters: weights N(0, 0.3²) (large enough that attention is far from uniform, so every
   * path carries gradient), norm weights 1 + N(0, 0.1²) so that their gradients differ per element.
   */
  public static Qwen3Encoder qwen3(NDManager manager, ModelConfig config, DataType dtype, long seed) {
    var random = new Random(seed);
    var parameters = new LinkedHashMap<String, NDArray>();
    for (var e : Qwen3Encoder.expectedShapes(config).entrySet()) {
      boolean norm = e.getKey().endsWith("norm.weight");
      parameters.put(e.getKey(), random(manager, e.getValue(), dtype, random, norm ? 1.0 : 0.0, norm ? 0.1 : 0.3));
    }
    return new Qwen3Encoder(config, parameters);
  }

  public static NDArray random(NDManager manager, Shape shape, DataType dtype, Random random, double mean,
      double std) {
    var values = new double[Math.toIntExact(shape.size())];
    for (int i = 0; i < values.length; i++) {
      values[i] = mean + std * random.nextGaussian();
    }
    return manager.create(values, shape).toType(dtype, false);
  }

  /**
   * A left-padded batch of random token ids (1..VOCAB−1; 0 is the pad id) with the given real lengths.
   */
  public static Batch leftPadded(NDManager manager, Random random, int... lengths) {
    int seq = 0;
    for (int l : lengths) {
      seq = Math.max(seq, l);
    }
    var ids = new long[lengths.length * seq];
    var mask = new long[lengths.length * seq];
    for (int r = 0; r < lengths.length; r++) {
      for (int j = seq - lengths[r]; j < seq; j++) {
        ids[r * seq + j] = 1 + random.nextInt(VOCAB - 1);
        mask[r * seq + j] = 1;
      }
    }
    var shape = new Shape(lengths.length, seq);
    return new Batch(manager.create(ids, shape), manager.create(mask, shape), null);
  }

  /** A triplet batch of {@code size} rows with lengths between 2 and 7 tokens. */
  public static TripletBatch triplets(NDManager manager, Random random, int size) {
    return new TripletBatch(leftPadded(manager, random, lengths(random, size)),
        leftPadded(manager, random, lengths(random, size)), leftPadded(manager, random, lengths(random, size)));
  }

  private static int[] lengths(Random random, int size) {
    var lengths = new int[size];
    for (int i = 0; i < size; i++) {
      lengths[i] = 2 + random.nextInt(6);
    }
    return lengths;
  }

  /** A copy of the parameters' map, for tests that build a second encoder over the same arrays. */
  public static Map<String, NDArray> parameters(Encoder encoder) {
    return new LinkedHashMap<>(encoder.parameters());
  }
}
