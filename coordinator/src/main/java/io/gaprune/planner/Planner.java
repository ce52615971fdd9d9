package io.gaprune.planner;

import io.gaprune.model.LayerType;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.gaprune.model.safetensors.DType;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.model.safetensors.TensorSpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;


/**
 * Scores the candidate tensors and prunes exactly the budgeted number of lowest scores, streaming the model one
 * tensor at a time.
 *
 * <p>Passes: each selection pass scores every candidate and feeds its keys ({@link ScoreKeys}) to the
 * selection's accumulator (a histogram of the next key digit, or the keys of a small bucket); after each pass
 * every {@link RadixSelector} narrows its bucket, until each knows its exact threshold key and how many of the
 * scores tied at it to prune. A last pass scores again, decides every weight in the fixed order (tensor order,
 * then flat index: ties at the threshold are pruned first-come), writes the masks and counts. Memory beyond the
 * tensor in hand is the selection memory ({@link PlannerConfig#selectionMemoryBytes()}), a 512 KiB histogram
 * for the score statistics, and the per-tensor counts.
 *
 * <p>An N:M structure ({@link PlannerConfig#structure()}) needs no selection: every group of M weights of a
 * row keeps its N best ({@link NmSelection}), so the mask pass is the only pass.
 */
public final class Planner {

  private static final double[] QUANTILES = {0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1};

  private final PlannerConfig config;
  private final Scorer scorer;

  public Planner(PlannerConfig config) {
    this.config = config;
    this.scorer = new Scorer(config.scoring());
  }

  public PlannerConfig config() {
    return config;
  }

  /** Plans without writing files. */
  public PlanResult plan(TensorSource source) throws IOException {
    return plan(source, null, null);
  }

