package io.gaprune.session;

import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.stats.MergedStatistics;
import io.gaprune.stats.TensorStats;
import io.gaprune.stats.UnitStatistics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A finished session's merged statistics as a planner reads them: the accumulators of its merger groups, each
 * group's store in its owner's directory. {@link #local} finds every group on this node's disk (the embedded
 * mode, a single-node cluster); reading a group whose owner runs on another node is refused with a message:
 * such groups take part in a plan through their owners ({@link #owners()}, planning by histograms), and their
 * statistics never leave their node. Counters (batches, samples, losses) are the first group's: every group folds the same units.
 */
public final class SessionAccumulators {
  private final Path sessionDir;
  private final String sessionId;
  private final List<TensorGroup> groups;
  private final List<Statistic> statistics;
  private final Function<TensorGroup, Path> dirOf;
  private final GroupOwners owners;

  /**
   * @param sessionDir this node's directory of the session (the plan's masks go under it)
   * @param dirOf where each group's store is
   */
  public SessionAccumulators(Path sessionDir, String sessionId, List<TensorGroup> groups, List<Statistic> statistics,
      Function<TensorGroup, Path> dirOf) {
    this(sessionDir, sessionId, groups, statistics, dirOf, null);
  }

  private SessionAccumulators(Path sessionDir, String sessionId, List<TensorGroup> groups, List<Statistic> statistics,
      Function<TensorGroup, Path> dirOf, GroupOwners owners) {
    if (groups.isEmpty()) {
      throw new IllegalArgumentException("session " + sessionId + " has no merger groups");
    }
    this.sessionDir = sessionDir;
    this.sessionId = sessionId;
    this.groups = List.copyOf(groups);
    this.statistics = List.copyOf(statistics);
    this.dirOf = dirOf;
    this.owners = owners;
  }

  /** The same accumulators, with a way to the owners of the groups that are not on this node. */
  public SessionAccumulators withOwners(GroupOwners owners) {
    return new SessionAccumulators(sessionDir, sessionId, groups, statistics, dirOf, owners);
  }

  /** One group's accumulators (a plan's local participant reads them). */
  public SessionAccumulators only(TensorGroup g) {
    return new SessionAccumulators(sessionDir, sessionId, List.of(g), statistics, dirOf, owners);
  }

  /** The owners of the groups on other nodes; null when none was given (every group must then be here). */
  public GroupOwners owners() {
    return owners;
  }

  /** Whether the group's accumulator is on this node's disk. */
  public boolean isLocal(TensorGroup g) {
    return Files.exists(AccumulatorStore.accumulatorPath(dirOf.apply(g), g.getPartition()));
  }

  /** The groups' stores under {@code workDir}, where this node's merger entities keep them. */
  public static SessionAccumulators local(Path workDir, String sessionId, List<TensorGroup> groups,
      List<Statistic> statistics) {
    return new SessionAccumulators(TensorGroups.sessionDir(workDir, sessionId), sessionId, groups, statistics,
        g -> TensorGroups.dir(workDir, sessionId, g));
  }

  public Path dir() {
    return sessionDir;
  }

  public List<TensorGroup> groups() {
    return groups;
  }

  /** One group's store (its accumulator must be on this node: see the class comment). */
  public AccumulatorStore store(TensorGroup g) {
    Path dir = dirOf.apply(g);
    if (!Files.exists(AccumulatorStore.accumulatorPath(dir, g.getPartition()))) {
      throw new IllegalStateException(String.format("session %s: the accumulator of merger group %d of partition %d "
          + "(%d tensors from %s) is not on this node (%s): its owner runs on another node; a session plans with "
          + "such owners by histograms (the statistics stay where they are), but reading all the statistics "
          + "here (a statistics-only session's starter, --save-statistics) needs every group on this node: keep "
          + "the merger role on the coordinator's node only (gaprune.worker.merger = off) for those",
          sessionId, g.getIndex(), g.getPartition(), g.getTensorsCount(),
          g.getTensorsCount() == 0 ? "-" : g.getTensors(0).getName(), dir));
    }
    return new AccumulatorStore(dir, sessionId, List.of(TensorGroups.asPartition(g)), statistics);
  }

  /** The merged statistics read tensor by tensor (each group's file checked once, here). */
  public MergedStatistics merged() {
    Map<String, MergedStatistics> byTensor = new HashMap<>();
    MergedStatistics first = null;
    for (TensorGroup g : groups) {
      MergedStatistics m = store(g).merged();
      first = first == null ? m : first;
      for (var t : g.getTensorsList()) {
        byTensor.put(t.getName(), m);
      }
    }
    return new MergedStatistics.View(first.batches(), first.generalSamples(), first.domainSamples(), name -> {
      MergedStatistics m = byTensor.get(name);
      return m == null ? null : m.tensor(name);
    });
  }

  /** Every merged statistic in memory, tensors in the groups' order. */
  public UnitStatistics readAll() throws IOException {
    Map<String, TensorStats> tensors = new LinkedHashMap<>();
    List<UnitStatistics> parts = new ArrayList<>();
    for (TensorGroup g : groups) {
      UnitStatistics u = store(g).readAll();
      parts.add(u);
      tensors.putAll(u.tensors());
    }
    UnitStatistics first = parts.get(0);
    return new UnitStatistics(tensors, first.generalSamples(), first.domainSamples(), first.batches(),
        first.generalLossSum(), first.domainLossSum());
  }
}
