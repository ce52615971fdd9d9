package io.gaprune.planner;

import io.gaprune.model.LayerType;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import io.gaprune.model.safetensors.DType;
import io.gaprune.model.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The planner end to end against a full sort: the pruned set is exactly the k lowest scores (ties in tensor
 * order, then flat index), globally or per layer, for many sizes, sparsities, tie patterns and selection
 * memories; the masks file and the stats JSON say the same.
 */
class PlannerTest {

  @TempDir Path dir;

  static final String[] MLP = {"gate_proj", "up_proj", "down_proj"};

  /** Candidate tensors (MLP) totalling n weights over up to 3 layers, plus non-candidates in between. */
  /**
   * {@code c} with {@code budget}; for OWL, budgets from made-up outlier ratios that differ by layer, with a λ
   * small enough for every sparsity (0 and 1 included).
   */
  static PlannerConfig budgeted(PlannerConfig c, BudgetMode budget, List<TensorInput> model) {
    if (budget != BudgetMode.OWL) {
      return c.withBudget(budget);
    }
    var sizes = new LinkedHashMap<String, Long>();
    for (var t : model) {
      if (LayerType.isCandidate(c.layerTypes(), t.name(), t.meta().shape())) {
        sizes.merge(LayerType.group(t.name()), (long) t.weights().length, Long::sum);
      }
    }
    var layers = List.copyOf(sizes.keySet());
    var ratios = new double[layers.size()];
    for (int l = 0; l < ratios.length; l++) {
      ratios[l] = 0.01 * (1 + (l * 7) % 3);
    }
    double lambda = Math.min(OwlBudgets.DEFAULT_LAMBDA, Math.min(c.sparsity(), 1 - c.sparsity()) / 2);
    return c.withOwlBudgets(new OwlBudgets.Outliers(layers, ratios,
        sizes.values().stream().mapToLong(Long::longValue).toArray()).layerBudgets(c.sparsity(), lambda));
  }

  static List<TensorInput> model(int n, int distinct, long seed, boolean withStats) {
    var rnd = new SplittableRandom(seed);
    int parts = Math.min(n, 7);
    var out = new ArrayList<TensorInput>();
    out.add(new TensorInput(new TensorMeta("embed_tokens.weight", new long[] {3, 2}), new float[6],
        withStats ? zeros(6) : null));
    for (int p = 0; p < parts; p++) {
      int size = (int) ((long) n * (p + 1) / parts - (long) n * p / parts);
      int rows = 1;
      for (int d = 1; (long) d * d <= size; d++) {
        if (size % d == 0) {
          rows = d;
        }
      }
      String name = "layers." + (p / 3) + ".mlp." + MLP[p % 3] + ".weight";
      var w = new float[size];
      for (int i = 0; i < size; i++) {
        w[i] = distinct > 0 ? (rnd.nextInt(distinct) - distinct / 2) * 0.25f : (float) rnd.nextGaussian();
      }
      WeightStatistics stats = null;
      if (withStats) {
        var fg = new double[size];
        var fd = new double[size];
        var gg = new double[size];
        var gd = new double[size];
        for (int i = 0; i < size; i++) {
          fg[i] = distinct > 0 ? rnd.nextInt(3) * 0.1 : rnd.nextDouble();
          fd[i] = distinct > 0 ? rnd.nextInt(3) * 0.1 : rnd.nextDouble();
          gg[i] = rnd.nextGaussian();
          gd[i] = rnd.nextGaussian();
        }
        stats = new WeightStatistics(fg, fd, gg, gd);
      }
      out.add(new TensorInput(new TensorMeta(name, new long[] {rows, size / rows}), w, stats));
      if (p % 3 == 0) {
        // non-candidates: a norm (1-D) and an attention matrix (not MLP)
        out.add(new TensorInput(new TensorMeta("layers." + (p / 3) + ".input_layernorm.weight", new long[] {4}),
            new float[] {1, 1, 1, 1}, withStats ? zeros(4) : null));
        out.add(new TensorInput(new TensorMeta("layers." + (p / 3) + ".self_attn.q_proj.weight", new long[] {2, 2}),
            new float[] {9, 9, 9, 9}, withStats ? zeros(4) : null));
      }
    }
    return out;
  }