  /**
   * Plans, writing the masks (one U8 tensor per candidate, 1 kept, 0 pruned) and the stats JSON where the
   * paths are not null.
   */
  public PlanResult plan(TensorSource source, Path masksOut, Path statsOut) throws IOException {
    var all = source.tensors();
    var candidates = new ArrayList<TensorMeta>();
    var groupOf = new LinkedHashMap<String, String>();
    var groupSizes = new LinkedHashMap<String, Long>();
    for (var t : all) {
      if (LayerType.isCandidate(config.layerTypes(), t.name(), t.shape())) {
        if (t.size() > Integer.MAX_VALUE - 8) {
          throw new IllegalArgumentException("tensor " + t.name() + " has " + t.size()
              + " elements, more than one tensor in hand can hold");
        }
        candidates.add(t);
        String g = LayerType.group(t.name());
        groupOf.put(t.name(), g);
        groupSizes.merge(g, t.size(), Long::sum);
      }
    }
    if (candidates.isEmpty()) {
      throw new IllegalArgumentException("no candidate tensors: none of the " + all.size()
          + " tensors has 2+ dimensions and a name of layer type " + LayerType.describe(config.layerTypes())
          + " (valid types: " + LayerType.VALID + ")");
    }
    long n = groupSizes.values().stream().mapToLong(Long::longValue).sum();
    if (n == 0) {
      throw new IllegalArgumentException("the " + candidates.size() + " candidate tensors hold no weights (a zero "
          + "dimension): nothing to plan");
    }
    var warnings = new ArrayList<String>();
    var structure = config.structure();
    boolean structured = !structure.unstructured();

    // Budgets: one selection per group (uniform) or one over everything (global); none for N:M, whose k is
    // (M − N) per group of M.
    var selectionNames = new ArrayList<String>();
    var selectionOfGroup = new LinkedHashMap<String, Integer>();
    long[] sizes;
    long[] ks;
    long structuredK = 0;
    if (structured) {
      NmSelection.checkDivisible(structure, candidates);
      sizes = new long[0];
      ks = new long[0];
      structuredK = n / structure.m() * (structure.m() - structure.n());
    } else if (config.budget() == BudgetMode.GLOBAL) {
      selectionNames.add("global");
      groupSizes.keySet().forEach(g -> selectionOfGroup.put(g, 0));
      sizes = new long[] {n};
      ks = new long[] {Budgets.global(config.sparsity(), n)};
    } else {
      sizes = groupSizes.values().stream().mapToLong(Long::longValue).toArray();
      ks = Budgets.uniform(config.sparsity(), sizes, config.rhoMin(), config.rhoMax());
      int i = 0;
      for (String g : groupSizes.keySet()) {
        selectionNames.add(g);
        selectionOfGroup.put(g, i++);
      }
      double rho = Budgets.uniformRatio(config.sparsity(), config.rhoMin(), config.rhoMax());
      if (rho != config.sparsity()) {
        warnings.add("uniform budget: sparsity " + config.sparsity() + " clamped to [" + config.rhoMin() + ", "
            + config.rhoMax() + "] gives per-layer ratio " + rho);
      }
    }
    long totalK = structuredK;
    for (long k : ks) {
      totalK += k;
    }
    if (totalK == 0 && config.sparsity() > 0) {
      warnings.add("sparsity " + config.sparsity() + " of " + n + " candidates rounds down to 0 weights");
    }

    int s = ks.length;
    var selectors = new RadixSelector[s];
    int active = 0;
    for (int i = 0; i < s; i++) {
      if (ks[i] > 0 && ks[i] < sizes[i]) {
        active++;
      }
    }
    long perSelection = config.selectionMemoryBytes() / Math.max(1, active);
    // As wide a digit as the memory allows (up to 20 bits, 8 MiB): a wider first digit leaves a smaller bucket,
    // so a large model reaches the collection pass one histogram pass sooner; each pass re-scores the model.
    int digitBits = (int) Math.max(4, Math.min(20, 63 - Long.numberOfLeadingZeros(Math.max(1, perSelection / 8))));
    int collectCap = (int) Math.min(Integer.MAX_VALUE - 8, perSelection / 8);
    for (int i = 0; i < s; i++) {
      selectors[i] = new RadixSelector(sizes[i], ks[i], digitBits, collectCap);
    }

    // Selection passes.
    int passes = 0;
    while (true) {
      var acc = new PassAccumulator[s];
      boolean any = false;
      for (int i = 0; i < s; i++) {
        if (!selectors[i].resolved()) {
          acc[i] = selectors[i].newPass();
          any = true;
        }
      }
      if (!any) {
        break;
      }
      passes++;
      for (var t : candidates) {
        int sel = selectionOfGroup.get(groupOf.get(t.name()));
        if (acc[sel] == null) {
          continue; // its selection is resolved: no need to score it in this pass
        }
        var keys = keys(score(source, t));
        acc[sel].acceptAll(keys, 0, keys.length);
      }
      for (int i = 0; i < s; i++) {
        if (acc[i] != null) {
          selectors[i].complete(acc[i]);
        }
      }
    }

    // Mask pass: decide, write, count, and gather the score statistics.
    passes++;
    var cuts = new Threshold.Cut[s];
    for (int i = 0; i < s; i++) {
      cuts[i] = selectors[i].threshold().cut();
    }
    var statsHist = new KeyHistogram(16, 0, 0);
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    double sum = 0;
    var tensorCounts = new ArrayList<PlanResult.TensorCount>();
    var groupPruned = new LinkedHashMap<String, Long>();
    SafetensorsWriter writer = null;
    if (masksOut != null) {
      var specs = candidates.stream().map(t -> new TensorSpec(t.name(), DType.U8, t.shape())).toList();
      var md = new LinkedHashMap<String, String>();
      md.put("format", "pt");
      md.put("gaprune.kind", "masks");
      md.put("gaprune.method", config.scoring().method().cliName());
      md.put("gaprune.sparsity", Double.toString(config.sparsity()));
      md.put("gaprune.budget", structured ? "none" : config.budget().toString());
      md.put("gaprune.structure", structure.toString());
      md.put("gaprune.layer_types", LayerType.describe(config.layerTypes()));
      writer = SafetensorsWriter.create(masksOut, specs, md);
    }
    try {
      for (var t : candidates) {
        String g = groupOf.get(t.name());
        int sel = structured ? -1 : selectionOfGroup.get(g);
        var scores = score(source, t);
        var keys = keys(scores);
        statsHist.acceptAll(keys, 0, keys.length);
        var mask = structured ? NmSelection.mask(keys, structure) : new byte[scores.length];
        long pruned = 0;
        var cut = structured ? null : cuts[sel];
        for (int j = 0; j < scores.length; j++) {
          double v = scores[j];
          min = Math.min(min, v);
          max = Math.max(max, v);
          sum += v;
          if (structured) {
            pruned += 1 - mask[j];
          } else if (cut.prune(keys[j])) {
            pruned++;
          } else {
            mask[j] = 1;
          }
        }
        if (writer != null) {
          writer.writeBytes(t.name(), mask);
        }
        groupPruned.merge(g, pruned, Long::sum);
        boolean entire = pruned == t.size() && t.size() > 0;
        boolean forced = entire && !structured && ks[sel] == sizes[sel];
        if (entire && !forced) {
          warnings.add("tensor " + t.name() + " is entirely pruned (" + pruned + " weights) though its budget did "
              + "not force it: its scores are all below the threshold; consider per-tensor post-processing or a "
              + "uniform budget");
        }
        tensorCounts.add(new PlanResult.TensorCount(t.name(), t.shape(), g, t.size(), pruned, entire, forced));
      }
      if (writer != null) {
        writer.close();
        writer = null;
      }
    } finally {
      if (writer != null) {
        writer.abort();
      }
    }
    for (int i = 0; i < s; i++) {
      if (cuts[i].tiesLeft() != 0) {
        throw new IllegalStateException("the score stream changed between passes: selection "
            + selectionNames.get(i) + " still had " + cuts[i].tiesLeft() + " ties to prune after the mask pass");
      }
    }

    var selections = new ArrayList<PlanResult.Selection>();
    for (int i = 0; i < s; i++) {
      selections.add(new PlanResult.Selection(selectionNames.get(i), sizes[i], ks[i], selectors[i].threshold(),
          selectors[i].passes()));
    }
    var layers = new ArrayList<PlanResult.GroupCount>();
    for (var e : groupSizes.entrySet()) {
      layers.add(new PlanResult.GroupCount(e.getKey(), e.getValue(), groupPruned.getOrDefault(e.getKey(), 0L)));
    }
    long prunedTotal = tensorCounts.stream().mapToLong(PlanResult.TensorCount::pruned).sum();
    if (prunedTotal != totalK) {
      throw new IllegalStateException("pruned " + prunedTotal + " weights, the budget is " + totalK
          + ": the score stream changed between passes");
    }
    var summary = new PlanResult.ScoreSummary(n, min, max, sum / n, quantiles(statsHist, n, min, max));
    var result = new PlanResult(config.sparsity(), (double) prunedTotal / n, n, prunedTotal, List.copyOf(selections),
        List.copyOf(layers), List.copyOf(tensorCounts), summary, passes, List.copyOf(warnings), structure);
    if (statsOut != null) {
      Files.writeString(statsOut, toJson(result), StandardCharsets.UTF_8);
    }
    return result;
  }

