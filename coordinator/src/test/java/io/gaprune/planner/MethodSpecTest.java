package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MethodSpecTest {

  @Test
  void parsesMethodsWithTheirOwnHyperparameters() {
    var spec = MethodSpec.parse(" dai-calibrated:q=0.25:lambda=-0.5:a=1:window=5:rank1=1:floor=0.1 ");
    assertEquals("dai-calibrated:q=0.25:lambda=-0.5:a=1:window=5:rank1=1:floor=0.1", spec.label());
    var c = spec.apply(ScoringConfig.defaults());
    assertEquals(ScoringMethod.DAI_CALIBRATED, c.method());
    assertEquals(new ScoringConfig.Calibrated(0.25, -0.5, 1, 5, true, 0.1), c.calibrated());
    var dai = MethodSpec.parse("dai:gamma=0.01").apply(ScoringConfig.defaults());
    assertEquals(ScoringMethod.DAI, dai.method());
    assertEquals(0.01, dai.gamma());
    assertEquals(1.0, dai.beta());
    // Unset keys keep the run's values.
    var base = ScoringConfig.defaults().withCalibrated(new ScoringConfig.Calibrated(0.7, 2, 0, 3, false));
    assertEquals(new ScoringConfig.Calibrated(0.1, 2, 0, 3, false),
        MethodSpec.parse("dai-calibrated:q=0.1").apply(base).calibrated());
    assertEquals(ScoringMethod.MAGNITUDE, MethodSpec.of(ScoringMethod.MAGNITUDE).apply(base).method());
  }

  @Test
  void layerwiseMethodsReadTheirStructureAndTheInputStatisticsTheyNeed() {
    var nm = MethodSpec.parse("sparsegpt:n=2:m=4");
    assertEquals(new Structure(2, 4), nm.structure());
    assertEquals(io.gaprune.protocol.InputStatistics.INPUT_GRAMS, nm.inputStatistics());
    assertEquals(Structure.UNSTRUCTURED, MethodSpec.parse("wanda").structure());
    assertEquals(io.gaprune.protocol.InputStatistics.INPUT_NORMS, MethodSpec.parse("wanda").inputStatistics());
    var reconstructing = MethodSpec.parse("dai-calibrated:reconstruct=1");
    assertTrue(reconstructing.reconstruct());
    assertEquals(io.gaprune.protocol.InputStatistics.INPUT_GRAMS, reconstructing.inputStatistics());
    assertEquals(io.gaprune.protocol.InputStatistics.INPUT_STATISTICS_NONE,
        MethodSpec.parse("dai-calibrated").inputStatistics());
    var inputTerm = MethodSpec.parse("dai-calibrated:input=0.5");
    assertEquals(io.gaprune.protocol.InputStatistics.INPUT_NORMS, inputTerm.inputStatistics());
    assertEquals(0.5, inputTerm.apply(ScoringConfig.defaults()).calibrated().inputExponent());
    assertEquals(io.gaprune.protocol.InputStatistics.INPUT_GRAMS,
        MethodSpec.parse("dai-calibrated:input=1:reconstruct=1").inputStatistics());
    assertTrue(error("dai:input=1").contains("dai has no parameter \"input\""));
    // the adaptive reconstruction reconstructs, so it reads the Gram matrices; p is the prior's power
    var adaptive = MethodSpec.parse("dai-calibrated:adaptive=0.5");
    assertTrue(adaptive.adaptive() && adaptive.reconstruct());
    assertEquals(0.5, adaptive.priorExponent());
    assertEquals(io.gaprune.protocol.InputStatistics.INPUT_GRAMS, adaptive.inputStatistics());
    assertTrue(!MethodSpec.parse("dai-calibrated:reconstruct=1").adaptive());
    assertTrue(error("magnitude:adaptive=1").contains("magnitude has no parameter \"adaptive\""));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> MethodSpec.parse("dai-calibrated:adaptive=-1").priorExponent()).getMessage().contains("≥ 0"));
    assertTrue(error("sparsegpt:reconstruct=1").contains("sparsegpt has no parameter \"reconstruct\""));
    assertTrue(error("magnitude:n=2").contains("no parameter \"n\""));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> MethodSpec.parse("wanda:n=4:m=4").structure())
        .getMessage().contains("0 < n < m"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> MethodSpec.parse("magnitude:reconstruct=2").reconstruct()).getMessage().contains("0 or 1"));
    var e = assertThrows(IllegalArgumentException.class, () -> new Scorer(MethodSpec.parse("sparsegpt")
        .apply(ScoringConfig.defaults())).score(new TensorInput(new TensorMeta("t", new long[] {1, 2}),
        new float[] {1, 2}, null)));
    assertTrue(e.getMessage().contains("layer by layer"), e.getMessage());
    // Wanda scores as a session plans it: |W|·sqrt(Σx² of the domain half), Wanda.scores itself
    var wanda = new Scorer(MethodSpec.parse("wanda").apply(ScoringConfig.defaults()));
    e = assertThrows(IllegalArgumentException.class, () -> wanda.score(new TensorInput(
        new TensorMeta("t", new long[] {1, 2}), new float[] {1, 2}, null)));
    assertTrue(e.getMessage().contains("Σx²"), e.getMessage());
    // norms sqrt([4, 9]) = [2, 3] (the general half's 100s are not read)
    assertArrayEquals(new double[] {4, 6, 1, 0.75}, wanda.score(new TensorInput(
        new TensorMeta("t", new long[] {2, 2}), new float[] {-2, 2, 0.5f, -0.25f},
        new WeightStatistics(new double[4], new double[4], new double[0], new double[0], new double[] {100, 100},
            new double[] {4, 9}))), 0);
  }

  /** An entry's own budget, for a method under two budgets in one compare; the run's when it names none. */
  @Test
  void aScoredEntryMayNameItsOwnBudget() {
    var rows = MethodSpec.parse("dai-calibrated:budget=Rows:q=0.5");
    assertEquals("dai-calibrated:budget=Rows:q=0.5", rows.label());
    assertEquals(BudgetMode.ROWS, rows.budgetOr(BudgetMode.GLOBAL));
    assertEquals(0.5, rows.apply(ScoringConfig.defaults()).calibrated().fisherExponent());
    assertEquals(BudgetMode.UNIFORM, MethodSpec.parse("magnitude:budget=uniform").budgetOr(BudgetMode.ROWS));
    assertEquals(BudgetMode.OWL, MethodSpec.parse("dai-calibrated").budgetOr(BudgetMode.OWL));
    assertEquals(BudgetMode.GLOBAL, MethodSpec.parse("dai-calibrated:adaptive=1:budget=global")
        .budgetOr(BudgetMode.ROWS));
    assertEquals("method \"wanda:budget=rows\": wanda has no parameter \"budget\" (it prunes each layer or row at the "
        + "sparsity by its own rule)", error("wanda:budget=rows"));
    assertTrue(error("sparsegpt:budget=global").contains("sparsegpt has no parameter \"budget\""));
    assertTrue(error("dai-calibrated:budget=owl").contains("budget owl measures the layers' outliers once per run: "
        + "give it as the run's --budget owl"));
    assertTrue(error("dai-calibrated:budget=rows:budget=global").contains("budget is set twice"));
    var unknown = error("dai-calibrated:budget=layer");
    assertTrue(unknown.startsWith("method \"dai-calibrated:budget=layer\": unknown budget \"layer\""), unknown);
  }

  @Test
  void badEntriesNameTheProblem() {
    assertTrue(error("magnitude:q=1").contains("magnitude has no parameter \"q\""));
    assertTrue(error("dai-calibrated:q").contains("not KEY=VALUE"));
    assertTrue(error("dai-calibrated:q=abc").contains("not a number"));
    assertTrue(error("dai-calibrated:q=1:q=2").contains("set twice"));
    assertTrue(error("dia").contains("unknown scoring method"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> MethodSpec.parse("dai-calibrated:rank1=2").apply(ScoringConfig.defaults())).getMessage()
        .contains("rank1 must be 0 or 1"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> MethodSpec.parse("dai-calibrated:q=-1").apply(ScoringConfig.defaults())).getMessage()
        .contains("Fisher exponent"));
  }

  static String error(String text) {
    return assertThrows(IllegalArgumentException.class, () -> MethodSpec.parse(text)).getMessage();
  }
}
