package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.model.LayerType;
import io.gaprune.stats.InputSums;
import java.io.IOException;
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
 * The OWL budget end to end on a small synthetic encoder whose layers carry more outliers of {@code |W|·‖X‖} the
 * deeper they are: measured ratios, per-layer budgets, and the masks of a scored plan and of Wanda.
 */
class OwlPlanTest {

  private static final EnumSet<LayerType> MLP = EnumSet.of(LayerType.MLP);

  @TempDir
  Path dir;

  /** Four BERT layers of two MLP tensors; layer l has 2 + 3l weights of 20 per tensor among weights below 1. */
  static final class Fixture implements LayerwisePruner.Model {
    final List<TensorMeta> metas = new ArrayList<>();
    final Map<String, float[]> weights = new LinkedHashMap<>();
    final Map<String, InputSums> inputs = new LinkedHashMap<>();

    Fixture(boolean ties, long seed) {
      var rnd = new SplittableRandom(seed);
      for (int l = 0; l < 4; l++) {
        for (var shape : List.of(new long[] {24, 8}, new long[] {8, 24})) {
          var name = "encoder.layer." + l + (shape[0] == 24 ? ".intermediate.dense.weight" : ".output.dense.weight");
          var w = new float[(int) (shape[0] * shape[1])];
          for (int i = 0; i < w.length; i++) {
            // quantised to eighths: many exact ties of |W|, and of the scores built from it
            w[i] = ties ? (rnd.nextInt(15) - 7) / 8f : (float) (rnd.nextDouble() * 2 - 1);
          }
          for (int o = 0; o < 2 + 3 * l; o++) {
            w[(o * 37) % w.length] = o % 2 == 0 ? 20f : -20f;
          }
          var squares = new double[(int) shape[1]];
          for (int j = 0; j < squares.length; j++) {
            squares[j] = 0.5 + rnd.nextDouble();
          }
          metas.add(new TensorMeta(name, shape));
          weights.put(name, w);
          // the general half differs, so a wrong half would show in the ratios
          inputs.put(name, new InputSums(new double[squares.length], squares, new double[0], new double[0], 0, 100));
        }
      }
    }

    @Override
    public List<TensorMeta> tensors() {
      return metas;
    }

    @Override
    public float[] weights(TensorMeta tensor) {
      return weights.get(tensor.name());
    }

    @Override
    public InputSums inputs(TensorMeta tensor) {
      return inputs.get(tensor.name());
    }

    @Override
    public void update(TensorMeta tensor, double[] w) {
      throw new UnsupportedOperationException("Wanda and the planner leave the weights alone");
    }

    TensorSource source() {
      return new InMemoryTensorSource(metas.stream().map(t -> new TensorInput(t, weights.get(t.name()), null))
          .toList());
    }
  }

  @Test
  void measuredRatiosAreOwlsOverEachLayersScoresAndDeeperLayersArePrunedLess() throws IOException {
    var model = new Fixture(true, 1);
    var outliers = OwlBudgets.measure(model, MLP, Calibration.DOMAIN, OwlBudgets.DEFAULT_OUTLIER_MULTIPLE);
    assertEquals(List.of("layer.0", "layer.1", "layer.2", "layer.3"), outliers.layers());
    assertArrayEquals(new long[] {384, 384, 384, 384}, outliers.sizes());
    for (int l = 0; l < 4; l++) {
      var scores = new ArrayList<double[]>();
      for (var t : model.metas.subList(2 * l, 2 * l + 2)) {
        scores.add(Wanda.scores(t.name(), model.weights(t), (int) t.shape()[0], (int) t.shape()[1],
            model.inputs(t).squaresDomain()));
      }
      assertEquals(OwlBudgets.outlierRatio(scores, 5), outliers.ratios()[l], 0.0, "layer " + l);
      // the 20s are the outliers, and only they: 2·(2 + 3l) of 384
      assertEquals(2.0 * (2 + 3 * l) / 384, outliers.ratios()[l], 0.0, "layer " + l);
      // what the report's "outlier_ratios" and the progress note print: the same values by name, in layer order
      assertEquals(outliers.ratios()[l], outliers.ratiosByLayer().get("layer." + l), 0.0);
    }
    assertEquals(outliers.layers(), List.copyOf(outliers.ratiosByLayer().keySet()));
    var budgets = outliers.layerBudgets(0.7, OwlBudgets.DEFAULT_LAMBDA);
    assertEquals(Budgets.global(0.7, 4 * 384), budgets.values().stream().mapToLong(Long::longValue).sum());
    assertArrayEquals(OwlBudgets.budgets(0.7, outliers.layers(), outliers.ratios(), outliers.sizes(), 0.08),
        budgets.values().stream().mapToLong(Long::longValue).toArray());
    var k = budgets.values().stream().mapToLong(Long::longValue).toArray();
    for (int l = 1; l < 4; l++) {
      assertTrue(k[l] < k[l - 1], "more outliers, fewer pruned: " + Arrays.toString(k));
    }
    // OWL's spread: 2λ between the layers with the fewest and the most outliers
    assertEquals(0.16 * 384, k[0] - k[3], 1.0);

    // a half without statistics is named, as is a source without any
    var none = new Fixture(true, 1);
    none.inputs.replaceAll((n, s) -> InputSums.NONE);
    var e = assertThrows(IllegalArgumentException.class,
        () -> OwlBudgets.measure(none, MLP, Calibration.DOMAIN, OwlBudgets.DEFAULT_OUTLIER_MULTIPLE));
    assertTrue(e.getMessage().contains("encoder.layer.0.intermediate.dense.weight")
        && e.getMessage().contains("owl"), e.getMessage());
  }

