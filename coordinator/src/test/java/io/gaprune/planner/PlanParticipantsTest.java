package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A plan split over participants, each scoring a contiguous run of the candidates (as merger entities owning
 * tensor groups do), gives the masks and counts of one planner that holds every tensor: for global and uniform
 * budgets, many ties (quantized weights, so thresholds cut through runs of equal scores that straddle
 * participants), and small selection memories (more passes).
 */
class PlanParticipantsTest {

  @Test
  void participantsAgreeWithOnePlannerBitForBit() throws IOException {
    int checked = 0;
    int tieCounts = 0;
    for (long seed = 1; seed <= 4; seed++) {
      for (int distinct : new int[] {0, 3, 17}) {
        var model = PlannerTest.model(5_000 + (int) seed * 311, distinct, seed, true);
        var source = new InMemoryTensorSource(model);
        for (var budget : BudgetMode.values()) {
          for (double sparsity : new double[] {0.0, 0.3, 0.5, 0.77, 1.0}) {
            for (var method : new ScoringMethod[] {ScoringMethod.MAGNITUDE, ScoringMethod.DAI}) {
              var config = PlannerTest.budgeted(PlannerConfig.of(sparsity).withSelectionMemory(4096)
                  .withScoring(ScoringConfig.defaults().withMethod(method)), budget, model);
              var planner = new Planner(config);
              var layout = PlanLayout.of(config, source.tensors());
              var single = new LinkedHashMap<String, byte[]>();
              var whole = planner.plan(layout,
                  List.of(planner.share(layout, source, layout.candidates(), (t, m) -> single.put(t.name(), m))));
              for (int parts : new int[] {2, 3, layout.candidates().size()}) {
                var split = new LinkedHashMap<String, byte[]>();
                var participants = new ArrayList<CountingShare>();
                for (var run : runs(layout.candidates(), parts)) {
                  participants.add(new CountingShare(
                      planner.share(layout, source, run, (t, m) -> split.put(t.name(), m))));
                }
                var r = planner.plan(layout, participants);
                String label = "seed " + seed + " distinct " + distinct + " " + budget + " " + sparsity + " "
                    + method + " in " + parts;
                assertMasksEqual(single, split, label);
                assertEquals(whole.pruned(), r.pruned(), label);
                assertEquals(whole.tensors().stream().map(PlanResult.TensorCount::pruned).toList(),
                    r.tensors().stream().map(PlanResult.TensorCount::pruned).toList(), label);
                // the mean's sum is grouped by participant, so it may differ in the last bits; the rest is exact
                assertEquals(whole.scores().quantiles(), r.scores().quantiles(), label);
                assertEquals(whole.scores().min(), r.scores().min(), label);
                assertEquals(whole.scores().max(), r.scores().max(), label);
                assertEquals(whole.scores().mean(), r.scores().mean(), 1e-9 * Math.abs(whole.scores().mean()), label);
                assertEquals(whole.selections(), r.selections(), label);
                tieCounts += participants.get(0).tieCounts;
                checked++;
              }
            }
          }
        }
      }
    }
    assertEquals(4 * 3 * BudgetMode.values().length * 5 * 2 * 3, checked);
    assertTrue(tieCounts > 0, "no case needed a tie count: the quantized models should cut through ties");
  }

  @Test
  void participantsThatDoNotCoverTheCandidatesInOrderAreRefused() {
    var source = new InMemoryTensorSource(PlannerTest.model(600, 0, 9, false));
    var config = PlannerConfig.of(0.5).withScoring(ScoringConfig.defaults().withMethod(ScoringMethod.MAGNITUDE));
    var planner = new Planner(config);
    var layout = PlanLayout.of(config, source.tensors());
    var all = layout.candidates();
    var twice = List.of(planner.share(layout, source, all, null), planner.share(layout, source, all.subList(0, 1), null));
    var e = assertThrows(IllegalArgumentException.class, () -> planner.plan(layout, twice));
    assertTrue(e.getMessage().contains("participant 1 holds " + all.get(0)), e.getMessage());
    var missing = List.of(planner.share(layout, source, all.subList(1, all.size()), null));
    e = assertThrows(IllegalArgumentException.class, () -> planner.plan(layout, missing));
    assertTrue(e.getMessage().contains("participant 0 holds " + all.get(1)), e.getMessage());
    var short_ = List.of(planner.share(layout, source, all.subList(0, all.size() - 1), null));
    e = assertThrows(IllegalArgumentException.class, () -> planner.plan(layout, short_));
    assertTrue(e.getMessage().contains("first one missing is " + all.get(all.size() - 1)), e.getMessage());
  }

  static List<List<TensorMeta>> runs(List<TensorMeta> all, int parts) {
    var out = new ArrayList<List<TensorMeta>>();
    for (int p = 0; p < parts; p++) {
      int from = all.size() * p / parts;
      int to = all.size() * (p + 1) / parts;
      if (from < to) {
        out.add(all.subList(from, to));
      }
    }
    return out;
  }

  static void assertMasksEqual(Map<String, byte[]> expected, Map<String, byte[]> actual, String label) {
    assertEquals(expected.keySet(), actual.keySet(), label);
    for (var e : expected.entrySet()) {
      assertArrayEquals(e.getValue(), actual.get(e.getKey()), label + ": " + e.getKey());
    }
  }

  /** Counts the tie rounds a participant was asked for (the planner asks only when ties straddle participants). */
  static final class CountingShare implements PlanParticipant {
    final PlanShare share;
    int tieCounts;

    CountingShare(PlanShare share) {
      this.share = share;
    }

    @Override
    public List<TensorMeta> tensors() {
      return share.tensors();
    }

    @Override
    public PassAccumulator[] pass(PassAccumulator[] fresh) throws IOException {
      return share.pass(fresh);
    }

    @Override
    public long[] ties(long[] thresholdKeys) throws IOException {
      tieCounts++;
      return share.ties(thresholdKeys);
    }

    @Override
    public Outcome masks(long[] thresholdKeys, long[] tieQuotas) throws IOException {
      return share.masks(thresholdKeys, tieQuotas);
    }
  }
}
