package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.InputStatistics;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.Statistic;
import io.gaprune.worker.ShardCodec;
import org.junit.jupiter.api.Test;

/**
 * A session's input statistics follow its scoring; a session that plans takes Wanda (row budget or N:M), and
 * SparseGPT and the reconstructions with the Gram matrices their layer-wise step reads, refusing what it cannot
 * honour.
 */
class LayerwiseSessionConfigTest {

  @Test
  void theScoringChoosesTheInputStatistics() {
    var statisticsOnly = SessionConfig.newBuilder().setSessionId("s").setStatisticsOnly(true);
    var wanda = Partitioner.resolve(statisticsOnly.clone().setScoring("wanda").build(), 1 << 20);
    assertEquals(InputStatistics.INPUT_NORMS, wanda.getInputStatistics());
    assertTrue(ShardCodec.statistics(wanda).contains(Statistic.INPUT_SQ_DOMAIN));
    assertTrue(!ShardCodec.statistics(wanda).contains(Statistic.INPUT_GRAM_DOMAIN));
    var reconstruct = Partitioner.resolve(statisticsOnly.clone().setScoring("dai-calibrated:reconstruct=1").build(),
        1 << 20);
    assertEquals(InputStatistics.INPUT_GRAMS, reconstruct.getInputStatistics());
    assertTrue(ShardCodec.statistics(reconstruct).contains(Statistic.INPUT_GRAM_GENERAL));
    // asking for more than the scoring reads is kept (the pipeline asks for every compared method's)
    var more = Partitioner.resolve(statisticsOnly.clone().setScoring("wanda")
        .setInputStatistics(InputStatistics.INPUT_GRAMS).build(), 1 << 20);
    assertEquals(InputStatistics.INPUT_GRAMS, more.getInputStatistics());
    assertEquals(InputStatistics.INPUT_STATISTICS_NONE,
        Partitioner.resolve(statisticsOnly.clone().setScoring("magnitude").build(), 1 << 20).getInputStatistics());
    // a session that plans collects the Gram matrices for its layer-wise step
    var planning = SessionConfig.newBuilder().setSessionId("s");
    for (var scoring : new String[] {"sparsegpt", "magnitude:reconstruct=1", "dai-calibrated:adaptive=1"}) {
      assertEquals(InputStatistics.INPUT_GRAMS, Partitioner.resolve(planning.clone().setScoring(scoring).build(),
          1 << 20).getInputStatistics(), scoring);
    }
    assertEquals(InputStatistics.INPUT_GRAMS, Partitioner.resolve(statisticsOnly.clone()
        .setScoring("dai-calibrated:adaptive=1").build(), 1 << 20).getInputStatistics());
  }

  @Test
  void aPlanningSessionRefusesLayerwiseSettingsItCannotHonour() {
    var planning = SessionConfig.newBuilder().setSessionId("s");
    var e = assertThrows(IllegalArgumentException.class, () -> Partitioner.resolve(planning.clone()
        .setScoring("sparsegpt:n=2:m=4").build(), 1 << 20));
    assertTrue(e.getMessage().contains("session's \"structure\""), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Partitioner.resolve(planning.clone()
        .setScoring("sparsegpt").setBudget("rows").build(), 1 << 20));
    assertTrue(e.getMessage().contains("budget must be \"global\" or \"uniform\""), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Partitioner.resolve(planning.clone()
        .setScoring("dai-calibrated:adaptive=-1").build(), 1 << 20));
    assertTrue(e.getMessage().contains("adaptive must be a number ≥ 0"), e.getMessage());
    assertEquals("2:4", Partitioner.resolve(planning.clone().setScoring("sparsegpt").setStructure("2:4").build(),
        1 << 20).getStructure());
  }

