package io.gaprune.pipeline;

import ai.djl.ndarray.types.DataType;
import io.gaprune.model.Encoder;
import io.gaprune.planner.LayerwisePruner;
import io.gaprune.planner.TensorMeta;
import io.gaprune.stats.InputSums;
import io.gaprune.stats.MergedStatistics;
import java.io.IOException;
import java.util.List;

/**
 * A loaded model and a session's merged statistics as the layer-wise methods (Wanda, SparseGPT, the
 * reconstruction) read and change them: weights from the parameters, input statistics from the merged sums,
 * updated weights written back into the parameters in place (the pipeline restores the dense copy after each
 * variant).
 */
final class EncoderLayers implements LayerwisePruner.Model {

  private final Encoder encoder;
  private final MergedStatistics statistics;
  private final List<TensorMeta> metas;

  EncoderLayers(Encoder encoder, MergedStatistics statistics) {
    this.encoder = encoder;
    this.statistics = statistics;
    this.metas = EncoderTensorSource.metas(encoder);
  }

  @Override
  public List<TensorMeta> tensors() {
    return metas;
  }

  @Override
  public float[] weights(TensorMeta tensor) {
    return EncoderTensorSource.weights(encoder, tensor.name());
  }

  @Override
  public InputSums inputs(TensorMeta tensor) throws IOException {
    var sums = statistics.tensor(tensor.name());
    return sums == null ? InputSums.NONE : sums.inputs();
  }

  @Override
  public void update(TensorMeta tensor, double[] weights) {
    var p = encoder.parameters().get(tensor.name());
    if (p.getDataType() == DataType.FLOAT64) {
      p.set(java.nio.DoubleBuffer.wrap(weights));
      return;
    }
    p.set(LayerwisePruner.Model.narrow(weights));
  }
}
