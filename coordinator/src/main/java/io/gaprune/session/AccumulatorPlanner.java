package io.gaprune.session;

import io.gaprune.model.LayerType;
import io.gaprune.planner.BudgetMode;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.planner.PlanLayout;
import io.gaprune.planner.PlanParticipant;
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
import io.gaprune.protocol.MergerTarget;
import io.gaprune.protocol.PlanContext;
import io.gaprune.protocol.TensorGroup;
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
    PlannerConfig config = config(s);
    ScoringConfig scoring = config.scoring();
    Files.createDirectories(outDir);
    Path masks = outDir.resolve("masks.safetensors");
    PlanResult result = plan(config, s, partitions, store, model, masks);
    Files.writeString(outDir.resolve("plan.json"), new Planner(config).toJson(result));
    List<TensorSpec> specs = new ArrayList<>();
    partitions.forEach(p -> specs.addAll(p.getTensorsList()));
    return MaskPlan.newBuilder().setSessionId(s.getSessionId()).setSparsity(config.sparsity())
        .setCandidateWeights(result.candidates()).setPrunedWeights(result.pruned()).addAllTensors(specs)
        .setMasksPath(masks.toString()).setMasksSha256(sha256(masks)).build();
  }

  /**
   * Plans over the session's merger groups, in the fixed order: a group whose accumulator is on this node is
   * scored here; a group owned by another node scores itself and answers with histograms, tie counts and its
   * masks' stream (planning by histograms, {@link GroupPlanning}), so its statistics never leave its node. With
   * any remote group the selection memory is capped so that the answers fit a frame ({@link PlanWire}).
   */
  static PlanResult plan(PlannerConfig sessionConfig, SessionConfig s, List<LayerPartition> partitions,
      SessionAccumulators store, ModelRuntime model, Path masks) throws IOException {
    boolean remote = store.groups().stream().anyMatch(g -> !store.isLocal(g));
    if (remote && store.owners() == null) {
      store.store(store.groups().stream().filter(g -> !store.isLocal(g)).findFirst().orElseThrow()); // says why
    }
    PlannerConfig config = remote ? PlanWire.forOwners(sessionConfig) : sessionConfig;
    var planner = new Planner(config);
    var layout = PlanLayout.of(config, metas(partitions));
    boolean reference = config.scoring().method() == ScoringMethod.DAI_REFERENCE;
    String planId = s.getSessionId() + "/plan-" + Long.toHexString(System.nanoTime());
    var context = PlanContext.newBuilder().setSession(s).addAllPartitions(partitions);
    var writer = SafetensorsWriter.create(masks, Planner.maskSpecs(layout), planner.maskMetadata());
    boolean written = false;
    try {
      var participants = new ArrayList<PlanParticipant>();
      int index = 0;
      for (TensorGroup g : store.groups()) {
        var part = TensorGroups.asPartition(g);
        var tensors = metas(List.of(part));
        if (store.isLocal(g)) {
          var source = new AccumulatorTensorSource(List.of(part), store.only(g), model, reference);
          participants.add(planner.share(layout, source, tensors, (t, mask) -> writer.writeBytes(t.name(), mask)));
        } else {
          var owners = store.owners();
          var target = MergerTarget.newBuilder().setSessionId(s.getSessionId()).setStatistics(s.getStatistics())
              .setInputStatistics(s.getInputStatistics()).setGroup(g);
          var stepContext = context.clone().setTarget(target).build();
          participants.add(new RemoteParticipant(planId, index, tensors,
              step -> owners.ask(g, step.toBuilder().setContext(stepContext).build()),
              outcome -> owners.pullMasks(g, tensors, outcome, (t, values) -> writer.writeBytes(t.name(), values))));
        }
        index++;
      }
      var result = planner.plan(layout, participants);
      writer.close();
      written = true;
      return result;
    } finally {
      if (!written) {
        writer.abort();
      }
    }
  }

  /** The partitions' tensors as the planner lists them, in the fixed (partition, then fold) order. */
  static List<TensorMeta> metas(List<LayerPartition> partitions) {
    var out = new ArrayList<TensorMeta>();
    for (var p : partitions) {
      for (var t : p.getTensorsList()) {
        out.add(new TensorMeta(t.getName(), t.getShapeList().stream().mapToLong(Long::longValue).toArray()));
      }
    }
    return out;
  }

  /** The planner's configuration of a session: the same on the coordinator and on every group's owner. */
  static PlannerConfig config(SessionConfig s) {
    // N:M prunes 1 − N/M whatever the session's sparsity says (the API has already made the two agree)
    return PlannerConfig.of(s.getSparsity())
        .withScoring(scoring(s))
        .withLayerTypes(LayerType.parse(s.getCandidates().isEmpty() ? "mlp" : s.getCandidates()))
        .withBudget(BudgetMode.parse(s.getBudget().isEmpty() ? "global" : s.getBudget()))
        .withStructure(structure(s));
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
    private final List<TensorMeta> tensors;
    private final Map<String, Integer> partitionOf = new HashMap<>();

    AccumulatorTensorSource(List<LayerPartition> partitions, SessionAccumulators store, ModelRuntime model,
        boolean referenceFisher) {
      this.statistics = store.merged(); // every accumulator's checksum checked here, once
      this.model = model;
      this.referenceFisher = referenceFisher;
      this.tensors = metas(partitions);
      for (LayerPartition p : partitions) {
        for (TensorSpec t : p.getTensorsList()) {
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
