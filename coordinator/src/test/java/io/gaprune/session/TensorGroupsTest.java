package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.WorkUnit;
import io.gaprune.worker.ShardCodec;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TensorGroupsTest {
  static TensorSpec tensor(String name, long rows, long cols) {
    return TensorSpec.newBuilder().setName(name).addShape(rows).addShape(cols).build();
  }

  static LayerPartition partition(int index, TensorSpec... tensors) {
    return LayerPartition.newBuilder().setIndex(index).addAllTensors(List.of(tensors)).build();
  }

  static List<Integer> sizes(List<TensorGroup> groups) {
    return groups.stream().map(TensorGroup::getTensorsCount).toList();
  }

  /** Every partition's tensors, in order, exactly once, over groups indexed 0.. of that partition. */
  static void assertCovers(List<LayerPartition> partitions, List<TensorGroup> groups) {
    for (LayerPartition p : partitions) {
      List<TensorSpec> seen = new ArrayList<>();
      var of = TensorGroups.of(groups, p.getIndex());
      for (int i = 0; i < of.size(); i++) {
        assertEquals(i, of.get(i).getIndex());
        seen.addAll(of.get(i).getTensorsList());
      }
      assertEquals(p.getTensorsList(), seen);
    }
  }

  @Test
  void equalTensorsSplitEvenly() {
    var p = partition(0, tensor("a", 8, 8), tensor("b", 8, 8), tensor("c", 8, 8), tensor("d", 8, 8),
        tensor("e", 8, 8), tensor("f", 8, 8), tensor("g", 8, 8), tensor("h", 8, 8));
    var groups = TensorGroups.pack(List.of(p), 4);
    assertEquals(List.of(2, 2, 2, 2), sizes(groups));
    assertCovers(List.of(p), groups);
  }

  @Test
  void aLargeTensorTakesAGroupOfItsOwnAndEveryGroupHoldsOne() {
    var p = partition(0, tensor("big", 1000, 1000), tensor("s1", 2, 2), tensor("s2", 2, 2), tensor("s3", 2, 2));
    var groups = TensorGroups.pack(List.of(p), 3);
    assertEquals(List.of(1, 1, 2), sizes(groups));
    assertCovers(List.of(p), groups);
  }

  @Test
  void fewerTensorsThanGroupsGiveOneGroupPerTensorAndEachPartitionIsCutOnItsOwn() {
    var p0 = partition(0, tensor("a", 4, 4), tensor("b", 4, 4));
    var p1 = partition(1, tensor("c", 4, 4), tensor("d", 4, 4), tensor("e", 4, 4), tensor("f", 4, 4));
    var groups = TensorGroups.pack(List.of(p0, p1), 3);
    assertEquals(2, TensorGroups.of(groups, 0).size());
    assertEquals(3, TensorGroups.of(groups, 1).size());
    assertCovers(List.of(p0, p1), groups);
    assertEquals(List.of(1, 1), sizes(TensorGroups.of(groups, 0)));
    assertEquals("s/1/2", TensorGroups.entityId("s", TensorGroups.of(groups, 1).get(2)));
    assertThrows(IllegalArgumentException.class, () -> TensorGroups.pack(List.of(p0), 0));
  }

  @Test
  void theWorkerCutsAUnitIntoTheSameGroups() {
    var p = partition(0, tensor("a", 4, 4), tensor("b", 4, 4), tensor("c", 4, 4), tensor("d", 4, 4),
        tensor("e", 4, 4));
    var groups = TensorGroups.pack(List.of(p), 2);
    WorkUnit unit = TensorGroups.withGroups(WorkUnit.newBuilder().setUnitId("u").setPartition(0)
        .addAllTensors(p.getTensorsList()).build(), groups);
    var cut = ShardCodec.groups(unit);
    assertEquals(groups.size(), cut.size());
    for (int i = 0; i < cut.size(); i++) {
      assertEquals(groups.get(i).getTensorsList(), cut.get(i));
    }
    // a journal from before merger groups: the whole unit is one group
    assertEquals(List.of(p.getTensorsList()), ShardCodec.groups(unit.toBuilder().clearGroupTensorCounts().build()));
    // counts that do not add up to the unit's tensors are refused, naming the unit
    var bad = unit.toBuilder().clearGroupTensorCounts().addGroupTensorCounts(2).addGroupTensorCounts(2).build();
    assertThrows(IllegalArgumentException.class, () -> ShardCodec.groups(bad));
  }
}