  /** Per layer, the k lowest magnitudes by (score, tensor order, flat index): the planner's full-sort oracle. */
  private static Map<String, byte[]> oracle(Fixture model, Map<String, Long> budgets) {
    var masks = new LinkedHashMap<String, byte[]>();
    model.metas.forEach(t -> {
      var m = new byte[(int) t.size()];
      Arrays.fill(m, (byte) 1);
      masks.put(t.name(), m);
    });
    for (var layer : budgets.entrySet()) {
      var entries = new ArrayList<double[]>(); // {score, tensor, index}
      for (int ti = 0; ti < model.metas.size(); ti++) {
        var t = model.metas.get(ti);
        if (LayerType.group(t.name()).equals(layer.getKey())) {
          var w = model.weights(t);
          for (int i = 0; i < w.length; i++) {
            entries.add(new double[] {Math.abs((double) w[i]), ti, i});
          }
        }
      }
      entries.sort((a, b) -> a[0] != b[0] ? Double.compare(a[0], b[0])
          : a[1] != b[1] ? Double.compare(a[1], b[1]) : Double.compare(a[2], b[2]));
      for (int j = 0; j < layer.getValue(); j++) {
        masks.get(model.metas.get((int) entries.get(j)[1]).name())[(int) entries.get(j)[2]] = 0;
      }
    }
    return masks;
  }

