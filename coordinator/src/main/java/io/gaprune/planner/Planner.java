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
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;


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
    var layout = PlanLayout.of(config, source.tensors());
    SafetensorsWriter writer = null;
    if (masksOut != null) {
      writer = SafetensorsWriter.create(masksOut, maskSpecs(layout), maskMetadata());
    }
    try {
      PlanShare.MaskSink sink = null;
      if (writer != null) {
        var w = writer;
        sink = (t, mask) -> w.writeBytes(t.name(), mask);
      }
      var result = plan(layout, List.of(new PlanShare(scorer, layout, source, layout.candidates(), sink)));
      if (writer != null) {
        writer.close();
        writer = null;
      }
      if (statsOut != null) {
        Files.writeString(statsOut, toJson(result), StandardCharsets.UTF_8);
      }
      return result;
    } finally {
      if (writer != null) {
        writer.abort();
      }
    }
  }

  /** A share of this plan computed here: the scorer of this planner over {@code tensors} of {@code source}. */
  public PlanShare share(PlanLayout layout, TensorSource source, List<TensorMeta> tensors, PlanShare.MaskSink sink) {
    return new PlanShare(scorer, layout, source, tensors, sink);
  }

  /** The masks file's tensors: one U8 mask per candidate, in the fixed order. */
  public static List<TensorSpec> maskSpecs(PlanLayout layout) {
    return layout.candidates().stream().map(t -> new TensorSpec(t.name(), DType.U8, t.shape())).toList();
  }

  /** The masks file's metadata: what produced it. */
  public Map<String, String> maskMetadata() {
    var md = new LinkedHashMap<String, String>();
    md.put("format", "pt");
    md.put("gaprune.kind", "masks");
    md.put("gaprune.method", config.scoring().method().cliName());
    md.put("gaprune.sparsity", Double.toString(config.sparsity()));
    md.put("gaprune.budget", config.structure().unstructured() ? config.budget().toString() : "none");
    md.put("gaprune.structure", config.structure().toString());
    md.put("gaprune.layer_types", LayerType.describe(config.layerTypes()));
    return md;
  }

  /**
   * Plans over participants that each hold a contiguous run of the layout's candidates, in the fixed order
   * (together all of them, each once): selection passes whose accumulators the participants fill and this
   * planner merges, a tie count when several participants may hold ties of a partially pruned threshold, and
   * the mask pass, where each participant writes its own masks. The result is the one a single participant
   * holding every tensor gives, bit for bit: ties are pruned first-come in the fixed order either way.
   */
  public PlanResult plan(PlanLayout layout, List<? extends PlanParticipant> participants) throws IOException {
    checkCoverage(layout, participants);
    int s = layout.selectionCount();
    var selectors = layout.selectors();
    int passes = 0;
    while (!allResolved(selectors)) {
      passes++;
      var merged = new PassAccumulator[s];
      for (var p : participants) {
        var fresh = new PassAccumulator[s];
        for (int i = 0; i < s; i++) {
          fresh[i] = selectors[i].resolved() ? null : selectors[i].newPass();
        }
        var filled = p.pass(fresh);
        for (int i = 0; i < s; i++) {
          if (filled[i] != null) {
            merged[i] = merged[i] == null ? filled[i] : merged[i].merge(filled[i]);
          }
        }
      }
      for (int i = 0; i < s; i++) {
        if (merged[i] != null) {
          selectors[i].complete(merged[i]);
        }
      }
    }

    var thresholds = new Threshold[s];
    var keys = new long[s];
    var partial = new boolean[s];
    boolean anyPartial = false;
    for (int i = 0; i < s; i++) {
      thresholds[i] = selectors[i].threshold();
      keys[i] = thresholds[i].key();
      partial[i] = thresholds[i].equalToPrune() < thresholds[i].equalTotal();
      anyPartial |= partial[i] && thresholds[i].equalToPrune() > 0;
    }
    // Tie quotas: each participant prunes the ties it meets while its quota lasts, and the quotas follow the fixed
    // order. One participant needs no count; several need one only where a threshold cuts through its ties.
    var quotas = new long[participants.size()][s];
    if (participants.size() == 1 || !anyPartial) {
      for (var q : quotas) {
        for (int i = 0; i < s; i++) {
          q[i] = thresholds[i].equalToPrune();
        }
      }
    } else {
      passes++;
      var left = new long[s];
      for (int i = 0; i < s; i++) {
        left[i] = thresholds[i].equalToPrune();
      }
      for (int p = 0; p < participants.size(); p++) {
        var ties = participants.get(p).ties(keys);
        for (int i = 0; i < s; i++) {
          quotas[p][i] = partial[i] ? Math.min(left[i], ties[i]) : thresholds[i].equalToPrune();
          left[i] -= partial[i] ? quotas[p][i] : 0;
        }
      }
    }

    passes++;
    var statsHist = new KeyHistogram(16, 0, 0);
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    double sum = 0;
    var prunedOf = new HashMap<String, Long>();
    var tiesLeft = new long[s];
    for (int p = 0; p < participants.size(); p++) {
      var o = participants.get(p).masks(keys, quotas[p]);
      statsHist = statsHist.merge(o.scoreHistogram());
      min = Math.min(min, o.min());
      max = Math.max(max, o.max());
      sum += o.sum();
      for (var t : o.tensors()) {
        prunedOf.put(t.name(), t.pruned());
      }
      for (int i = 0; i < s; i++) {
        tiesLeft[i] += o.tiesLeft()[i];
      }
    }
    for (int i = 0; i < s; i++) {
      // Where every tie is pruned, a participant's quota is the whole count and only the total below is checked.
      if (partial[i] && tiesLeft[i] != 0) {
        throw new IllegalStateException("the score stream changed between passes: selection "
            + layout.selectionName(i) + " still had " + tiesLeft[i] + " ties to prune after the mask pass");
      }
    }

    var warnings = new ArrayList<String>(layout.warnings());
    var tensorCounts = new ArrayList<PlanResult.TensorCount>();
    var groupPruned = new LinkedHashMap<String, Long>();
    for (var t : layout.candidates()) {
      Long pruned = prunedOf.remove(t.name());
      if (pruned == null) {
        throw new IllegalStateException("no participant planned tensor " + t.name());
      }
      String g = layout.groupOf(t);
      int sel = layout.local() ? -1 : layout.selectionOf(t);
      groupPruned.merge(g, pruned, Long::sum);
      boolean entire = pruned == t.size() && t.size() > 0;
      boolean forced = entire && (layout.local() ? layout.rowBudgets() && layout.rowBudget(t) == t.size()
          : layout.k(sel) == layout.size(sel));
      if (entire && !forced) {
        warnings.add("tensor " + t.name() + " is entirely pruned (" + pruned + " weights) though its budget did "
            + "not force it: its scores are all below the threshold; consider per-tensor post-processing or a "
            + "uniform budget");
      }
      tensorCounts.add(new PlanResult.TensorCount(t.name(), t.shape(), g, t.size(), pruned, entire, forced));
    }
    if (!prunedOf.isEmpty()) {
      throw new IllegalStateException("participants counted tensors that are not candidates: " + prunedOf.keySet());
    }
    var selections = new ArrayList<PlanResult.Selection>();
    for (int i = 0; i < s; i++) {
      selections.add(new PlanResult.Selection(layout.selectionName(i), layout.size(i), layout.k(i), thresholds[i],
          selectors[i].passes()));
    }
    var layers = new ArrayList<PlanResult.GroupCount>();
    for (var e : layout.groupSizes().entrySet()) {
      layers.add(new PlanResult.GroupCount(e.getKey(), e.getValue(), groupPruned.getOrDefault(e.getKey(), 0L)));
    }
    long n = layout.candidateWeights();
    long prunedTotal = tensorCounts.stream().mapToLong(PlanResult.TensorCount::pruned).sum();
    if (prunedTotal != layout.prunedWeights()) {
      throw new IllegalStateException("pruned " + prunedTotal + " weights, the budget is " + layout.prunedWeights()
          + ": the score stream changed between passes");
    }
    var summary = new PlanResult.ScoreSummary(n, min, max, sum / n, quantiles(statsHist, n, min, max));
    return new PlanResult(config.sparsity(), (double) prunedTotal / n, n, prunedTotal, List.copyOf(selections),
        List.copyOf(layers), List.copyOf(tensorCounts), summary, passes, List.copyOf(warnings),
        layout.structure());
  }

  /** Participants must hold the candidates in contiguous runs, in order, each once: the tie rule depends on it. */
  private static void checkCoverage(PlanLayout layout, List<? extends PlanParticipant> participants) {
    var expected = layout.candidates();
    int next = 0;
    for (int p = 0; p < participants.size(); p++) {
      for (var t : participants.get(p).tensors()) {
        if (next >= expected.size() || !expected.get(next).equals(t)) {
          throw new IllegalArgumentException("participant " + p + " holds " + t + " where the plan's fixed order has "
              + (next < expected.size() ? expected.get(next) : "no more candidates") + ": participants must hold "
              + "the candidates in contiguous runs, in order, each once");
        }
        next++;
      }
    }
    if (next != expected.size()) {
      throw new IllegalArgumentException("the participants hold " + next + " of the plan's " + expected.size()
          + " candidate tensors; the first one missing is " + expected.get(next));
    }
  }

  private static boolean allResolved(RadixSelector[] selectors) {
    for (var r : selectors) {
      if (!r.resolved()) {
        return false;
      }
    }
    return true;
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