  static WeightStatistics zeros(int n) {
    return new WeightStatistics(new double[n], new double[n], new double[n], new double[n]);
  }

  /** The expected masks by a full sort of (score, tensor order, flat index), per selection group. */
  static Map<String, byte[]> oracle(List<TensorInput> model, PlannerConfig c) {
    var scorer = new Scorer(c.scoring());
    var cands = model.stream()
        .filter(t -> LayerType.isCandidate(c.layerTypes(), t.name(), t.meta().shape())).toList();
    var scores = new ArrayList<double[]>();
    for (var t : cands) {
      scores.add(scorer.score(t));
    }
    var masks = new LinkedHashMap<String, byte[]>();
    for (var t : cands) {
      var m = new byte[t.weights().length];
      Arrays.fill(m, (byte) 1);
      masks.put(t.name(), m);
    }
    if (c.budget() == BudgetMode.ROWS) {
      // each row of each tensor alone: floor(s × size) per tensor, k / rows per row and one more in the first
      // k % rows rows; a full sort of the row by (score, index)
      for (int ti = 0; ti < cands.size(); ti++) {
        var shape = cands.get(ti).meta().shape();
        int cols = (int) shape[shape.length - 1];
        var sc = scores.get(ti);
        int rows = sc.length / cols;
        long k = Budgets.global(c.sparsity(), sc.length);
        var m = masks.get(cands.get(ti).name());
        for (int r = 0; r < rows; r++) {
          int prune = (int) (k / rows + (r < k % rows ? 1 : 0));
          var order = new ArrayList<Integer>();
          for (int j = 0; j < cols; j++) {
            order.add(j);
          }
          final int base = r * cols;
          order.sort((a, b) -> {
            int cmp = Double.compare(sc[base + a] + 0.0, sc[base + b] + 0.0);
            return cmp != 0 ? cmp : Integer.compare(a, b);
          });
          for (int i = 0; i < prune; i++) {
            m[base + order.get(i)] = 0;
          }
        }
      }
      return masks;
    }
    // groups in order of first appearance
    var groups = new LinkedHashMap<String, List<Integer>>();
    for (int i = 0; i < cands.size(); i++) {
      String g = c.budget() == BudgetMode.GLOBAL ? "global" : LayerType.group(cands.get(i).name());
      groups.computeIfAbsent(g, x -> new ArrayList<>()).add(i);
    }
    long[] sizes = groups.values().stream()
        .mapToLong(l -> l.stream().mapToLong(i -> cands.get(i).weights().length).sum()).toArray();
    long[] ks = switch (c.budget()) {
      case GLOBAL -> new long[] {Budgets.global(c.sparsity(), sizes[0])};
      case UNIFORM -> Budgets.uniform(c.sparsity(), sizes, c.rhoMin(), c.rhoMax());
      case OWL -> groups.keySet().stream().mapToLong(g -> c.layerBudgets().get(g)).toArray();
      case ROWS -> throw new AssertionError("planned above");
    };
    // Full sort of each group's scores gives the k-th score T; then, in the fixed order (tensor, flat index),
    // everything below T is pruned and the first (k − #below) equal to T.
    int gi = 0;
    for (var members : groups.values()) {
      long k = ks[gi++];
      if (k == 0) {
        continue;
      }
      int size = members.stream().mapToInt(i -> cands.get(i).weights().length).sum();
      var sorted = new double[size];
      int at = 0;
      for (int ti : members) {
        for (double v : scores.get(ti)) {
          sorted[at++] = v + 0.0; // −0.0 → +0.0: Arrays.sort orders −0 before +0, the planner does not
        }
      }
      Arrays.sort(sorted);
      double t = sorted[(int) k - 1];
      long below = Arrays.stream(sorted).filter(v -> v < t).count();
      long ties = k - below;
      for (int ti : members) {
        var sc = scores.get(ti);
        var m = masks.get(cands.get(ti).name());
        for (int j = 0; j < sc.length; j++) {
          if (sc[j] < t || (sc[j] == t && ties-- > 0)) {
            m[j] = 0;
          }
        }
      }
    }
    return masks;
  }

