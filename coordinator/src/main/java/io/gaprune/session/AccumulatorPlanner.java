package io.gaprune.session;

import io.gaprune.model.LayerType;
import io.gaprune.planner.BudgetMode;
import io.gaprune.planner.Planner;
import io.gaprune.planner.PlanResult;
import io.gaprune.planner.PlannerConfig;
import io.gaprune.planner.MethodSpec;
import io.gaprune.planner.ScoringConfig;
import io.gaprune.planner.ScoringMethod;
import io.gaprune.planner.Structure;
import io.gaprune.planner.TensorInput;
import io.gaprune.planner.TensorMeta;
import io.gaprune.planner.TensorSource;
import io.gaprune.planner.WeightStatistics;
import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.stats.MergedStatistics;
import io.gaprune.worker.ModelRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The coordinator's planning step on the project's planner ({@link io.gaprune.planner.Planner}: DAI
 * scores, exact radix selection, masks as safetensors U8, 1 = kept). It reads the merged statistics one
 * tensor at a time straight from the accumulator files and the weights from the model, so the coordinator
 * never holds more than one tensor's statistics.
 */
public final class AccumulatorPlanner implements MaskPlanner {

  @Override
  public MaskPlan plan(SessionConfig s, List<LayerPartition> partitions, SessionAccumulators store, ModelRuntime model,
      Path outDir) throws Exception {
    ScoringConfig scoring = scoring(s);
    Structure structure = structure(s);
    // N:M prunes 1 − N/M whatever the session's sparsity says (the API has already made the two agree)
    PlannerConfig config = PlannerConfig.of(s.getSparsity())
        .withScoring(scoring)
        .withLayerTypes(LayerType.parse(s.getCandidates().isEmpty() ? "mlp" : s.getCandidates()))
        .withBudget(BudgetMode.parse(s.getBudget().isEmpty() ? "global" : s.getBudget()))
        .withStructure(structure);
    Files.createDirectories(outDir);
    Path masks = outDir.resolve("masks.safetensors");
    PlanResult result = new Planner(config).plan(new AccumulatorTensorSource(partitions, store, model,
        scoring.method() == ScoringMethod.DAI_REFERENCE), masks,
        outDir.resolve("plan.json"));
    List<TensorSpec> specs = new ArrayList<>();
    partitions.forEach(p -> specs.addAll(p.getTensorsList()));
    return MaskPlan.newBuilder().setSessionId(s.getSessionId()).setSparsity(config.sparsity())
        .setCandidateWeights(result.candidates()).setPrunedWeights(result.pruned()).addAllTensors(specs)
        .setMasksPath(masks.toString()).setMasksSha256(sha256(masks)).build();
  }

  /** Names the file and element when merged statistics are not finite (a worker sent NaN or ∞). */
  static void checkFinite(io.gaprune.stats.TensorStats t, int partition) {
    double[][] arrays = {t.sumSqGeneral(), t.sumGeneral(), t.sumSqDomain(), t.sumDomain()};
    String[] names = {"Σg²_gen", "Σg_gen", "Σg²_dom", "Σg_dom"};
    for (int a = 0; a < 4; a++) {
      for (int i = 0; i < arrays[a].length; i++) {
        if (!Double.isFinite(arrays[a][i])) {
          throw new IllegalStateException("merged statistics of " + t.name() + " (partition " + partition + "): "
              + names[a] + "[" + i + "] = " + arrays[a][i]);
        }
      }
    }
  }

  /**
   * The planner's view of a session: tensors in partition order, statistics read from the accumulators. The
   * Fisher is Σg² over the batches (the paper), or over the samples for {@code dai-reference}, as the
   * reference implementation and the one-process pipeline ({@code EncoderTensorSource}) do: the reference's
   * score adds the Fisher to γ·sqrt|θ|, so its scale changes which weights are pruned.
   */
  static final class AccumulatorTensorSource implements TensorSource {
    private final MergedStatistics statistics;
    private final ModelRuntime model;
    private final boolean referenceFisher;
    private final List<TensorMeta> tensors = new ArrayList<>();
    private final Map<String, Integer> partitionOf = new HashMap<>();

    AccumulatorTensorSource(List<LayerPartition> partitions, SessionAccumulators store, ModelRuntime model,
        boolean referenceFisher) {
      this.statistics = store.merged(); // every accumulator's checksum checked here, once
      this.model = model;
      this.referenceFisher = referenceFisher;
      for (LayerPartition p : partitions) {
        for (TensorSpec t : p.getTensorsList()) {
          tensors.add(new TensorMeta(t.getName(), t.getShapeList().stream().mapToLong(Long::longValue).toArray()));
          partitionOf.put(t.getName(), p.getIndex());
        }
      }
    }

    @Override
    public List<TensorMeta> tensors() {
      return tensors;
    }

    @Override
    public TensorInput load(TensorMeta tensor) throws IOException {
      var stats = statistics.tensor(tensor.name());
      checkFinite(stats, partitionOf.get(tensor.name()));
      double[] w = model.weights(tensor.name());
      float[] f = new float[w.length];
      for (int i = 0; i < w.length; i++) {
        f[i] = (float) w[i];
      }
      var weightStats = referenceFisher
          ? WeightStatistics.referenceFromSums(stats, statistics.generalSamples(), statistics.domainSamples(),
              statistics.batches(), statistics.batches())
          : WeightStatistics.fromSums(stats, statistics.batches());
      return new TensorInput(tensor, f, weightStats);
    }
  }

  /**
   * The session's scoring: its {@code scoring} entry (empty: {@link MethodSpec#DEFAULT_SCORING}) over the
   * paper's defaults with the session's α, β, γ and seed. Also the coordinator's check of a session before it
   * starts.
   */
  public static ScoringConfig scoring(SessionConfig s) {
    var base = ScoringConfig.defaults().withHyper(s.getBeta(), s.getGamma(), s.getAlpha()).withSeed(s.getSeed());
    return MethodSpec.parse(s.getScoring().isBlank() ? MethodSpec.DEFAULT_SCORING : s.getScoring()).apply(base);
  }

  /** The session's mask pattern: its {@code structure} entry; empty (journals from before it) is unstructured. */
  public static Structure structure(SessionConfig s) {
    return s.getStructure().isBlank() ? Structure.UNSTRUCTURED : Structure.parse(s.getStructure());
  }

  private static String sha256(Path file) throws java.io.IOException {
    try (var in = java.nio.file.Files.newInputStream(file)) {
      var md = java.security.MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      int r;
      while ((r = in.read(buf)) > 0) {
        md.update(buf, 0, r);
      }
      return java.util.HexFormat.of().formatHex(md.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
