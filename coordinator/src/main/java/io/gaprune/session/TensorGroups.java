package io.gaprune.session;

import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.WorkUnit;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A session's merger groups: each layer partition's tensors cut into contiguous ranges (fold order), each range's
 * accumulators owned by one {@link MergerEntity}. Fixed at session start from configuration, never from the
 * number of workers or nodes; since every tensor is folded in unit order whatever group it sits in, the grouping
 * never changes a bit of the sums.
 */
public final class TensorGroups {
  private TensorGroups() {}

  /**
   * Cuts each partition into at most {@code perPartition} contiguous groups of about equal weight count: a group
   * closes once the weights so far reach its share of the partition's total (the same greedy idea as {@code
   * session estimate --mergers}, kept contiguous so a group is a range of the stream order). Tensors are never
   * split; a partition with fewer tensors than {@code perPartition} gets one group per tensor.
   */
  public static List<TensorGroup> pack(List<LayerPartition> partitions, int perPartition) {
    if (perPartition < 1) {
      throw new IllegalArgumentException("merger groups per partition must be at least 1, got " + perPartition);
    }
    List<TensorGroup> out = new ArrayList<>();
    for (LayerPartition p : partitions) {
      List<TensorSpec> tensors = p.getTensorsList();
      int groups = Math.min(perPartition, tensors.size());
      long total = tensors.stream().mapToLong(Partitioner::elements).sum();
      long sum = 0;
      int index = 0;
      TensorGroup.Builder current = TensorGroup.newBuilder().setPartition(p.getIndex()).setIndex(0);
      for (int i = 0; i < tensors.size(); i++) {
        current.addTensors(tensors.get(i));
        sum += Partitioner.elements(tensors.get(i));
        int tensorsLeft = tensors.size() - i - 1;
        int groupsLeft = groups - index - 1;
        boolean shareReached = (double) sum >= (double) total * (index + 1) / groups;
        if (groupsLeft > 0 && (shareReached || tensorsLeft == groupsLeft)) {
          out.add(current.build());
          current = TensorGroup.newBuilder().setPartition(p.getIndex()).setIndex(++index);
        }
      }
      out.add(current.build());
    }
    return out;
  }

  /** One group per partition: the layout of a journal written before merger groups existed. */
  public static List<TensorGroup> whole(List<LayerPartition> partitions) {
    return partitions.stream()
        .map(p -> TensorGroup.newBuilder().setPartition(p.getIndex()).setIndex(0).addAllTensors(p.getTensorsList())
            .build()).toList();
  }

  /** The groups of one partition, in order. */
  public static List<TensorGroup> of(List<TensorGroup> groups, int partition) {
    return groups.stream().filter(g -> g.getPartition() == partition).toList();
  }

  /** The unit with its partition's group sizes, so the worker cuts one stream per group. */
  public static WorkUnit withGroups(WorkUnit unit, List<TensorGroup> groups) {
    var b = unit.toBuilder().clearGroupTensorCounts();
    of(groups, unit.getPartition()).forEach(g -> b.addGroupTensorCounts(g.getTensorsCount()));
    return b.build();
  }

  /** The sharding entity id of a group: session/partition/group (session ids have no slash). */
  public static String entityId(String sessionId, TensorGroup g) {
    return sessionId + "/" + g.getPartition() + "/" + g.getIndex();
  }

  /** The group as a one-partition layout for its {@link AccumulatorStore} (same partition index). */
  public static LayerPartition asPartition(TensorGroup g) {
    return LayerPartition.newBuilder().setIndex(g.getPartition()).addAllTensors(g.getTensorsList()).build();
  }

  /** Where a group's staged files and accumulator live on its owner's disk. */
  public static Path dir(Path workDir, String sessionId, TensorGroup g) {
    return sessionDir(workDir, sessionId).resolve("groups")
        .resolve(String.format("p%03d-g%03d", g.getPartition(), g.getIndex()));
  }

  public static Path sessionDir(Path workDir, String sessionId) {
    return workDir.resolve("sessions").resolve(sessionId);
  }
}
