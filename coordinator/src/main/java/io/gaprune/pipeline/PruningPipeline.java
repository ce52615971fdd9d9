package io.gaprune.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.typesafe.config.ConfigFactory;
import io.gaprune.config.GapruneConfig;
import com.typesafe.config.ConfigValueFactory;
import io.gaprune.data.Triplet;
import io.gaprune.data.TripletReader;
import io.gaprune.data.TripletWriter;
import io.gaprune.eval.BeirDataset;
import io.gaprune.eval.BeirReader;
import io.gaprune.eval.RetrievalEvaluator;
import io.gaprune.model.HuggingFaceWriter;
import io.gaprune.model.LoadedModel;
import io.gaprune.model.ModelLoader;
import io.gaprune.planner.BudgetMode;
import io.gaprune.planner.LayerwisePruner;
import io.gaprune.planner.OwlBudgets;
import io.gaprune.planner.SparseGpt;
import io.gaprune.protocol.InputStatistics;
import io.gaprune.planner.Planner;
import io.gaprune.model.LayerType;
import io.gaprune.planner.PlanResult;
import io.gaprune.planner.PlannerConfig;
import io.gaprune.planner.MethodSpec;
import io.gaprune.planner.ScoringMethod;
import io.gaprune.progress.Progress;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.report.AtomicFiles;
import io.gaprune.report.ModelCard;
import io.gaprune.report.ReportWriter;
import io.gaprune.report.RunReport;
import io.gaprune.sampling.RepresentativeSample;
import io.gaprune.session.EmbeddedSession;
import io.gaprune.stats.StatisticsFile;
import io.gaprune.stats.MergedStatistics;
import io.gaprune.train.Retrainer;
import io.gaprune.worker.ModelUnitComputer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The product's main job: representative calibration sets, gradient statistics in an embedded session, a
 * plan, the masks applied, retrieval evaluated before and after, optional retraining with the masks fixed,
 * the pruned checkpoint and a report. {@link #compare} runs every scoring method on the statistics of one
 * session.
 */
public final class PruningPipeline {

  /** The variants {@code compare} evaluates by default, in the paper's table order. */
  public static final List<ScoringMethod> COMPARED = List.of(ScoringMethod.DAI, ScoringMethod.DAI_REFERENCE,
      ScoringMethod.DAI_CALIBRATED, ScoringMethod.MAGNITUDE, ScoringMethod.FISHER_DOMAIN,
      ScoringMethod.FISHER_GENERAL, ScoringMethod.RANDOM);

  private final PipelineOptions options;
  private final Progress progress;
  private final PrintStream log;
  private final Map<String, Double> timings = new LinkedHashMap<>();
  private final List<String> warnings = new ArrayList<>();
  /** Triplets in the calibration sets the statistics were computed on (none when they were read from a file). */
  private final Map<String, Integer> calibrationSizes = new LinkedHashMap<>();
  /** The calibration triplet files as read before the model loaded; null where the run does not need one. */
  private List<Triplet> generalTriplets;
  private List<Triplet> domainTriplets;
  /** The statistics session's counters (report.json's "session"); null when statistics came from a file. */
  private Map<String, Object> sessionCounters;
  /** The header of the {@code --statistics} file, read before the model loads; null when they are computed. */
  private StatisticsFile.Contents statisticsFile;
  /** What the OWL budget measured on the dense model; null under the other budgets. */
  private OwlBudgets.Outliers outliers;

  /**
   * @param log where the longer messages of the steps go (encoding progress, dataset warnings)
   */
  public PruningPipeline(PipelineOptions options, Progress progress, PrintStream log) {
    this.options = options;
    this.progress = progress;
    this.log = log;
  }

  /** {@code gaprune run}: prunes with the configured scoring and writes model, masks and report into out. */
  public RunReport run() throws Exception {
    var spec = MethodSpec.parse(options.scoring());
    var point = new PruningPoint(options.structure(), options.sparsity());
    checkOwl(List.of(spec), List.of(point));
    checkAdaptive(List.of(spec));
    var out = Files.createDirectories(options.out());
    checkStatisticsFile(List.of(spec));
    var datasets = readInputs();
    try (var manager = NDManager.newBaseManager();
        var model = load(manager)) {
      var statistics = statistics(model, needsGradientSums(List.of(spec)), inputStatistics(List.of(spec)));
      measureOutliers(model, statistics);
      var evaluations = new ArrayList<>(evaluate(model, datasets, RunReport.DENSE, RunReport.DENSE, null));
      var plan = prune(model, statistics, spec, point, spec.label(), spec.label(),
          out.resolve("masks.safetensors"), out.resolve("plan.json"), datasets, evaluations, true, manager);
      // the model folder is written beside and renamed once complete, card included, as the files are
      var modelDir = out.resolve("model");
      var partialModel = AtomicFiles.temporary(modelDir);
      AtomicFiles.deleteTree(partialModel);
      timed("write model", () -> {
        HuggingFaceWriter.write(model, partialModel);
        return null;
      });
      var report = report("run", plan, spec.label(), budget(spec), evaluations, List.of(point));
      // the card states the evaluation, so it is written once the report is complete
      var instruction = model.config().queryInstruction();
      ModelCard.write(report, ModelCard.baseModel(options.model(), model.hfConfig()),
          instruction != null && !instruction.isEmpty(), partialModel);
      AtomicFiles.deleteTree(modelDir); // an earlier run's, when the pipeline is driven without the CLI's --out check
      AtomicFiles.commit(partialModel, modelDir);
      ReportWriter.write(report, out);
      return report;
    }
  }

  /**
   * {@code gaprune compare}: one statistics session, then every method of {@code methods} planned at the same
   * sparsity, applied to the dense weights in turn and evaluated; masks per method in {@code out/masks/}.
   */
  public RunReport compare(List<ScoringMethod> methods) throws Exception {
    return compare(methods.stream().map(MethodSpec::of).toList(), List.of(options.sparsity()));
  }

  /**
   * {@code gaprune compare} in full: one statistics session, then every method at every sparsity, each applied
   * to the dense weights and evaluated. With more than one sparsity the variants are named
   * {@code METHOD@PERCENT}; masks go to {@code out/masks/}.
   */
  public RunReport compare(List<MethodSpec> methods, List<Double> sparsities) throws Exception {
    return compare(methods, sparsities, true);
  }

  /**
   * {@code gaprune compare}, where {@code evaluateDense} false skips the dense model's evaluation: it is the same
   * for every run of one model on one evaluation set, and on bge-small it costs as much as a method's.
   */
  public RunReport compare(List<MethodSpec> methods, List<Double> sparsities, boolean evaluateDense)
      throws Exception {
    if (sparsities.isEmpty()) {
      throw new IllegalArgumentException("compare needs at least one method and one sparsity");
    }
    for (double sparsity : sparsities) {
      if (!(sparsity >= 0 && sparsity <= 1)) {
        throw new IllegalArgumentException("--sparsities must lie in [0, 1], got " + sparsity);
      }
    }
    return compareAt(methods, PruningPoint.of(List.of(options.structure()), sparsities, options.sparsity()),
        evaluateDense);
  }

  /**
   * {@code gaprune compare} over points that may mix structures ({@link PruningPoint#of}): every method at every
   * point, each applied to the dense weights and evaluated. With more than one point the variants are named
   * {@code METHOD@PERCENT} or {@code METHOD@N:M}; masks go to {@code out/masks/} (the colon written as
   * {@code _}).
   */
  public RunReport compareAt(List<MethodSpec> methods, List<PruningPoint> points, boolean evaluateDense)
      throws Exception {
    return compareAt(methods, points, evaluateDense, true);
  }

  /**
   * {@link #compareAt(List, List, boolean)}, where {@code evaluateUntrained} false evaluates only the retrained
   * models (the dense model retrained, unless {@code evaluateDense} is false, and every variant retrained): the
   * untrained ones are what a compare without {@code --retrain-steps} on the same statistics measures, and each
   * evaluation costs minutes.
   */
  public RunReport compareAt(List<MethodSpec> methods, List<PruningPoint> points, boolean evaluateDense,
      boolean evaluateUntrained) throws Exception {
    if (methods.isEmpty() || points.isEmpty()) {
      throw new IllegalArgumentException("compare needs at least one method and one sparsity");
    }
    checkRetrainedOnly(evaluateUntrained, options.retrainSteps());
    checkOwl(methods, points);
    checkAdaptive(methods);
    var out = Files.createDirectories(options.out());
    var masksDir = Files.createDirectories(out.resolve("masks"));
    checkStatisticsFile(methods);
    var datasets = readInputs();
    try (var manager = NDManager.newBaseManager();
        var model = load(manager)) {
      var statistics = statistics(model, needsGradientSums(methods), inputStatistics(methods));
      measureOutliers(model, statistics);
      var evaluations = new ArrayList<RunReport.Evaluation>();
      var dense = DenseCopy.of(model.encoder());
      if (evaluateDense) {
        if (evaluateUntrained) {
          evaluations.addAll(evaluate(model, datasets, RunReport.DENSE, RunReport.DENSE, null));
        }
        if (options.retrainSteps() > 0) {
          // the pruned variants' retraining measured against the same steps on the dense model (same batches)
          retrain(model, Map.of());
          evaluations.addAll(evaluate(model, datasets, RunReport.DENSE_RETRAINED, RunReport.DENSE_RETRAINED, null));
          dense.restore(model.encoder());
        }
      }
      PlanResult chosen = null;
      String chosenVariant = null;
      boolean chosenIsScoring = false;
      for (var point : points) {
        for (var method : methods) {
          var variant = points.size() == 1 ? method.label() : method.label() + "@" + point.label();
          var file = variant.replaceAll("[^A-Za-z0-9.@\\-]", "_");
          var plan = prune(model, statistics, method, point, variant, method.label(),
              masksDir.resolve(file + ".safetensors"), masksDir.resolve(file + ".json"), datasets, evaluations,
              evaluateUntrained, manager);
          // the heat map's method: --scoring's when it is compared, else the first, at the first point
          boolean scoring = method.label().equals(options.scoring()) && point.equals(points.get(0));
          if (chosen == null || (scoring && !chosenIsScoring)) {
            chosen = plan;
            chosenVariant = variant;
            chosenIsScoring = scoring;
          }
          dense.restore(model.encoder());
        }
      }
      var report = report("compare", chosen, chosenVariant, null, evaluations, points);
      ReportWriter.write(report, out);
      return report;
    }
  }

  /** Evaluating the retrained models only needs retraining ({@code compare --retrained-only}). */
  public static void checkRetrainedOnly(boolean evaluateUntrained, int retrainSteps) {
    if (!evaluateUntrained && retrainSteps == 0) {
      throw new IllegalArgumentException("--retrained-only evaluates the retrained models only: it needs "
          + "--retrain-steps > 0");
    }
  }

  /**
   * Plans with {@code method}, applies the masks to the model, evaluates it (unless {@code evaluateUntrained} is
   * false), and when asked retrains it with the masks fixed and evaluates again; the rows go to
   * {@code evaluations}.
   */
  private PlanResult prune(LoadedModel model, MergedStatistics statistics, MethodSpec method, PruningPoint point,
      String variant, String label, Path masksFile, Path planFile, List<Map.Entry<String, BeirDataset>> datasets,
      List<RunReport.Evaluation> evaluations, boolean evaluateUntrained, NDManager manager) throws Exception {
    var plan = timed("plan " + variant, () -> {
      // masks and plan appear whole: written beside, renamed once the planner is done with both
      var partialMasks = AtomicFiles.temporary(masksFile);
      var partialPlan = AtomicFiles.temporary(planFile);
      try {
        var result = plan(model, statistics, method, point, partialMasks, partialPlan);
        AtomicFiles.commit(partialMasks, masksFile);
        AtomicFiles.commit(partialPlan, planFile);
        return result;
      } finally { // a failed plan leaves no partial file behind
        Files.deleteIfExists(partialMasks);
        Files.deleteIfExists(partialPlan);
      }
    });
    if (method.adaptive()) {
      adaptive(model, statistics, method, point, masksFile, variant);
    } else if (method.reconstruct()) {
      reconstruct(model, statistics, method, masksFile, variant);
    }
    var masks = Masks.apply(model.encoder(), Masks.read(masksFile), manager);
    try {
      if (evaluateUntrained) {
        evaluations.addAll(evaluate(model, datasets, variant, label, point));
      }
      if (options.retrainSteps() > 0) {
        retrain(model, masks);
        evaluations.addAll(evaluate(model, datasets, variant + "+retrain", label + "+retrain", point));
      }
    } finally {
      masks.values().forEach(NDArray::close);
    }
    return plan;
  }

  private LoadedModel load(NDManager manager) throws IOException {
    return timed("load model", () -> ModelLoader.load(options.model(), manager, DataType.FLOAT32,
        options.maxLength()));
  }

  /**
   * Every input file the run will read, read and checked before the model loads, so that a bad second triplet
   * file or evaluation folder fails in a second rather than after minutes of loading and sampling. The triplet
   * files are parsed in full, not just opened: a JSON array of triplets parses at tens of MB/s (the sample's
   * 2 × 1,000 triplets in milliseconds), nothing beside loading a model (9 s for MiniLM, minutes for a large
   * one), and only a full parse finds a bad element at the end. A triplet file the run does not read (the
   * statistics come from a file and nothing is retrained) is not read.
   *
   * @return the evaluation sets, by name
   */
  private List<Map.Entry<String, BeirDataset>> readInputs() throws IOException {
    // where the launcher sends this JVM's crash file (-XX:ErrorFile), beside the child workers' logs
    Files.createDirectories(options.out().resolve("work").resolve("logs"));
    var computeStatistics = options.statistics() == null;
    generalTriplets = computeStatistics ? timed("read triplets", () -> TripletReader.readAll(options.general()))
        : null;
    domainTriplets = computeStatistics || options.retrainSteps() > 0
        ? timed("read triplets", () -> TripletReader.readAll(options.domain())) : null;
    var datasets = new ArrayList<Map.Entry<String, BeirDataset>>();
    for (var dir : options.evals()) {
      var name = PipelineOptions.datasetName(dir);
      var dataset = timed("read evaluation sets", () -> BeirReader.read(dir, log));
      var dropped = droppedJudgements(name, dataset);
      if (dropped != null) {
        warnings.add(dropped);
      }
      datasets.add(Map.entry(name, dataset));
    }
    return datasets;
  }

  /**
   * The report's warning for an evaluation set read with qrels lines naming a query or document it does not have
   * (null when it has none). Those lines are ignored rather than failing the run (BEIR sets are often filtered
   * that way), but the metrics are then means over fewer queries than the set judges, and a number in the report
   * must not pass for the whole set's: the warning counts the lines and the queries lost.
   */
  static String droppedJudgements(String name, BeirDataset dataset) {
    if (dataset.droppedQrels() == 0) {
      return null;
    }
    int judged = dataset.qrels().size() + dataset.droppedQueries();
    return String.format(Locale.ROOT, "%s: %d qrels lines name a query or document that is not in the set and were "
        + "ignored; %s", name, dataset.droppedQrels(), dataset.droppedQueries() == 0
            ? "every judged query kept a judgement (all " + judged + " evaluated)"
            : dataset.droppedQueries() + " queries lost every judgement, so the metrics are means over "
                + dataset.qrels().size() + " of " + judged + " judged queries");
  }

  /**
   * @param method the variant's method, without the sparsity ({@link RunReport#DENSE} for the dense model)
   * @param point null for the dense model
   */
  private List<RunReport.Evaluation> evaluate(LoadedModel model, List<Map.Entry<String, BeirDataset>> datasets,
      String variant, String method, PruningPoint point) throws Exception {
    var rows = new ArrayList<RunReport.Evaluation>();
    for (var dataset : datasets) {
      var result = timed("evaluate " + variant + " " + dataset.getKey(),
          () -> new RetrievalEvaluator(32, progress).evaluate(model, dataset.getValue()));
      var metrics = new LinkedHashMap<String, Double>();
      metrics.put("ndcg@10", result.ndcg10());
      metrics.put("mrr@10", result.mrr10());
      metrics.put("recall@10", result.recall10());
      metrics.put("recall@100", result.recall100());
      rows.add(new RunReport.Evaluation(variant, dataset.getKey(), metrics, method,
          point == null ? null : point.sparsity(), point == null ? null : point.structure().toString()));
      progress.note(String.format(Locale.ROOT, "%-18s %-12s nDCG@10 %.4f  MRR@10 %.4f  R@10 %.4f  R@100 %.4f",
          variant, dataset.getKey(), result.ndcg10(), result.mrr10(), result.recall10(), result.recall100()));
      if (result.truncatedDocuments() + result.truncatedQueries() > 0 && variant.equals(RunReport.DENSE)) {
        warnings.add(String.format(Locale.ROOT, "%s: %d documents and %d queries longer than %d tokens were "
            + "truncated", dataset.getKey(), result.truncatedDocuments(), result.truncatedQueries(),
            result.maxLength()));
      }
    }
    return rows;
  }

  /** Whether any of the methods reads the mean gradients: only then do the workers collect and ship Σg. */
  private boolean needsGradientSums(List<MethodSpec> methods) {
    return methods.stream().anyMatch(m -> !m.method().layerwise()
        && m.apply(options.scoringParameters().config(m.method(), options.seed())).needsGradientSums());
  }

  /**
   * The input statistics the methods read: the Gram matrices when one needs them, else Σx² when one does or
   * when the OWL budget measures its outliers.
   */
  private InputStatistics inputStatistics(List<MethodSpec> methods) {
    var wanted = owl() ? InputStatistics.INPUT_NORMS : InputStatistics.INPUT_STATISTICS_NONE;
    for (var m : methods) {
      if (m.inputStatistics().getNumber() > wanted.getNumber()) {
        wanted = m.inputStatistics();
      }
    }
    return wanted;
  }

  /**
   * The {@code --statistics} file's header, checked before anything is loaded: the model it was computed on, and
   * the input statistics the methods (and budget owl) read. A file of a run that collected less fails here, saying
   * how to get one that serves, rather than at the first layer after the model has loaded.
   */
  private void checkStatisticsFile(List<MethodSpec> methods) throws IOException {
    var file = options.statistics();
    if (file == null) {
      return;
    }
    var contents = StatisticsFile.contents(file);
    if (!contents.model().equals(options.model())) {
      throw new IllegalArgumentException("statistics file " + file + " was computed on model \"" + contents.model()
          + "\", this run prunes \"" + options.model() + "\"");
    }
    var needed = inputStatistics(methods);
    var held = contents.inputs();
    if (held.getNumber() < needed.getNumber()) {
      var readers = new ArrayList<String>();
      for (var m : methods) {
        if (m.inputStatistics().getNumber() > held.getNumber()) {
          readers.add(m.label());
        }
      }
      if (owl() && held.getNumber() < InputStatistics.INPUT_NORMS_VALUE) {
        readers.add("budget owl");
      }
      boolean grams = needed == InputStatistics.INPUT_GRAMS;
      var missing = held == InputStatistics.INPUT_NORMS ? "the Gram matrices Σx·xᵀ"
          : grams ? "Σx² and the Gram matrices Σx·xᵀ" : "the input norms Σx²";
      var how = grams ? " and " + String.join(", ", readers) + " among the methods (the Gram matrices are saved only "
          + "when a method reads them)" : " (a saved file holds Σx² of linear candidates whatever the methods)";
      throw new IllegalArgumentException("statistics file " + file + " holds " + contents.inputsDescription()
          + ", but " + String.join(", ", readers) + (readers.size() == 1 ? " needs " : " need ") + missing
          + ": compute the statistics again with --save-statistics" + how
          + ", then plan from that run's statistics.safetensors");
    }
    statisticsFile = contents;
  }

  /**
   * The input statistics a session collects when its statistics are saved: at least Σx² (one value per input
   * channel, nothing beside the Fisher), so that the file serves wanda and budget owl later; the Gram matrices only
   * when a method of this run reads them (in·(in+1)/2 values per tensor and half, 31 GB in float64 for
   * Qwen3-Embedding-4B's MLP: docs/statistics.md). None when a candidate is an embedding: input statistics are
   * recorded for linear layers only (norms are 1-D and never candidates), so asking them would fail the session.
   */
  private InputStatistics savedInputStatistics(InputStatistics read) {
    if (LayerType.parse(options.layers()).contains(LayerType.EMBED)) {
      return read;
    }
    return read.getNumber() < InputStatistics.INPUT_NORMS_VALUE ? InputStatistics.INPUT_NORMS : read;
  }

  private boolean owl() {
    return BudgetMode.parse(options.budget()) == BudgetMode.OWL;
  }

  /** OWL sets a sparsity per layer; N:M has none to set: refused before anything is read. */
  private void checkOwl(List<MethodSpec> methods, List<PruningPoint> points) {
    if (!owl()) {
      return;
    }
    for (var point : points) {
      if (!point.structure().unstructured()) {
        throw OwlBudgets.structureRefused(point.structure());
      }
    }
    for (var m : methods) {
      if (!m.structure().unstructured()) {
        throw OwlBudgets.structureRefused(m.structure());
      }
    }
  }

  /**
   * The adaptive reconstruction reads the calibrated score less its magnitude term, which a post-process or the
   * fusion term would change into something else: refused before any work, as is a bad power.
   */
  private void checkAdaptive(List<MethodSpec> methods) {
    for (var m : methods) {
      if (!m.adaptive()) {
        continue;
      }
      m.priorExponent();
      var config = m.apply(options.scoringParameters().config(m.method(), options.seed()));
      if (config.postProcess() != io.gaprune.planner.PostProcess.NONE || config.fusion()) {
        throw new IllegalArgumentException("method \"" + m.label() + "\": adaptive weighs SparseGPT's saliency by "
            + "the calibrated score less its magnitude term, which --post-process " + config.postProcess()
            + (config.fusion() ? " and the fusion term change" : " changes") + "; leave them at their defaults");
      }
    }
  }

  /** Under the OWL budget, each layer's outlier ratio on the dense weights, once for every method and point. */
  private void measureOutliers(LoadedModel model, MergedStatistics statistics) throws IOException {
    if (!owl()) {
      return;
    }
    outliers = timed("owl outlier ratios", () -> OwlBudgets.measure(new EncoderLayers(model.encoder(), statistics),
        LayerType.parse(options.layers()), options.calibration(), OwlBudgets.DEFAULT_OUTLIER_MULTIPLE));
    var ratios = outliers.ratiosByLayer().entrySet().stream()
        .map(e -> String.format(Locale.ROOT, "%s %.4f", e.getKey(), e.getValue()))
        .collect(Collectors.joining(", "));
    progress.note("owl: outlier ratios (|W|·‖X‖ above " + OwlBudgets.DEFAULT_OUTLIER_MULTIPLE + "× the layer's mean) "
        + ratios);
  }

  /** The OWL budget's weights to prune per layer at a sparsity (λ = OWL's default). */
  private Map<String, Long> owlBudgets(double sparsity) {
    return outliers.layerBudgets(sparsity, OwlBudgets.DEFAULT_LAMBDA);
  }

  /**
   * The statistics file of an earlier run when given; else the calibration sets (representatively sampled when
   * asked), then the embedded session's statistics, written to {@code statistics.safetensors} when asked.
   */
  private MergedStatistics statistics(LoadedModel model, boolean gradientSums, InputStatistics inputs)
      throws Exception {
    if (options.statistics() != null) {
      var loaded = timed("read statistics", () -> StatisticsFile.read(options.statistics()));
      progress.note(String.format(Locale.ROOT, "statistics from %s: %d batches, %d + %d triplets, %d tensors, %s",
          options.statistics(), loaded.statistics().batches(), loaded.statistics().generalSamples(),
          loaded.statistics().domainSamples(), loaded.statistics().tensors().size(),
          statisticsFile.inputsDescription()));
      return MergedStatistics.of(loaded.statistics());
    }
    // a saved file serves other methods later (compare --statistics): it holds the gradient sums and Σx² too
    var collected = options.saveStatistics() ? savedInputStatistics(inputs) : inputs;
    var result = computeStatistics(model, gradientSums || options.saveStatistics(), collected);
    if (options.saveStatistics()) {
      var file = options.out().resolve("statistics.safetensors");
      timed("write statistics", () -> {
        StatisticsFile.write(result.statistics(), options.model(), file);
        return null;
      });
      progress.note("statistics written to " + file + ", with " + StatisticsFile.describe(collected)
          + "; reuse them with --statistics");
      if (collected == InputStatistics.INPUT_STATISTICS_NONE) {
        progress.note("the saved statistics hold no input statistics: --layers " + options.layers() + " names "
            + "embeddings, which are not linear layers; wanda, sparsegpt, reconstruct=1 and budget owl cannot plan "
            + "from the file");
      }
    }
    // read tensor by tensor from the session's accumulators when planned: the lead never holds them all
    return result.merged();
  }

  private EmbeddedSession.SessionResult computeStatistics(LoadedModel model, boolean gradientSums,
      InputStatistics inputs) throws Exception {
    var calibration = options.out().resolve("calibration");
    var general = calibrationSet(model, generalTriplets, options.general(), calibration.resolve("general.json"));
    var domain = calibrationSet(model, domainTriplets, options.domain(), calibration.resolve("domain.json"));
    calibrationSizes.put("general_triplets", general.size());
    calibrationSizes.put("domain_triplets", domain.size());
    int batches = Math.max(1, Math.min(general.size(), domain.size()) / options.batchSize());
    var config = GapruneConfig.load(null, ConfigFactory.empty()
        .withValue("gaprune.work-dir", ConfigValueFactory.fromAnyRef(
            options.out().resolve("work").toAbsolutePath().toString()))
        .withValue("gaprune.model", ConfigValueFactory.fromAnyRef(options.model()))
        .withValue("gaprune.http.enabled", ConfigValueFactory.fromAnyRef(false))
        // A private one-node cluster inside one job: no operator endpoints, no fixed ports to collide on.
        .withValue("gaprune.management.enabled", ConfigValueFactory.fromAnyRef(false)));
    var defaults = config.getConfig("gaprune.session");
    var session = SessionConfig.newBuilder()
        .setSessionId("run-" + Long.toString(System.currentTimeMillis(), 36))
        .setModel(options.model())
        .setGeneralPath(general.file().toAbsolutePath().toString())
        .setDomainPath(domain.file().toAbsolutePath().toString())
        .setSeed(options.seed())
        .setBatchSize(options.batchSize())
        .setBatchesPerUnit(batchesPerUnit(batches))
        .setStatistics(gradientSums ? StatisticSet.FISHER_AND_GRADIENTS : StatisticSet.FISHER)
        .setInputStatistics(inputs)
        // the pipeline plans every method itself from the merged statistics: the session only merges
        .setStatisticsOnly(true)
        .setCandidates(options.layers())
        .setSparsity(options.sparsity())
        .setMaxSeqLen(options.maxLength())
        .setAlpha(defaults.getDouble("alpha"))
        .setBeta(defaults.getDouble("beta"))
        .setGamma(defaults.getDouble("gamma"))
        .setBudget(options.budget())
        .build();
    var display = new SessionProgress(progress);
    // the session's in-process worker computes on this run's model: one copy of the weights per JVM
    var runtime = new ModelUnitComputer(model, options.model(), options.maxLength());
    var result = timed("statistics", () -> {
      try (runtime) {
        return EmbeddedSession.run(session, config, options.workers(), Duration.ofDays(7), display::update,
            runtime);
      }
    });
    display.end();
    var counters = result.status().getSession();
    var counted = new LinkedHashMap<String, Object>();
    counted.put("units", counters.getUnits());
    counted.put("partitions", counters.getPartitions());
    counted.put("passes", counters.getPasses());
    counted.put("batches", counters.getBatches());
    counted.put("shard_bytes", counters.getShardBytes());
    counted.put("shard_bytes_max_node", counters.getShardBytesMaxNode());
    counted.put("workers", counters.getWorkers());
    counted.put("statistics", counters.getStatistics().name().toLowerCase(Locale.ROOT));
    counted.put("input_statistics", counters.getInputStatistics().name().toLowerCase(Locale.ROOT));
    progress.note(String.format(Locale.ROOT, "session: %d units, %d pass(es) over %d batches, %.1f MB of shards"
        + " (%s, %s) from %d worker(s)", counters.getUnits(), counters.getPasses(), counters.getBatches(),
        counters.getShardBytes() / 1e6, counted.get("statistics"), counted.get("input_statistics"),
        counters.getWorkers()));
    sessionCounters = counted;
    return result;
  }

  /** Units per session that the pipeline aims at: enough for 8 workers to share and for a crash to lose little. */
  public static final int UNITS = 8;

  /**
   * Batches per unit from the data alone: never from the number of workers, so that any number of workers sums
   * the same units in the same order and gets the same bits (masks identical with 1 or 3 workers).
   */
  public static int batchesPerUnit(int batches) {
    return Math.max(1, (batches + UNITS - 1) / UNITS);
  }

  /** A calibration set as written for the session's workers. */
  private record Calibration(Path file, int size) {}

  /** @param triplets the file {@code source}, read before the model loaded ({@link #readInputs}) */
  private Calibration calibrationSet(LoadedModel model, List<Triplet> triplets, Path source, Path target)
      throws IOException {
    if (options.samples() == 0 || options.samples() >= triplets.size()) {
      TripletWriter.write(triplets, target);
      return new Calibration(target, triplets.size());
    }
    var sample = timed("sample " + target.getFileName().toString().replace(".json", ""),
        () -> RepresentativeSample.select(model, triplets, options.samples(), options.seed(), progress));
    TripletWriter.write(sample.triplets(), target);
    progress.note(String.format(Locale.ROOT, "sampled %d of %d triplets of %s (k-means, %d iterations)",
        sample.triplets().size(), triplets.size(), source, sample.selection().iterations()));
    return new Calibration(target, sample.triplets().size());
  }

  /** The budget an entry plans under: its own ({@code METHOD:budget=...}), else the run's {@code --budget}. */
  private BudgetMode budget(MethodSpec spec) {
    return spec.budgetOr(BudgetMode.parse(options.budget()));
  }

  private PlanResult plan(LoadedModel model, MergedStatistics statistics, MethodSpec spec, PruningPoint point,
      Path masks, Path stats) throws IOException {
    var method = spec.method();
    if (method.layerwise()) {
      // the method's own n/m (wanda:n=2:m=4) or the run's --structure; both given, they must agree
      var structure = spec.structure().unstructured() ? point.structure() : spec.structure();
      if (!point.structure().unstructured() && !point.structure().equals(structure)) {
        throw new IllegalArgumentException("method " + spec.label() + " asks for structure " + spec.structure()
            + " but the run's structure is " + point.structure() + ": give one of them");
      }
      var settings = LayerwisePruner.Settings.of(LayerType.parse(options.layers()),
          structure.unstructured() ? point.sparsity() : structure.sparsity())
          .withStructure(structure).withCalibration(options.calibration());
      if (outliers != null) {
        settings = settings.withLayerBudgets(owlBudgets(point.sparsity()));
      }
      var layers = new EncoderLayers(model.encoder(), statistics);
      return method == ScoringMethod.WANDA ? LayerwisePruner.wanda(layers, settings, masks, stats)
          : LayerwisePruner.sparseGpt(layers, settings, masks, stats);
    }
    var config = PlannerConfig.of(point.sparsity())
        .withScoring(spec.apply(options.scoringParameters().config(method, options.seed())))
        .withLayerTypes(LayerType.parse(options.layers()))
        .withBudget(budget(spec))
        .withStructure(point.structure());
    if (outliers != null && config.budget() == BudgetMode.OWL) { // an entry's own budget=rows leaves OWL's out
      config = config.withOwlBudgets(owlBudgets(point.sparsity()));
    }
    return new Planner(config).plan(new EncoderTensorSource(model.encoder(), statistics,
        method == ScoringMethod.DAI_REFERENCE), masks, stats);
  }

  /**
   * The OBS reconstruction of the kept weights after the plan's masks, on the domain Hessian plus the general one
   * weighted as the calibrated DAI weights the general Fisher (its λ).
   */
  private void reconstruct(LoadedModel model, MergedStatistics statistics, MethodSpec spec, Path masksFile,
      String variant) throws IOException {
    double lambda = spec.apply(options.scoringParameters().config(spec.method(), options.seed())).calibrated()
        .generalWeight();
    var result = timed("reconstruct " + variant, () -> LayerwisePruner.reconstruct(
        new EncoderLayers(model.encoder(), statistics), Masks.read(masksFile), lambda, SparseGpt.DEFAULT_BLOCK,
        SparseGpt.DEFAULT_DAMPENING));
    var mean = LayerwisePruner.Reconstruction.mean(result);
    progress.note(String.format(Locale.ROOT, "%s: reconstructed %d tensors, mean relative error on the calibration "
        + "inputs %.4f -> %.4f", variant, result.size(), mean.before(), mean.after()));
  }

  /**
   * The adaptive reconstruction after the plan's masks: each tensor keeps its budget, its mask re-chosen by
   * SparseGPT's adaptive selection weighted by the method's score (less its magnitude term, to the power
   * {@code adaptive=p}) while the kept weights are updated on the reconstruction's Hessian; the masks file is
   * rewritten with the new masks.
   */
  private void adaptive(LoadedModel model, MergedStatistics statistics, MethodSpec spec, PruningPoint point,
      Path masksFile, String variant) throws IOException {
    var config = spec.apply(options.scoringParameters().config(spec.method(), options.seed()));
    double p = spec.priorExponent();
    var priors = LayerwisePruner.scorePriors(new EncoderTensorSource(model.encoder(), statistics, false),
        new io.gaprune.planner.Scorer(config), p);
    var result = timed("adaptive reconstruction " + variant, () -> LayerwisePruner.adaptive(
        new EncoderLayers(model.encoder(), statistics), Masks.read(masksFile), priors, point.structure(),
        config.calibrated().generalWeight(), SparseGpt.DEFAULT_BLOCK, SparseGpt.DEFAULT_DAMPENING));
    Masks.rewrite(masksFile, result.masks(), Map.of("gaprune.adaptive", Double.toString(p)));
    var mean = LayerwisePruner.Reconstruction.mean(result.errors());
    progress.note(String.format(Locale.ROOT, "%s: adaptive reconstruction of %d tensors, mean relative error on the "
        + "calibration inputs %.4f (the plan's mask) -> %.4f", variant, result.errors().size(), mean.before(),
        mean.after()));
  }

  private void retrain(LoadedModel model, Map<String, NDArray> masks) throws IOException {
    var file = options.out().resolve("calibration").resolve("domain.json");
    if (!Files.isRegularFile(file)) { // statistics read from a file: no calibration set was made yet
      Files.createDirectories(file.getParent());
      calibrationSet(model, domainTriplets, options.domain(), file);
    }
    var triplets = TripletReader.readAll(file);
    var settings = Retrainer.Settings.defaults(options.retrainSteps(), options.seed());
    var result = timed("retrain", () -> Retrainer.retrain(model, masks, triplets, settings, progress));
    progress.note(String.format(Locale.ROOT, "retrained %d steps, loss %.4f -> %.4f", result.losses().size(),
        result.losses().get(0), result.losses().get(result.losses().size() - 1)));
  }

  /**
   * @param budget the budget that pruned the model, recorded for run; null for compare, whose variants each name
   *     their own
   * @param points the points planned: the configuration records their sparsities and structures, since
   *     compare's {@code --sparsities} and {@code --structures} override {@code --sparsity} and
   *     {@code --structure}
   */
  private RunReport report(String command, PlanResult plan, String chosen, BudgetMode budget,
      List<RunReport.Evaluation> evaluations, List<PruningPoint> points) {
    var layers = plan.layers().stream()
        .map(g -> new RunReport.LayerSparsity(g.group(), g.size(), g.pruned()))
        .toList();
    var allWarnings = new ArrayList<>(warnings);
    allWarnings.addAll(plan.warnings());
    var configuration = options.asMap();
    configuration.put("sparsity", points.get(0).sparsity());
    configuration.put("sparsities", points.stream().map(PruningPoint::sparsity).distinct().toList());
    // the chosen plan's structure (what layers and tensors describe) and every structure planned
    configuration.put("structure", plan.structure().toString());
    configuration.put("structures", points.stream().map(p -> p.structure().toString()).distinct().toList());
    configuration.put("points", points.stream().map(PruningPoint::label).toList());
    if (!plan.structure().unstructured()) {
      configuration.put("budget", "none (" + plan.structure() + ")");
    } else if (budget != null) { // run's: the scoring entry's own budget, if it names one, is what pruned the model
      configuration.put("budget", budget.toString());
    }
    configuration.putAll(calibrationSizes);
    if (outliers != null) {
      var owl = new LinkedHashMap<String, Object>();
      owl.put("lambda", OwlBudgets.DEFAULT_LAMBDA);
      owl.put("outlier_multiple", OwlBudgets.DEFAULT_OUTLIER_MULTIPLE);
      owl.put("outlier_ratios", outliers.ratiosByLayer());
      configuration.put("owl", owl);
    }
    var tensors = plan.tensors().stream()
        .map(t -> new RunReport.TensorSparsity(t.name(), t.size(), t.pruned()))
        .toList();
    return new RunReport(command, configuration, plan.requestedSparsity(), plan.actualSparsity(),
        plan.candidates(), plan.pruned(), new LinkedHashMap<>(timings), layers, evaluations, allWarnings,
        sessionCounters, chosen, tensors);
  }

  @FunctionalInterface
  private interface Step<T, E extends Exception> {
    T run() throws E;
  }

  private <T, E extends Exception> T timed(String phase, Step<T, E> step) throws E {
    long start = System.nanoTime();
    try {
      return step.run();
    } finally {
      timings.merge(phase, (System.nanoTime() - start) / 1e9, Double::sum);
    }
  }
}
