package io.gaprune.stats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.TinyModels;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Sums over batches are bit-identical in every grouping and arrival order (real float32 gradients). */
class StatisticsAccumulatorTest {

  private static final int BATCHES = 6;
  /** Per-batch contributions of batches 0..5, computed one at a time by the real step. */
  private static List<UnitStatistics> contributions;
  private static UnitStatistics recomputedBatch3;

  @BeforeAll
  static void computeContributions() {
    try (var manager = NDManager.newBaseManager()) {
      var encoder = TinyModels.qwen3(manager, TinyModels.qwen3Config(2), DataType.FLOAT32, 21);
      var step = new StatisticsStep(encoder, encoder.parameters().keySet());
      var random = new Random(8);
      var batches = new ArrayList<TripletBatch[]>();
      for (int b = 0; b < BATCHES; b++) {
        batches.add(new TripletBatch[] {TinyModels.triplets(manager, random, 2 + b % 3),
            TinyModels.triplets(manager, random, 3)});
      }
      contributions = new ArrayList<>();
      for (var b : batches) {
        contributions.add(step.run(b[0], b[1]));
      }
      // a retried unit recomputes its batches: the step itself must be deterministic
      recomputedBatch3 = step.run(batches.get(3)[0], batches.get(3)[1]);
    }
  }

  @Test
  void everyGroupingAndArrivalOrderGivesTheSameBits() {
    var reference = oneAtATime(List.of(0, 1, 2, 3, 4, 5));
    assertSame(reference, oneAtATime(List.of(5, 3, 0, 4, 2, 1)));
    assertSame(reference, grouped(List.of(List.of(0), List.of(1, 2), List.of(3, 4, 5)), false)); // 1 + 2 + 3
    assertSame(reference, grouped(List.of(List.of(0), List.of(1, 2), List.of(3, 4, 5)), true));
    assertSame(reference, grouped(List.of(List.of(0, 1, 2), List.of(3, 4, 5)), false)); // 3 + 3
    assertSame(reference, grouped(List.of(List.of(3, 4, 5), List.of(0, 1, 2)), true));
    assertSame(reference, grouped(List.of(List.of(0, 1, 2, 3, 4, 5)), false)); // one unit of 6
    assertSame(reference, grouped(List.of(List.of(4), List.of(1), List.of(5), List.of(0), List.of(2),
        List.of(3)), true)); // 6 × 1
    assertEquals(6, reference.batches());
  }

  /**
   * Why the fixed tree is needed: with plain float64 sums the groupings 1 + 2 + 3 and 3 + 3 already differ in
   * the last bits on this data (so the bit-equality above is a real test).
   */
  @Test
  void naiveFloat64SumsDependOnGrouping() {
    int differing = 0;
    for (var name : contributions.get(0).tensors().keySet()) {
      var x = new double[6][];
      for (int b = 0; b < 6; b++) {
        x[b] = contributions.get(b).tensors().get(name).sumSqGeneral();
      }
      for (int i = 0; i < x[0].length; i++) {
        double onePlusTwoPlusThree = (x[0][i] + (x[1][i] + x[2][i])) + (x[3][i] + x[4][i] + x[5][i]);
        double threePlusThree = (x[0][i] + x[1][i] + x[2][i]) + (x[3][i] + x[4][i] + x[5][i]);
        if (onePlusTwoPlusThree != threePlusThree) {
          differing++;
        }
      }
    }
    assertTrue(differing > 10, "only " + differing + " sums depend on the grouping");
  }

  @Test
  void theTotalIsTheSumOfTheContributions() {
    var total = oneAtATime(List.of(0, 1, 2, 3, 4, 5));
    long generalSamples = 0;
    double lossSum = 0;
    for (var c : contributions) {
      generalSamples += c.generalSamples();
      lossSum += c.generalLossSum();
    }
    assertEquals(generalSamples, total.generalSamples());
    assertEquals(6 * 3, total.domainSamples());
    assertEquals(lossSum, total.generalLossSum(), 1e-12 * lossSum);
    for (var name : contributions.get(0).tensors().keySet()) {
      var t = total.tensors().get(name);
      var sum = new double[t.size()];
      var sumSq = new double[t.size()];
      double cosines = 0;
      long negatives = 0;
      for (var c : contributions) {
        var s = c.tensors().get(name);
        for (int i = 0; i < sum.length; i++) {
          sum[i] += s.sumDomain()[i];
          sumSq[i] += s.sumSqGeneral()[i];
        }
        cosines += s.cosineSum();
        negatives += s.negativeCosines();
      }
      assertArrayEquals(sum, t.sumDomain(), 1e-12 * StatisticsStepTest.norm(sum), name);
      assertArrayEquals(sumSq, t.sumSqGeneral(), 1e-12 * StatisticsStepTest.norm(sumSq), name);
      assertEquals(cosines, t.cosineSum(), 1e-12, name);
      assertEquals(negatives, t.negativeCosines(), name);
    }
  }

