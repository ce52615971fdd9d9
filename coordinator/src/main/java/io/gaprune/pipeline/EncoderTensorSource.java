package io.gaprune.pipeline;

import ai.djl.ndarray.types.DataType;
import io.gaprune.model.Encoder;
import io.gaprune.planner.TensorInput;
import io.gaprune.planner.TensorMeta;
import io.gaprune.planner.TensorSource;
import io.gaprune.planner.WeightStatistics;
import io.gaprune.stats.MergedStatistics;
import io.gaprune.stats.TensorStats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The planner's view of a loaded model and a session's merged statistics: tensors in the model's order, each
 * read from its NDArray only when the planner asks for it, with its Fisher and mean gradients when the session
 * collected statistics for it.
 */
public final class EncoderTensorSource implements TensorSource {

  private final Encoder encoder;
  private final MergedStatistics statistics;
  private final boolean referenceFisher;
  private final List<TensorMeta> metas;

  /**
   * @param statistics merged statistics (sums over {@code statistics.batches()} batches); may hold only some
   *     tensors: the others are given without statistics, which is fine for methods that need none
   * @param referenceFisher divide Σg² by the samples, as the reference implementation does
   *     ({@link WeightStatistics#referenceFromSums}), instead of by the batches (the paper)
   */
  public EncoderTensorSource(Encoder encoder, MergedStatistics statistics, boolean referenceFisher) {
    this.encoder = encoder;
    this.statistics = statistics;
    this.referenceFisher = referenceFisher;
    this.metas = metas(encoder);
  }

  /** Every parameter of the encoder, in its order, as the planner lists tensors. */
  static List<TensorMeta> metas(Encoder encoder) {
    return encoder.parameters().entrySet().stream()
        .map(e -> new TensorMeta(e.getKey(), e.getValue().getShape().getShape()))
        .toList();
  }

  /** A parameter's values as float32 (the planner's weights), converting other dtypes. */
  static float[] weights(Encoder encoder, String name) {
    var parameter = encoder.parameters().get(name);
    if (parameter == null) {
      throw new IllegalArgumentException("the model has no tensor " + name);
    }
    return parameter.getDataType() == DataType.FLOAT32 ? parameter.toFloatArray()
        : parameter.toType(DataType.FLOAT32, false).toFloatArray();
  }

  @Override
  public List<TensorMeta> tensors() {
    return metas;
  }

  @Override
  public TensorInput load(TensorMeta tensor) {
    float[] weights = weights(encoder, tensor.name());
    TensorStats sums;
    try {
      sums = statistics.tensor(tensor.name());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the statistics of " + tensor.name(), e);
    }
    WeightStatistics stats = sums == null ? null
        : referenceFisher
            ? WeightStatistics.referenceFromSums(sums, statistics.generalSamples(), statistics.domainSamples(),
                statistics.batches(), statistics.batches())
            : WeightStatistics.fromSums(sums, statistics.batches());
    return new TensorInput(tensor, weights, stats);
  }
}