  private double[] score(TensorSource source, TensorMeta t) throws IOException {
    var input = source.load(t);
    if (!input.meta().equals(t)) {
      throw new IllegalArgumentException("tensor " + t.name() + ": source listed it as " + t + " but loaded "
          + input.meta());
    }
    return scorer.score(input);
  }

  private static long[] keys(double[] scores) {
    var keys = new long[scores.length];
    for (int j = 0; j < scores.length; j++) {
      keys[j] = ScoreKeys.key(scores[j]);
    }
    return keys;
  }

  private static List<PlanResult.Quantile> quantiles(KeyHistogram h, long n, double min, double max) {
    var out = new ArrayList<PlanResult.Quantile>();
    for (double q : QUANTILES) {
      long rank = Math.max(1, (long) Math.ceil(q * n));
      long cum = 0;
      int d = 0;
      for (; d < h.buckets() - 1; d++) {
        if (cum + h.count(d) >= rank) {
          break;
        }
        cum += h.count(d);
      }
      double lo = Math.max(min, ScoreKeys.score(h.lowKey(d)));
      double hi = Math.min(max, ScoreKeys.score(h.highKey(d)));
      out.add(new PlanResult.Quantile(q, Double.isNaN(lo) ? min : lo, Double.isNaN(hi) ? max : hi));
    }
    return out;
  }