  static Map<String, byte[]> readMasks(Path p) throws IOException {
    var out = new LinkedHashMap<String, byte[]>();
    try (var f = SafetensorsFile.open(p)) {
      for (var t : f.tensors()) {
        assertEquals(DType.U8, t.dtype());
        out.put(t.name(), f.readRawBytes(t.name()));
      }
    }
    return out;
  }

  void checkPlan(List<TensorInput> model, PlannerConfig c, String label) throws IOException {
    var masksPath = dir.resolve("masks.safetensors");
    var statsPath = dir.resolve("stats.json");
    var r = new Planner(c).plan(new InMemoryTensorSource(model), masksPath, statsPath);
    var expected = oracle(model, c);
    var actual = readMasks(masksPath);
    assertEquals(expected.keySet(), actual.keySet(), label);
    long zeros = 0;
    for (var e : expected.entrySet()) {
      assertArrayEquals(e.getValue(), actual.get(e.getKey()), label + " " + e.getKey());
      for (byte b : e.getValue()) {
        zeros += b == 0 ? 1 : 0;
      }
    }
    assertEquals(zeros, r.pruned(), label);
    long sumK = c.budget() == BudgetMode.ROWS
        ? model.stream().filter(t -> LayerType.isCandidate(c.layerTypes(), t.name(), t.meta().shape()))
            .mapToLong(t -> Budgets.global(c.sparsity(), t.weights().length)).sum()
        : r.selections().stream().mapToLong(PlanResult.Selection::k).sum();
    assertEquals(sumK, r.pruned(), label);
    if (c.budget() == BudgetMode.ROWS) {
      assertTrue(r.selections().isEmpty(), label);
      assertEquals(1, r.passes(), label + ": one mask pass, no selection");
    }
    if (c.budget() == BudgetMode.GLOBAL) {
      assertEquals(Budgets.global(c.sparsity(), r.candidates()), r.pruned(), label);
    } else {
      // each layer's budget met exactly
      for (var s : r.selections()) {
        var layer = r.layers().stream().filter(l -> l.group().equals(s.group())).findFirst().orElseThrow();
        assertEquals(s.k(), layer.pruned(), label + " " + s.group());
      }
    }
    var json = JsonParser.parseString(Files.readString(statsPath)).getAsJsonObject();
    assertEquals(r.pruned(), json.get("k").getAsLong());
    assertEquals(c.sparsity(), json.get("requested_sparsity").getAsDouble());
    assertEquals((double) r.pruned() / r.candidates(), json.get("actual_sparsity").getAsDouble());
  }