  @Test
  void aRetriedBatchReproducesItsContribution() {
    assertSame(contributions.get(3), recomputedBatch3);
  }

  @Test
  void foldingABatchTwiceOrAnUnalignedRangeFails() {
    var acc = new StatisticsAccumulator();
    acc.add(0, contributions.get(0).copy());
    acc.add(1, contributions.get(1).copy()); // merged into the block [0, 2)
    var e = assertThrows(IllegalArgumentException.class, () -> acc.add(1, contributions.get(1).copy()));
    assertEquals("batches [1, 2) overlap batches [0, 2) already accumulated", e.getMessage());

    var unit = new StatisticsAccumulator();
    unit.add(1, contributions.get(1).copy());
    unit.add(2, contributions.get(2).copy());
    var e2 = assertThrows(IllegalArgumentException.class, () -> acc.addBlock(1, unit.total()));
    assertTrue(e2.getMessage().startsWith("batches [1, 3) are not an aligned block"), e2.getMessage());

    var gap = new StatisticsAccumulator();
    gap.add(0, contributions.get(0).copy());
    gap.add(2, contributions.get(2).copy());
    var e3 = assertThrows(IllegalStateException.class, gap::total);
    assertEquals("batches [1, 2) are missing", e3.getMessage());
  }

  /** Blocks handed over from another accumulator are copied: the sender's sums stay as they were. */
  @Test
  void shippedBlocksAreNotMutatedByTheReceiver() {
    var unit = new StatisticsAccumulator();
    unit.add(0, contributions.get(0).copy());
    var shipped = unit.blocks().get(0).getValue();
    var before = shipped.copy();
    var session = new StatisticsAccumulator();
    session.addAll(unit);
    session.add(1, contributions.get(1).copy()); // merges [0, 1) and [1, 2) in place in the session
    assertSame(before, shipped);
  }

  private static UnitStatistics oneAtATime(List<Integer> order) {
    var acc = new StatisticsAccumulator();
    order.forEach(b -> acc.add(b, contributions.get(b).copy()));
    return acc.total();
  }

  /** Each group is a work unit with its own accumulator; the session merges the units' blocks. */
  private static UnitStatistics grouped(List<List<Integer>> units, boolean shuffleArrival) {
    var shipped = new ArrayList<StatisticsAccumulator>();
    for (var unit : units) {
      var acc = new StatisticsAccumulator();
      unit.forEach(b -> acc.add(b, contributions.get(b).copy()));
      shipped.add(acc);
    }
    if (shuffleArrival) {
      Collections.shuffle(shipped, new Random(units.size()));
    }
    var session = new StatisticsAccumulator();
    shipped.forEach(session::addAll);
    return session.total();
  }

  /** Bit-for-bit equality of every sum and counter. */
  static void assertSame(UnitStatistics expected, UnitStatistics actual) {
    assertEquals(expected.tensors().keySet(), actual.tensors().keySet());
    assertEquals(expected.batches(), actual.batches());
    assertEquals(expected.generalSamples(), actual.generalSamples());
    assertEquals(expected.domainSamples(), actual.domainSamples());
    assertEquals(Double.doubleToRawLongBits(expected.generalLossSum()), Double.doubleToRawLongBits(actual.generalLossSum()));
    assertEquals(Double.doubleToRawLongBits(expected.domainLossSum()), Double.doubleToRawLongBits(actual.domainLossSum()));
    for (var e : expected.tensors().entrySet()) {
      var a = actual.tensors().get(e.getKey());
      var x = e.getValue();
      assertArrayEquals(x.shape(), a.shape());
      assertArrayEquals(x.sumSqGeneral(), a.sumSqGeneral(), 0.0, e.getKey());
      assertArrayEquals(x.sumGeneral(), a.sumGeneral(), 0.0, e.getKey());
      assertArrayEquals(x.sumSqDomain(), a.sumSqDomain(), 0.0, e.getKey());
      assertArrayEquals(x.sumDomain(), a.sumDomain(), 0.0, e.getKey());
      assertEquals(Double.doubleToRawLongBits(x.cosineSum()), Double.doubleToRawLongBits(a.cosineSum()), e.getKey());
      assertEquals(x.negativeCosines(), a.negativeCosines(), e.getKey());
    }
  }
}
