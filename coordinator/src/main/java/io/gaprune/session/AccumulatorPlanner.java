package io.gaprune.session;

import io.gaprune.model.LayerType;
import io.gaprune.planner.BudgetMode;
import io.gaprune.planner.Calibration;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.planner.PlanLayout;
import io.gaprune.planner.PlanParticipant;
import io.gaprune.planner.Planner;
import io.gaprune.planner.PlanResult;
import io.gaprune.planner.PlannerConfig;
import io.gaprune.planner.LayerwisePruner;
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
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AccumulatorPlanner.class);

  @Override
  public MaskPlan plan(SessionConfig s, List<LayerPartition> partitions, SessionAccumulators store, ModelRuntime model,
      Path outDir) throws Exception {
    PlannerConfig config = config(s);
    ScoringConfig scoring = config.scoring();
    Files.createDirectories(outDir);
    Path masks = outDir.resolve("masks.safetensors");
    Path weights = GroupLayerwise.updatesWeights(s) ? outDir.resolve("weights.safetensors") : null;
    PlanResult result = weights == null ? plan(config, s, partitions, store, model, masks)
        : planLayerwise(config, s, partitions, store, model, masks, weights);
    Files.writeString(outDir.resolve("plan.json"), new Planner(config).toJson(result));
    List<TensorSpec> specs = new ArrayList<>();
    partitions.forEach(p -> specs.addAll(p.getTensorsList()));
    var plan = MaskPlan.newBuilder().setSessionId(s.getSessionId()).setSparsity(config.sparsity())
        .setCandidateWeights(result.candidates()).setPrunedWeights(result.pruned()).addAllTensors(specs)
        .setMasksPath(masks.toString()).setMasksSha256(sha256(masks));
    if (weights != null) {
      plan.setWeightsPath(weights.toString()).setWeightsSha256(sha256(weights));
    }
    return plan.build();
  }

  /**
   * A plan whose scoring updates the kept weights ({@link GroupLayerwise}): the masks as {@link #plan} selects
   * them (none for SparseGPT, which chooses its own), then the layer-wise step over the groups in the fixed order,
   * each on the node that holds its statistics: a local group here, a remote one by its owner, which streams back
   * its final masks and new weights. Writes the final {@code masks} and the candidates' {@code weights} (F32).
   */
  static PlanResult planLayerwise(PlannerConfig sessionConfig, SessionConfig s, List<LayerPartition> partitions,
      SessionAccumulators store, ModelRuntime model, Path masks, Path weights) throws IOException {
    requireOwners(store);
    boolean choose = GroupLayerwise.choosesMasks(s);
    Path planned = masks.resolveSibling("plan-masks.safetensors");
    String planId = newPlanId(s);
    PlanResult selection = choose ? null : plan(sessionConfig, s, partitions, store, model, planned, planId, true);
    var layout = PlanLayout.of(sessionConfig, metas(partitions));
    var metadata = new java.util.LinkedHashMap<>(new Planner(sessionConfig).maskMetadata());
    metadata.put("gaprune.layerwise", s.getScoring());
    var maskWriter = SafetensorsWriter.create(masks, Planner.maskSpecs(layout), metadata);
    var weightSpecs = layout.candidates().stream()
        .map(t -> new io.gaprune.model.safetensors.TensorSpec(t.name(), io.gaprune.model.safetensors.DType.F32,
            t.shape())).toList();
    var weightWriter = SafetensorsWriter.create(weights, weightSpecs, Map.of("format", "pt", "gaprune.kind",
        "weights", "gaprune.layerwise", s.getScoring()));
    var pruned = new java.util.LinkedHashMap<String, Long>();
    var errors = new ArrayList<io.gaprune.planner.LayerwisePruner.Reconstruction>();
    boolean written = false;
    try (var plannedMasks = choose ? null : io.gaprune.model.safetensors.SafetensorsFile.open(planned)) {
      var sink = new GroupLayerwise.Sink() {
        @Override
        public void weights(TensorMeta t, float[] values) throws IOException {
          weightWriter.writeFloats(t.name(), values);
        }

        @Override
        public void mask(TensorMeta t, byte[] mask) throws IOException {
          maskWriter.writeBytes(t.name(), mask);
          pruned.put(t.name(), PlanResult.pruned(mask));
        }
      };
      int index = 0;
      for (TensorGroup g : store.groups()) {
        var part = TensorGroups.asPartition(g);
        var tensors = metas(List.of(part));
        if (store.isLocal(g)) {
          Map<String, byte[]> planMasks = null;
          if (!choose) {
            planMasks = new java.util.LinkedHashMap<>();
            for (var t : tensors) {
              planMasks.put(t.name(), plannedMasks.readRawBytes(t.name()));
            }
          }
          errors.addAll(GroupLayerwise.run(s, List.of(part), tensors, store.only(g).merged(), model, planMasks,
              masks.resolveSibling("plan-layerwise-" + g.getIndex() + ".safetensors"), sink));
        } else {
          var owners = store.owners();
          var step = PlanWire.layerwise(planId, index).toBuilder().setContext(stepContext(s, partitions, g)).build();
          var outcome = PlanWire.layerwiseResult(owners.ask(g, step), tensors);
          owners.pullWeights(g, tensors, outcome, weightWriter::writeFloats);
          owners.pullMasks(g, tensors, PlanWire.masksOf(outcome), (t, values) -> maskWriter.writeBytes(t.name(),
              values));
          outcome.getTensorsList().forEach(t -> pruned.put(t.getName(), t.getPruned()));
          outcome.getErrorsList().forEach(e -> errors.add(new io.gaprune.planner.LayerwisePruner.Reconstruction(
              e.getName(), e.getBefore(), e.getAfter())));
        }
        index++;
      }
      maskWriter.close();
      weightWriter.close();
      written = true;
    } finally {
      if (!written) {
        maskWriter.abort();
        weightWriter.abort();
      }
      Files.deleteIfExists(planned);
    }
    if (!errors.isEmpty()) {
      var mean = io.gaprune.planner.LayerwisePruner.Reconstruction.mean(errors);
      LOG.info(String.format(java.util.Locale.ROOT, "session %s: the layer-wise step (%s) reconstructed %d tensors, "
          + "mean relative error on the calibration inputs %.4f (the plan's mask) -> %.4f", s.getSessionId(),
          s.getScoring(), errors.size(), mean.before(), mean.after()));
    }
    if (choose) {
      var structure = structure(s);
      return io.gaprune.planner.LayerwisePruner.result(s.getSparsity(), structure, layout.candidates(), pruned);
    }
    for (var t : selection.tensors()) { // the step keeps each tensor's count (reconstruct: the mask; adaptive: N)
      if (pruned.get(t.name()) != t.pruned()) {
        throw new IllegalStateException("the layer-wise step of " + t.name() + " pruned " + pruned.get(t.name())
            + " weights where the plan prunes " + t.pruned());
      }
    }
    return selection;
  }

  /**
   * Plans over the session's merger groups, in the fixed order: a group whose accumulator is on this node is
   * scored here; a group owned by another node scores itself and answers with histograms, tie counts and its
   * masks' stream (planning by histograms, {@link GroupPlanning}), so its statistics never leave its node. With
   * any remote group the selection memory is capped so that the answers fit a frame ({@link PlanWire}).
   */
  static PlanResult plan(PlannerConfig sessionConfig, SessionConfig s, List<LayerPartition> partitions,
      SessionAccumulators store, ModelRuntime model, Path masks) throws IOException {
    return plan(sessionConfig, s, partitions, store, model, masks, newPlanId(s), false);
  }

  private static String newPlanId(SessionConfig s) {
    return s.getSessionId() + "/plan-" + Long.toHexString(System.nanoTime());
  }

  /** What a remote owner needs with its first step to plan its group as this planner does. */
  private static PlanContext stepContext(SessionConfig s, List<LayerPartition> partitions, TensorGroup g) {
    var target = MergerTarget.newBuilder().setSessionId(s.getSessionId()).setStatistics(s.getStatistics())
        .setInputStatistics(s.getInputStatistics()).setGroup(g);
    return PlanContext.newBuilder().setSession(s).addAllPartitions(partitions).setTarget(target).build();
  }

  /**
   * @param ownersKeepMasks whether remote owners keep their masks for the plan's layer-wise step rather than
   *     stream them here (the layer-wise step's final masks are what the plan writes)
   */
  private static PlanResult plan(PlannerConfig sessionConfig, SessionConfig s, List<LayerPartition> partitions,
      SessionAccumulators store, ModelRuntime model, Path masks, String planId, boolean ownersKeepMasks)
      throws IOException {
    boolean remote = requireOwners(store);
    PlannerConfig config = remote ? PlanWire.forOwners(sessionConfig) : sessionConfig;
    var planner = new Planner(config);
    var layout = PlanLayout.of(config, metas(partitions));
    boolean reference = config.scoring().method() == ScoringMethod.DAI_REFERENCE;
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
          var stepContext = stepContext(s, partitions, g);
          // with the masks kept by their owner, the plan's file holds placeholders (all kept) for its tensors
          participants.add(new RemoteParticipant(planId, index, tensors,
              step -> owners.ask(g, step.toBuilder().setContext(stepContext).build()),
              ownersKeepMasks ? outcome -> keptPlaceholders(tensors, writer)
                  : outcome -> owners.pullMasks(g, tensors, outcome, (t, values) -> writer.writeBytes(t.name(),
                      values))));
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

  /** Whether some group is on another node; then the owners must be reachable (else: the reason, thrown). */
  private static boolean requireOwners(SessionAccumulators store) {
    boolean remote = store.groups().stream().anyMatch(g -> !store.isLocal(g));
    if (remote && store.owners() == null) {
      store.store(store.groups().stream().filter(g -> !store.isLocal(g)).findFirst().orElseThrow()); // says why
    }
    return remote;
  }

  private static void keptPlaceholders(List<TensorMeta> tensors, SafetensorsWriter writer) throws IOException {
    for (var t : tensors) {
      var ones = new byte[(int) Math.min(t.size(), 1 << 20)];
      java.util.Arrays.fill(ones, (byte) 1);
      for (long done = 0; done < t.size(); done += ones.length) {
        writer.writeBytes(t.name(), ones, 0, (int) Math.min(ones.length, t.size() - done));
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
      this(partitions, store.merged(), model, referenceFisher); // every accumulator's checksum checked here, once
    }

    AccumulatorTensorSource(List<LayerPartition> partitions, MergedStatistics statistics, ModelRuntime model,
        boolean referenceFisher) {
      this.statistics = statistics;
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
      float[] f = LayerwisePruner.Model.narrow(model.weights(tensor.name()));
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
    var base = ScoringConfig.defaults().withHyper(s.getBeta(), s.getGamma(), s.getAlpha()).withSeed(s.getSeed())
        .withCalibration(calibration(s));
    return MethodSpec.parse(s.getScoring().isBlank() ? MethodSpec.DEFAULT_SCORING : s.getScoring()).apply(base);
  }

  /** The half whose input statistics wanda and sparsegpt read: its {@code calibration}; empty is the domain. */
  public static Calibration calibration(SessionConfig s) {
    return s.getCalibration().isBlank() ? Calibration.DOMAIN : Calibration.parse(s.getCalibration());
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
