package io.gaprune.session;

import io.gaprune.model.LayerType;
import io.gaprune.planner.LayerwisePruner;
import io.gaprune.planner.MethodSpec;
import io.gaprune.planner.Scorer;
import io.gaprune.planner.ScoringMethod;
import io.gaprune.planner.SparseGpt;
import io.gaprune.planner.TensorMeta;
import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.stats.InputSums;
import io.gaprune.stats.MergedStatistics;
import io.gaprune.worker.ModelRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The layer-wise step of a session whose scoring updates the kept weights ({@code sparsegpt},
 * {@code METHOD:reconstruct=1}, {@code dai-calibrated:adaptive=p}) for one merger group: {@link LayerwisePruner}
 * on the group's tensors, with the group's own merged input statistics and the model's weights, exactly as
 * {@code gaprune run} runs it on the whole model. The planner runs it for the groups on its node; an owner runs
 * it for its own and streams the result ({@link GroupPlanning}). Each tensor's new weights go to {@link Sink} as
 * they are made, then every final mask, in the group's order.
 */
final class GroupLayerwise {

  private GroupLayerwise() {}

  /** Where the step's results go: each tensor's new weights (float32, pruned 0), then each tensor's final mask. */
  interface Sink {
    void weights(TensorMeta tensor, float[] weights) throws IOException;

    void mask(TensorMeta tensor, byte[] mask) throws IOException;
  }

  /** Whether a session's scoring updates the kept weights, so that its plan ends with this step. */
  static boolean updatesWeights(SessionConfig s) {
    var spec = spec(s);
    return spec.method() == ScoringMethod.SPARSEGPT || spec.reconstruct();
  }

  /** Whether the step chooses the masks itself (SparseGPT: no scores, no selection before it). */
  static boolean choosesMasks(SessionConfig s) {
    return spec(s).method() == ScoringMethod.SPARSEGPT;
  }

  private static MethodSpec spec(SessionConfig s) {
    return MethodSpec.parse(s.getScoring().isBlank() ? MethodSpec.DEFAULT_SCORING : s.getScoring());
  }

  /**
   * Runs the step on {@code tensors}.
   *
   * @param planMasks the plan's masks of these tensors (null for SparseGPT, which chooses its own)
   * @param scratch a file the step may write and delete (SparseGPT's masks file)
   * @return per tensor the relative reconstruction error of the plan's mask and of the result (empty for SparseGPT)
   */
  static List<LayerwisePruner.Reconstruction> run(SessionConfig s, List<LayerPartition> partitions,
      List<TensorMeta> tensors, MergedStatistics statistics, ModelRuntime model, Map<String, byte[]> planMasks,
      Path scratch, Sink sink) throws IOException {
    var spec = spec(s);
    var layers = new GroupLayers(tensors, statistics, model, sink);
    var structure = AccumulatorPlanner.structure(s);
    if (spec.method() == ScoringMethod.SPARSEGPT) {
      var settings = LayerwisePruner.Settings.of(LayerType.parse(s.getCandidates().isEmpty() ? "mlp"
          : s.getCandidates()), structure.unstructured() ? s.getSparsity() : structure.sparsity())
          .withStructure(structure).withCalibration(AccumulatorPlanner.calibration(s));
      try {
        LayerwisePruner.sparseGpt(layers, settings, scratch, null);
        var masks = io.gaprune.pipeline.Masks.read(scratch);
        for (var t : tensors) {
          sink.mask(t, masks.get(t.name()));
        }
      } finally {
        Files.deleteIfExists(scratch);
      }
      return List.of();
    }
    var scoring = AccumulatorPlanner.scoring(s);
    double lambda = scoring.calibrated().generalWeight();
    if (!spec.adaptive()) {
      var errors = LayerwisePruner.reconstruct(layers, planMasks, lambda, SparseGpt.DEFAULT_BLOCK,
          SparseGpt.DEFAULT_DAMPENING);
      for (var t : tensors) {
        sink.mask(t, planMasks.get(t.name()));
      }
      return errors;
    }
    var priors = LayerwisePruner.scorePriors(new AccumulatorPlanner.AccumulatorTensorSource(partitions, statistics,
        model, false), new Scorer(scoring), spec.priorExponent());
    var result = LayerwisePruner.adaptive(layers, planMasks, priors, structure, lambda, SparseGpt.DEFAULT_BLOCK,
        SparseGpt.DEFAULT_DAMPENING);
    for (var t : tensors) {
      sink.mask(t, result.masks().get(t.name()));
    }
    return result.errors();
  }

  /** The group's tensors as the layer-wise methods read and change them; new weights go to the sink. */
  private static final class GroupLayers implements LayerwisePruner.Model {
    private final List<TensorMeta> tensors;
    private final MergedStatistics statistics;
    private final ModelRuntime model;
    private final Sink sink;

    GroupLayers(List<TensorMeta> tensors, MergedStatistics statistics, ModelRuntime model, Sink sink) {
      this.tensors = List.copyOf(tensors);
      this.statistics = statistics;
      this.model = model;
      this.sink = sink;
    }

    @Override
    public List<TensorMeta> tensors() {
      return tensors;
    }

    @Override
    public float[] weights(TensorMeta tensor) {
      return LayerwisePruner.Model.narrow(model.weights(tensor.name()));
    }

    @Override
    public InputSums inputs(TensorMeta tensor) throws IOException {
      var sums = statistics.tensor(tensor.name());
      return sums == null ? InputSums.NONE : sums.inputs();
    }

    @Override
    public void update(TensorMeta tensor, double[] weights) throws IOException {
      sink.weights(tensor, LayerwisePruner.Model.narrow(weights));
    }
  }
}
