package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.InputStatistics;
import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.stats.InputSums;
import io.gaprune.stats.PackedSymmetric;
import io.gaprune.stats.TensorStats;
import io.gaprune.worker.ShardCodec;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The worker's memory model the partitioner packs tensors by, against the arrays a worker allocates. */
class PartitionerTest {

  private static final List<Statistic> FISHER = ShardCodec.statistics(StatisticSet.FISHER,
      InputStatistics.INPUT_STATISTICS_NONE);
  private static final List<Statistic> FISHER_AND_GRAMS = ShardCodec.statistics(StatisticSet.FISHER,
      InputStatistics.INPUT_GRAMS);

  /**
   * A unit's running sums (gradient statistics and input statistics), the batch's own input sums of both halves
   * (the same arrays again), and the general half's float32 gradient: what {@code StatisticsStep} holds for a
   * tensor while it adds a batch.
   */
  private static long allocated(TensorSpec t, boolean gradientSums, InputStatistics inputs) {
    long[] shape = t.getShapeList().stream().mapToLong(Long::longValue).toArray();
    int in = Math.toIntExact(shape[1]);
    var batchInputs = inputs == InputStatistics.INPUT_STATISTICS_NONE ? InputSums.NONE
        : InputSums.zeros(in, inputs == InputStatistics.INPUT_GRAMS);
    var unit = TensorStats.zeros(t.getName(), shape, gradientSums).withInputs(batchInputs);
    long batchInputBytes = Double.BYTES * ((long) batchInputs.squaresGeneral().length
        + batchInputs.squaresDomain().length + batchInputs.gramGeneral().length + batchInputs.gramDomain().length);
    return unit.heapBytes() + batchInputBytes + (long) Float.BYTES * Partitioner.elements(t);
  }

  private static TensorSpec tensor(String name, long out, long in) {
    return TensorSpec.newBuilder().setName(name).addShape(out).addShape(in).build();
  }

  @Test
  void unitBytesAreTheArraysAWorkerHoldsForEveryStatisticSet() {
    var down = tensor("down", 8, 24); // more inputs than outputs: the Gram matrix outweighs the Fisher
    var up = tensor("up", 24, 8);
    for (var t : List.of(down, up)) {
      for (var set : List.of(StatisticSet.FISHER, StatisticSet.FISHER_AND_GRADIENTS)) {
        for (var inputs : List.of(InputStatistics.INPUT_STATISTICS_NONE, InputStatistics.INPUT_NORMS,
            InputStatistics.INPUT_GRAMS)) {
          var statistics = ShardCodec.statistics(set, inputs);
          assertEquals(allocated(t, set == StatisticSet.FISHER_AND_GRADIENTS, inputs),
              Partitioner.unitBytes(t, statistics), t.getName() + " " + statistics);
        }
      }
    }
    // by hand for one case: 192 weights × (2 Fisher sums × 8 + 4), and Σx² (24) and the packed Gram (300) of
    // both halves, twice (the unit's and the batch's)
    assertEquals(192 * 20 + 2 * 2 * 8 * (24 + 300), Partitioner.unitBytes(down, FISHER_AND_GRAMS));
    assertEquals(300, PackedSymmetric.length(24));
    assertEquals(20, Partitioner.bytesPerWeight(FISHER_AND_GRAMS), "the input statistics are not per weight");
    assertEquals(24 * 24 * 8, Partitioner.transientBytes(down, FISHER_AND_GRAMS), "one batch's Gram in full");
    assertEquals(0, Partitioner.transientBytes(down, FISHER));
  }

  @Test
  void gramMatricesSplitPartitionsThatPerWeightCountingWouldHaveKeptTogether() {
    // four [4, 64] layers: 256 weights each, 5,120 bytes of Fisher sums, but 64·65/2 = 2,080 Gram values per half
    var tensors = List.of(tensor("a", 4, 64), tensor("b", 4, 64), tensor("c", 4, 64), tensor("d", 4, 64));
    long each = Partitioner.unitBytes(tensors.get(0), FISHER_AND_GRAMS);
    assertEquals(256 * 20 + 2 * 2 * 8 * (64 + 2080), each);
    long transientGram = 64 * 64 * 8;
    long two = 2 * each + transientGram;
    assertEquals(two, Partitioner.partitionBytes(tensors.subList(0, 2), FISHER_AND_GRAMS));
    assertTrue(4 * 256 * (6 * 8 + 4) < two, "counted per weight (six statistics of 8 bytes and the held gradient),"
        + " all four tensors took less than two do");

    assertEquals(List.of(2, 2), counts(Partitioner.partitions(tensors, two, FISHER_AND_GRAMS)));
    assertEquals(List.of(1, 1, 1, 1), counts(Partitioner.partitions(tensors, two - 1, FISHER_AND_GRAMS)),
        "one byte less: the second tensor and the transient Gram no longer fit beside the first");
    // the Fisher alone of all four is far below that budget: one partition, as before
    assertEquals(List.of(4), counts(Partitioner.partitions(tensors, two, FISHER)));
    // a tensor larger than the budget still gets a partition of its own
    assertEquals(List.of(1, 1, 1, 1), counts(Partitioner.partitions(tensors, 1, FISHER_AND_GRAMS)));
  }

  private static List<Integer> counts(List<LayerPartition> partitions) {
    return partitions.stream().map(LayerPartition::getTensorsCount).toList();
  }
}