  /** The stats JSON of a plan (with this planner's configuration). */
  public String toJson(PlanResult r) {
    var root = new JsonObject();
    var sc = config.scoring();
    var scoring = new JsonObject();
    scoring.addProperty("method", sc.method().cliName());
    scoring.addProperty("beta", sc.beta());
    scoring.addProperty("gamma", sc.gamma());
    scoring.addProperty("alpha", sc.alpha());
    scoring.addProperty("alignment", sc.alignment().toString().toLowerCase());
    scoring.addProperty("alignment_window", sc.alignmentWindow());
    scoring.addProperty("post_process", sc.postProcess().toString());
    scoring.addProperty("temperature", sc.temperature());
    scoring.addProperty("fusion", sc.fusion());
    scoring.addProperty("fusion_alpha", sc.fusionAlpha());
    scoring.addProperty("fusion_beta", sc.fusionBeta());
    scoring.addProperty("reference_half_storage", sc.referenceHalfStorage());
    scoring.addProperty("seed", sc.seed());
    if (sc.method() == ScoringMethod.DAI_CALIBRATED) {
      var k = sc.calibrated();
      scoring.addProperty("calibrated_q", k.fisherExponent());
      scoring.addProperty("calibrated_lambda", k.generalWeight());
      scoring.addProperty("calibrated_alignment_weight", k.alignmentWeight());
      scoring.addProperty("calibrated_alignment_window", k.alignmentWindow());
      scoring.addProperty("calibrated_rank1", k.rank1());
      scoring.addProperty("calibrated_floor", k.floor());
    }
    root.add("scoring", scoring);
    root.addProperty("layer_types", LayerType.describe(config.layerTypes()));
    // N:M decides per group of M: no budget, no selection (the selections list is empty)
    root.addProperty("structure", config.structure().toString());
    root.addProperty("budget", config.structure().unstructured() ? config.budget().toString() : "none");
    root.addProperty("rho_min", config.rhoMin());
    root.addProperty("rho_max", config.rhoMax());
    root.addProperty("requested_sparsity", r.requestedSparsity());
    root.addProperty("actual_sparsity", r.actualSparsity());
    root.addProperty("candidates", r.candidates());
    root.addProperty("k", r.pruned());
    root.addProperty("pruned", r.pruned());
    root.addProperty("passes", r.passes());
    var sels = new JsonArray();
    for (var s : r.selections()) {
      var o = new JsonObject();
      o.addProperty("group", s.group());
      o.addProperty("size", s.size());
      o.addProperty("k", s.k());
      var t = s.threshold();
      if (t.isSentinel()) {
        o.addProperty("threshold", t.key() == ScoreKeys.ABOVE_ALL ? "prune all" : "prune none");
      } else {
        o.addProperty("threshold", t.score());
        o.addProperty("threshold_key", Long.toHexString(t.key()));
      }
      o.addProperty("below_threshold", t.below());
      o.addProperty("ties_at_threshold", t.equalTotal());
      o.addProperty("ties_pruned", t.equalToPrune());
      o.addProperty("passes", s.passes());
      sels.add(o);
    }
    root.add("selections", sels);
    var ss = r.scores();
    var scores = new JsonObject();
    scores.addProperty("count", ss.count());
    scores.addProperty("min", ss.min());
    scores.addProperty("max", ss.max());
    scores.addProperty("mean", ss.mean());
    var qs = new JsonArray();
    for (var q : ss.quantiles()) {
      var o = new JsonObject();
      o.addProperty("q", q.q());
      o.addProperty("low", q.low());
      o.addProperty("high", q.high());
      qs.add(o);
    }
    scores.add("quantiles", qs);
    root.add("scores", scores);
    var layers = new JsonArray();
    for (var l : r.layers()) {
      var o = new JsonObject();
      o.addProperty("group", l.group());
      o.addProperty("size", l.size());
      o.addProperty("pruned", l.pruned());
      o.addProperty("sparsity", l.sparsity());
      layers.add(o);
    }
    root.add("layers", layers);
    var tensors = new JsonArray();
    for (var t : r.tensors()) {
      var o = new JsonObject();
      o.addProperty("name", t.name());
      var shape = new JsonArray();
      for (long d : t.shape()) {
        shape.add(d);
      }
      o.add("shape", shape);
      o.addProperty("group", t.group());
      o.addProperty("size", t.size());
      o.addProperty("pruned", t.pruned());
      o.addProperty("sparsity", t.sparsity());
      o.addProperty("entirely_pruned", t.entirelyPruned());
      o.addProperty("forced", t.forced());
      tensors.add(o);
    }
    root.add("tensors", tensors);
    var w = new JsonArray();
    r.warnings().forEach(w::add);
    root.add("warnings", w);
    root.addProperty("entirely_pruned_unforced",
        r.tensors().stream().filter(t -> t.entirelyPruned() && !t.forced()).count());
    return new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().disableHtmlEscaping()
        .create().toJson(root) + "\n";
  }

  /** Convenience for callers holding everything in memory. */
  public static PlanResult plan(PlannerConfig config, List<TensorInput> tensors) throws IOException {
    return new Planner(config).plan(new InMemoryTensorSource(tensors));
  }

}