  @Test
  void aPlanningSessionTakesWandaUnderTheRowBudgetOrNm() {
    var planning = SessionConfig.newBuilder().setSessionId("s").setScoring("wanda");
    var rows = Partitioner.resolve(planning.clone().build(), 1 << 20);
    assertEquals("rows", rows.getBudget());
    assertEquals(InputStatistics.INPUT_NORMS, rows.getInputStatistics());
    assertEquals("rows", Partitioner.resolve(planning.clone().setBudget("rows").build(), 1 << 20).getBudget());
    // N:M decides per group: the budget is not touched
    assertEquals("", Partitioner.resolve(planning.clone().setStructure("2:4").build(), 1 << 20).getBudget());
    // the coordinator's default budget is global: taken as rows
    assertEquals("rows", Partitioner.resolve(planning.clone().setBudget("global").build(), 1 << 20).getBudget());
    var e = assertThrows(IllegalArgumentException.class,
        () -> Partitioner.resolve(planning.clone().setBudget("uniform").build(), 1 << 20));
    assertTrue(e.getMessage().contains("budget must be \"rows\"") && e.getMessage().contains("uniform"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Partitioner.resolve(planning.clone().setScoring("wanda:n=2:m=4").build(), 1 << 20));
    assertTrue(e.getMessage().contains("session's \"structure\""), e.getMessage());
  }

  @Test
  void theOwlBudgetCollectsInputNormsAndPlanningSessionsRefuseIt() {
    var statisticsOnly = SessionConfig.newBuilder().setSessionId("s").setStatisticsOnly(true).setBudget("owl");
    // whatever the scoring, OWL's outlier ratios read Σx²
    var magnitude = Partitioner.resolve(statisticsOnly.clone().setScoring("magnitude").build(), 1 << 20);
    assertEquals(InputStatistics.INPUT_NORMS, magnitude.getInputStatistics());
    assertTrue(ShardCodec.statistics(magnitude).contains(Statistic.INPUT_SQ_DOMAIN));
    var sparseGpt = Partitioner.resolve(statisticsOnly.clone().setScoring("sparsegpt").build(), 1 << 20);
    assertEquals(InputStatistics.INPUT_GRAMS, sparseGpt.getInputStatistics());
    var e = assertThrows(IllegalArgumentException.class, () -> Partitioner.resolve(SessionConfig.newBuilder()
        .setSessionId("s").setScoring("magnitude").setBudget("owl").build(), 1 << 20));
    assertTrue(e.getMessage().contains("owl") && e.getMessage().contains("statistics-only"), e.getMessage());
  }

  @Test
  void aSessionsCalibrationIsReadByWandaAndSparseGptAndRefusedElsewhere() {
    var planning = SessionConfig.newBuilder().setSessionId("s");
    assertEquals("general", Partitioner.resolve(planning.clone().setScoring("wanda").setCalibration(" General ")
        .build(), 1 << 20).getCalibration());
    assertEquals("both", Partitioner.resolve(planning.clone().setScoring("sparsegpt").setCalibration("both")
        .build(), 1 << 20).getCalibration());
    // the default, named or not, is accepted with any scoring
    assertEquals("domain", Partitioner.resolve(planning.clone().setCalibration("domain").build(), 1 << 20)
        .getCalibration());
    assertEquals("", Partitioner.resolve(planning.clone().build(), 1 << 20).getCalibration());
    var e = assertThrows(IllegalArgumentException.class, () -> Partitioner.resolve(planning.clone()
        .setScoring("dai-calibrated:adaptive=1").setCalibration("general").build(), 1 << 20));
    assertTrue(e.getMessage().contains("calibration \"general\" chooses the half whose input statistics wanda and "
        + "sparsegpt read; scoring \"dai-calibrated:adaptive=1\" reads both halves"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Partitioner.resolve(planning.clone()
        .setCalibration("both").build(), 1 << 20));
    assertTrue(e.getMessage().contains("scoring \"dai-calibrated\" reads both halves"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Partitioner.resolve(planning.clone().setScoring("wanda")
        .setStatisticsOnly(true).setCalibration("general").build(), 1 << 20));
    assertTrue(e.getMessage().contains("a statistics-only session does not plan"), e.getMessage());
    // a value that is none of the three is named with the field, as the API and `session start` write it
    // a session's budget is its "budget" field, not a scoring entry's budget=
    e = assertThrows(IllegalArgumentException.class, () -> Partitioner.resolve(planning.clone()
        .setScoring("dai-calibrated:budget=rows").build(), 1 << 20));
    assertTrue(e.getMessage().contains("give the budget as the session's \"budget\""), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> SessionRules.check("calibration", "chem", SessionRules.API));
    assertEquals("calibration: \"chem\" is not one of domain, general, both", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> SessionRules.check("calibration", "chem", SessionRules.SESSION_START));
    assertEquals("--calibration: \"chem\" is not one of domain, general, both", e.getMessage());
  }
}