  @Test
  void selectionEqualsAFullSort() throws IOException {
    int[] sizes = {1, 2, 10, 1000, 100_000};
    double[] sparsities = {0, 0.3, 0.5, 0.77, 1};
    long seed = 11;
    for (int n : sizes) {
      for (int distinct : new int[] {5, 0}) {
        var model = model(n, distinct, seed++, false);
        for (double s : sparsities) {
          for (var budget : BudgetMode.values()) {
            for (long memory : new long[] {8L << 20, 1024}) {
              var c = budgeted(PlannerConfig.of(s).withSelectionMemory(memory)
                  .withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE)), budget, model);
              checkPlan(model, c, "n=" + n + " distinct=" + distinct + " s=" + s + " " + budget + " mem=" + memory);
            }
          }
        }
      }
    }
  }

  @Test
  void selectionEqualsAFullSortWithStatisticsAndPostProcessing() throws IOException {
    var model = model(20_000, 4, 5, true);
    var configs = List.of(ScoringConfig.defaults(),
        ScoringConfig.defaults().withAlignment(Alignment.LOCAL, 3),
        ScoringConfig.defaults().withMethod(ScoringMethod.DAI_REFERENCE),
        ScoringConfig.defaults().withMethod(ScoringMethod.FISHER_DOMAIN),
        ScoringConfig.defaults().withMethod(ScoringMethod.RANDOM).withSeed(3),
        ScoringConfig.defaults().withPostProcess(PostProcess.RANK, 1),
        ScoringConfig.defaults().withMethod(ScoringMethod.FISHER_GENERAL).withPostProcess(PostProcess.ZSCORE_SIGMOID, 2),
        ScoringConfig.defaults().withPostProcess(PostProcess.MINMAX, 1).withFusion(1, 1));
    for (var sc : configs) {
      for (var budget : BudgetMode.values()) {
        var c = budgeted(PlannerConfig.of(0.5).withScoring(sc).withSelectionMemory(4096), budget, model);
        checkPlan(model, c, sc.method() + "/" + sc.postProcess() + "/" + budget);
      }
    }
  }

  @Test
  void tenMillionScoresEqualAFullSort() throws IOException {
    // 10^7 weights from 41 values (heavy ties); the oracle packs (|θ| float bits, position) into one long.
    int n = 10_000_000;
    var model = model(n, 41, 99, false);
    var cands = model.stream().filter(t -> LayerType.MLP.matches(t.name())).toList();
    for (var budget : BudgetMode.values()) {
      if (budget == BudgetMode.ROWS) {
        continue; // no selection to scale: each row is decided alone (the row oracle in checkPlan covers it)
      }
      var c = budgeted(PlannerConfig.of(0.37)
          .withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE)), budget, model);
      var masksPath = dir.resolve("big.safetensors");
      var r = new Planner(c).plan(new InMemoryTensorSource(model), masksPath, null);
      if (budget == BudgetMode.OWL) {
        assertEquals(List.copyOf(c.layerBudgets().values()),
            r.selections().stream().map(PlanResult.Selection::k).toList());
      }
      // group → its tensors
      var groups = new LinkedHashMap<String, List<Integer>>();
      for (int i = 0; i < cands.size(); i++) {
        groups.computeIfAbsent(budget == BudgetMode.GLOBAL ? "global" : LayerType.group(cands.get(i).name()),
            x -> new ArrayList<>()).add(i);
      }
      var offsets = new long[cands.size() + 1];
      for (int i = 0; i < cands.size(); i++) {
        offsets[i + 1] = offsets[i] + cands.get(i).weights().length;
      }
      var expectedPruned = new boolean[n];
      int gi = 0;
      for (var members : groups.values()) {
        long size = members.stream().mapToLong(i -> cands.get(i).weights().length).sum();
        var packed = new long[(int) size];
        int at = 0;
        for (int ti : members) {
          var w = cands.get(ti).weights();
          for (int j = 0; j < w.length; j++) {
            packed[at++] = ((long) Float.floatToIntBits(Math.abs(w[j])) << 32) | (offsets[ti] + j);
          }
        }
        Arrays.sort(packed);
        long k = r.selections().get(gi++).k();
        for (int q = 0; q < k; q++) {
          expectedPruned[(int) (packed[q] & 0xffffffffL)] = true;
        }
      }
      long mismatches = 0;
      try (var f = SafetensorsFile.open(masksPath)) {
        for (int i = 0; i < cands.size(); i++) {
          var m = f.readRawBytes(cands.get(i).name());
          for (int j = 0; j < m.length; j++) {
            if ((m[j] == 0) != expectedPruned[(int) (offsets[i] + j)]) {
              mismatches++;
            }
          }
        }
      }
      assertEquals(0, mismatches, budget.toString());
      assertEquals(Budgets.global(0.37, n), r.pruned(), budget.toString());
    }
  }

  @Test
  void statsJsonReportsCountsScoresAndQuantiles() throws IOException {
    var model = model(1000, 0, 21, true);
    var c = PlannerConfig.of(0.5).withLayerTypes(LayerType.parse("mlp"));
    var statsPath = dir.resolve("s.json");
    var r = new Planner(c).plan(new InMemoryTensorSource(model), null, statsPath);
    var json = JsonParser.parseString(Files.readString(statsPath)).getAsJsonObject();
    assertEquals("dai", json.getAsJsonObject("scoring").get("method").getAsString());
    assertEquals(1000, json.get("candidates").getAsLong());
    assertEquals(500, json.get("k").getAsLong());
    assertEquals(7, json.getAsJsonArray("tensors").size());
    assertEquals(3, json.getAsJsonArray("layers").size());
    // score statistics against the scores themselves
    var scorer = new Scorer(c.scoring());
    var all = model.stream().filter(t -> LayerType.MLP.matches(t.name())).flatMapToDouble(
        t -> Arrays.stream(scorer.score(t))).sorted().toArray();
    assertEquals(all[0], r.scores().min());
    assertEquals(all[all.length - 1], r.scores().max());
    assertEquals(Arrays.stream(all).sum() / all.length, r.scores().mean(), 1e-12);
    for (var q : r.scores().quantiles()) {
      double exact = all[(int) Math.max(0, Math.ceil(q.q() * all.length) - 1)];
      assertTrue(q.low() <= exact && exact <= q.high(), q + " vs " + exact);
    }
    // the threshold is the 500th score
    assertEquals(all[499], r.selections().get(0).threshold().score());
    var sel = json.getAsJsonArray("selections").get(0).getAsJsonObject();
    assertEquals(all[499], sel.get("threshold").getAsDouble());
  }

  @Test
  void localAlignmentPrunesConflictingWeightsFirst() throws IOException {
    // An 8×8 MLP tensor, all weights 1 and no Fisher difference, so DAI = 0.5·(1 + 0.2·s). The top four rows'
    // mean gradients agree (ḡ_gen = ḡ_dom = 1), the bottom four conflict (ḡ_gen = 1, ḡ_dom = −1). The paper's
    // per-tensor cosine is (32 − 32)/64 = 0: every score ties and the fixed order prunes rows 0–1, aligned
    // weights. The local cosine is 1 on rows 0–2, 1/3 on row 3, −1/3 on row 4, −1 on rows 5–7: 25% (16
    // weights) falls on rows 5 and 6, conflicting weights.
    int n = 64;
    var w = new float[n];
    Arrays.fill(w, 1f);
    var gGen = new double[n];
    var gDom = new double[n];
    for (int i = 0; i < n; i++) {
      gGen[i] = 1;
      gDom[i] = i < 32 ? 1 : -1;
    }
    var stats = new WeightStatistics(new double[n], new double[n], gGen, gDom);
    var model = List.of(new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight", new long[] {8, 8}), w, stats));
    for (var alignment : Alignment.values()) {
      var c = PlannerConfig.of(0.25).withScoring(ScoringConfig.defaults().withAlignment(alignment, 3));
      var path = dir.resolve(alignment + ".safetensors");
      new Planner(c).plan(new InMemoryTensorSource(model), path, null);
      var mask = readMasks(path).get("layers.0.mlp.up_proj.weight");
      for (int i = 0; i < n; i++) {
        int row = i / 8;
        boolean expectPruned = alignment == Alignment.TENSOR ? row < 2 : row == 5 || row == 6;
        assertEquals(expectPruned ? 0 : 1, mask[i], alignment + " element " + i);
      }
    }
  }

  @Test
  void entirelyPrunedTensorsAreFlagged() throws IOException {
    // layer 0's up_proj is all tiny: a global 40% budget takes all of it though nothing forces that
    var model = new ArrayList<TensorInput>();
    model.add(new TensorInput(new TensorMeta("layers.0.mlp.up_proj.weight", new long[] {2, 2}),
        new float[] {1e-6f, 2e-6f, 3e-6f, 4e-6f}, null));
    model.add(new TensorInput(new TensorMeta("layers.0.mlp.down_proj.weight", new long[] {2, 3}),
        new float[] {1, 2, 3, 4, 5, 6}, null));
    var c = PlannerConfig.of(0.4).withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE));
    var r = Planner.plan(c, model);
    assertEquals(4, r.pruned());
    var up = r.tensors().get(0);
    assertTrue(up.entirelyPruned() && !up.forced());
    assertTrue(r.warnings().stream().anyMatch(w -> w.contains("layers.0.mlp.up_proj.weight")), r.warnings().toString());
    // at sparsity 1 every tensor is entirely pruned, forced: no warning
    var all = Planner.plan(PlannerConfig.of(1).withScoring(c.scoring()), model);
    assertTrue(all.tensors().stream().allMatch(t -> t.entirelyPruned() && t.forced()));
    assertTrue(all.warnings().isEmpty(), all.warnings().toString());
    // rank post-processing spreads the budget over both tensors instead
    var ranked = Planner.plan(c.withScoring(c.scoring().withPostProcess(PostProcess.RANK, 1)), model);
    assertFalse(ranked.tensors().get(0).entirelyPruned());
  }

  @Test
  void badInputIsRejectedNamingTheProblem() {
    var model = model(100, 0, 3, true);
    var bad = new ArrayList<>(model);
    // statistics of the wrong shape for a candidate
    int i = 1;
    var t = bad.get(i);
    bad.set(i, new TensorInput(t.meta(), t.weights(), zeros(t.weights().length + 1)));
    var e = assertThrows(IllegalArgumentException.class, () -> Planner.plan(PlannerConfig.of(0.5), bad));
    assertTrue(e.getMessage().contains(t.name()) && e.getMessage().contains("do not match"), e.getMessage());
    // a NaN and an infinite statistic
    var nanStats = zeros(t.weights().length);
    nanStats.fisherGeneral()[3] = Double.NaN;
    bad.set(i, new TensorInput(t.meta(), t.weights(), nanStats));
    e = assertThrows(IllegalArgumentException.class, () -> Planner.plan(PlannerConfig.of(0.5), bad));
    assertTrue(e.getMessage().contains(t.name()) && e.getMessage().contains("NaN"), e.getMessage());
    var infStats = zeros(t.weights().length);
    infStats.meanGradDomain()[0] = Double.NEGATIVE_INFINITY;
    bad.set(i, new TensorInput(t.meta(), t.weights(), infStats));
    e = assertThrows(IllegalArgumentException.class, () -> Planner.plan(PlannerConfig.of(0.5), bad));
    assertTrue(e.getMessage().contains(t.name()) && e.getMessage().contains("Infinity"), e.getMessage());
    // sparsity outside [0, 1], unknown layer type, unknown method
    e = assertThrows(IllegalArgumentException.class, () -> PlannerConfig.of(1.5));
    assertTrue(e.getMessage().contains("sparsity must be in [0, 1], got 1.5"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> PlannerConfig.of(-0.01));
    assertTrue(e.getMessage().contains("got -0.01"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> LayerType.parse("ffn"));
    assertTrue(e.getMessage().contains("valid: mlp, attention"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ScoringMethod.parse("taylor"));
    assertTrue(e.getMessage().contains("unknown scoring method \"taylor\""), e.getMessage());
    // layer types selecting nothing
    e = assertThrows(IllegalArgumentException.class,
        () -> Planner.plan(PlannerConfig.of(0.5).withLayerTypes(EnumSet.of(LayerType.FINAL_NORM)), model));
    assertTrue(e.getMessage().contains("no candidate tensors") && e.getMessage().contains("final_norm"),
        e.getMessage());
  }

  @Test
  void aSourceThatChangesBetweenPassesIsCaught() {
    var model = model(1000, 0, 8, false);
    var c = PlannerConfig.of(0.5).withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE))
        .withSelectionMemory(1024);
    var base = new InMemoryTensorSource(model);
    var drifting = new TensorSource() {
      int loads;

      @Override
      public List<TensorMeta> tensors() {
        return base.tensors();
      }

      @Override
      public TensorInput load(TensorMeta t) {
        var in = base.load(t);
        var w = in.weights().clone();
        loads++;
        for (int j = 0; j < w.length; j++) {
          w[j] += loads; // different values on every load
        }
        return new TensorInput(in.meta(), w, null);
      }
    };
    var e = assertThrows(IllegalStateException.class, () -> new Planner(c).plan(drifting));
    assertTrue(e.getMessage().contains("changed between passes"), e.getMessage());
  }

  @Test
  void smallModelsNeedTwoPassesAndTinyMemoryStillWorks() throws IOException {
    var model = model(100_000, 0, 1, false);
    var c = PlannerConfig.of(0.5).withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE));
    var r = new Planner(c).plan(new InMemoryTensorSource(model));
    assertEquals(2, r.passes()); // collect + masks
    var tiny = new Planner(c.withSelectionMemory(1024)).plan(new InMemoryTensorSource(model));
    assertEquals(r.selections().get(0).threshold(), tiny.selections().get(0).threshold());
    assertTrue(tiny.passes() > 2);
  }
}