  @Test
  void aScoredPlanPrunesEachLayersBudgetAtItsLowestScores() throws IOException {
    for (boolean ties : new boolean[] {true, false}) {
      for (double sparsity : new double[] {0.3, 0.5, 0.7}) {
        var model = new Fixture(ties, 7);
        var budgets = OwlBudgets.measure(model, MLP, Calibration.DOMAIN, OwlBudgets.DEFAULT_OUTLIER_MULTIPLE)
            .layerBudgets(sparsity, OwlBudgets.DEFAULT_LAMBDA);
        for (long memory : new long[] {8L << 20, 1024}) { // one collection, and many histogram passes
          var config = PlannerConfig.of(sparsity)
              .withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE))
              .withSelectionMemory(memory)
              .withOwlBudgets(budgets);
          var masks = dir.resolve("owl.safetensors");
          var result = new Planner(config).plan(model.source(), masks, dir.resolve("owl.json"));
          String label = "ties " + ties + ", sparsity " + sparsity + ", memory " + memory;
          assertEquals(Budgets.global(sparsity, 4 * 384), result.pruned(), label);
          for (var g : result.layers()) {
            assertEquals(budgets.get(g.group()), g.pruned(), label + ", " + g.group());
          }
          var expected = oracle(model, budgets);
          var actual = PlannerTest.readMasks(masks);
          for (var t : model.metas) {
            assertArrayEquals(expected.get(t.name()), actual.get(t.name()), label + ", " + t.name());
          }
        }
      }
    }
  }

  @Test
  void wandaPrunesEachLayersBudgetSplitOverItsTensorsBySize() throws IOException {
    var model = new Fixture(false, 3);
    var budgets = OwlBudgets.measure(model, MLP, Calibration.DOMAIN, OwlBudgets.DEFAULT_OUTLIER_MULTIPLE)
        .layerBudgets(0.7, OwlBudgets.DEFAULT_LAMBDA);
    var settings = LayerwisePruner.Settings.of(MLP, 0.7).withLayerBudgets(budgets);
    var result = LayerwisePruner.wanda(model, settings, dir.resolve("wanda.safetensors"), null);
    assertEquals(Budgets.global(0.7, 4 * 384), result.pruned());
    for (var g : result.layers()) {
      assertEquals(budgets.get(g.group()), g.pruned(), g.group());
    }
    var masks = PlannerTest.readMasks(dir.resolve("wanda.safetensors"));
    for (int l = 0; l < 4; l++) {
      var parts = Budgets.apportion(budgets.get("layer." + l), new long[] {192, 192});
      for (int i = 0; i < 2; i++) {
        var t = model.metas.get(2 * l + i);
        var count = result.tensors().stream().filter(c -> c.name().equals(t.name())).findFirst().orElseThrow();
        assertEquals(parts[i], count.pruned(), t.name());
        // within the tensor Wanda's own rows decide, at the tensor's count
        var scores = Wanda.scores(t.name(), model.weights(t), (int) t.shape()[0], (int) t.shape()[1],
            model.inputs(t).squaresDomain());
        assertArrayEquals(Wanda.mask(scores, (int) t.shape()[0], (int) t.shape()[1], parts[i],
            Structure.UNSTRUCTURED), masks.get(t.name()), t.name());
      }
    }
  }

  @Test
  void refusalsAreNamed() {
    var nm = Structure.parse("2:4");
    var e = assertThrows(IllegalArgumentException.class,
        () -> PlannerConfig.of(0.5).withOwlBudgets(Map.of()).withStructure(nm));
    assertTrue(e.getMessage().contains("owl") && e.getMessage().contains("2:4"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> LayerwisePruner.Settings.of(MLP, 0.5).withLayerBudgets(Map.of("layer.0", 1L)).withStructure(nm));
    assertTrue(e.getMessage().contains("owl") && e.getMessage().contains("2:4"), e.getMessage());
    assertEquals(BudgetMode.OWL, BudgetMode.parse("OWL"));
    e = assertThrows(IllegalArgumentException.class, () -> BudgetMode.parse("owls"));
    assertTrue(e.getMessage().contains("global, uniform, owl, rows"), e.getMessage());
    // a sparsity outside [0, 1]
    var outliers = new OwlBudgets.Outliers(List.of("layer.0", "layer.1"), new double[] {0.01, 0.02},
        new long[] {10, 10});
    e = assertThrows(IllegalArgumentException.class, () -> outliers.layerBudgets(1.2, 0.08));
    assertTrue(e.getMessage().contains("sparsity must be in [0, 1]"), e.getMessage());
    // budgets that were not measured for this model, or do not add up, are refused by the plan
    var model = new Fixture(true, 1);
    var none = PlannerConfig.of(0.5).withBudget(BudgetMode.OWL);
    e = assertThrows(IllegalArgumentException.class,
        () -> new Planner(none).plan(model.source(), dir.resolve("m.safetensors"), null));
    assertTrue(e.getMessage().contains("one budget per layer"), e.getMessage());
    var wrong = new LinkedHashMap<String, Long>();
    for (int l = 0; l < 4; l++) {
      wrong.put("layer." + l, 100L);
    }
    var off = PlannerConfig.of(0.5).withOwlBudgets(wrong);
    e = assertThrows(IllegalArgumentException.class,
        () -> new Planner(off).plan(model.source(), dir.resolve("m.safetensors"), null));
    assertTrue(e.getMessage().contains("sum to 400") && e.getMessage().contains("768"), e.getMessage());
    // another budget drops the measured ones
    assertTrue(PlannerConfig.of(0.5).withOwlBudgets(wrong).withBudget(BudgetMode.GLOBAL).layerBudgets().isEmpty());
  }
}
