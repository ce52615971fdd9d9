package io.gaprune.session;

import io.gaprune.protocol.MergerFolded;
import io.gaprune.protocol.MergerHeld;
import io.gaprune.protocol.SessionEvent;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.protocol.UnitCompleted;
import io.gaprune.protocol.UnitsFolded;
import io.gaprune.worker.ShardCodec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * What the merger groups hold, by their own answers, against what the journal counts done (docs/cluster.md,
 * "Lineage"): the units every group of a partition has folded, the done units a group lost (to be reopened),
 * and the scan that asks every group after a coordinator start or a node loss. Not persisted: the groups'
 * disks are the truth and every answer reads them again.
 */
final class Lineage {
  /** What each group's accumulator holds, from its last fold answer ("partition/group" → unit ids). */
  private final Map<String, Set<String>> appliedByGroup = new HashMap<>();
  /** Answers to the running scan ("partition/group" → answer); null when none is running. */
  private Map<String, MergerHeld> scan;
  private long scanSentAt;
  /**
   * The units counted done when the scan was sent: every group held them then (they were staged everywhere
   * before), so an answer without one means the group lost it. A unit done later may be staged after its
   * group answered, and proves nothing.
   */
  private Set<String> doneAtScan = Set.of();

  /**
   * What one fold answer found.
   *
   * @param lost units counted done that the group holds neither folded nor staged: to reopen
   * @param folded units every group of the partition has folded that the journal does not count folded yet (a
   *     crash between a fold's rename and its event leaves such units behind)
   */
  record FoldFindings(int partition, int group, List<String> lost, List<String> folded) {
    /** What the journal records of it: the lost units reopened, the folded ones folded. */
    List<SessionEvent> events() {
      List<SessionEvent> out = new ArrayList<>();
      if (!lost.isEmpty()) {
        out.add(SessionEvents.reopened(lost, "merger group " + group + " of partition " + partition
            + " does not hold them"));
      }
      if (!folded.isEmpty()) {
        out.add(SessionEvents.of(SessionEvent.newBuilder().setUnitsFolded(UnitsFolded.newBuilder()
            .setPartition(partition).addAllUnitIds(folded))));
      }
      return out;
    }
  }

  /**
   * What a scan found once every group had answered, in partition and unit order.
   *
   * @param durable units every group of their partition holds that the journal does not count done (they became
   *     durable just before a crash): their completion events
   * @param lost units counted done when the scan was sent that a group no longer holds: to reopen
   */
  record ScanFindings(List<UnitCompleted> durable, List<String> lost) {
    /** What the journal records of it: the durable units completed, the lost ones reopened. */
    List<SessionEvent> events() {
      List<SessionEvent> out = new ArrayList<>();
      durable.forEach(c -> out.add(SessionEvents.of(SessionEvent.newBuilder().setUnitCompleted(c))));
      if (!lost.isEmpty()) {
        out.add(SessionEvents.reopened(lost, "missing from a merger group after a restart or a node loss"));
      }
      return out;
    }
  }

  FoldFindings folded(SessionState s, MergerFolded answer) {
    appliedByGroup.put(key(answer.getPartition(), answer.getGroup()), new HashSet<>(answer.getAppliedList()));
    List<String> lost = answer.getMissingList().stream().filter(s.done::contains).toList();
    List<String> folded = foldedEverywhere(s, answer.getPartition()).stream()
        .filter(u -> !s.folded.contains(u) && !lost.contains(u)).toList();
    return new FoldFindings(answer.getPartition(), answer.getGroup(), lost, folded);
  }

  /** The units of a partition that every one of its groups has folded, by their last answers. */
  private List<String> foldedEverywhere(SessionState s, int partition) {
    List<Set<String>> sets = new ArrayList<>();
    for (TensorGroup g : TensorGroups.of(s.groups, partition)) {
      Set<String> applied = appliedByGroup.get(key(partition, g.getIndex()));
      if (applied == null) {
        return List.of();
      }
      sets.add(applied);
    }
    return s.unitsByPartition().getOrDefault(partition, List.of()).stream()
        .filter(u -> sets.stream().allMatch(a -> a.contains(u))).toList();
  }

  /** Starts a scan (a running one is dropped: its answers may never come); the coordinator asks every group. */
  void scanSent(SessionState s, long now) {
    scan = new HashMap<>();
    scanSentAt = now;
    doneAtScan = Set.copyOf(s.done);
  }

  boolean scanning() {
    return scan != null;
  }

  /** A scan sent while the sharding still routed to a removed node's region is lost: it is asked again. */
  boolean scanOverdue(long now, long patienceMs) {
    return scan != null && now - scanSentAt > patienceMs;
  }

  int scanAnswers() {
    return scan == null ? 0 : scan.size();
  }

  /** Records one group's answer to the running scan; empty until every group of the session has answered. */
  Optional<ScanFindings> held(SessionState s, MergerHeld answer) {
    scan.put(key(answer.getPartition(), answer.getGroup()), answer);
    if (scan.size() < s.groups.size()) {
      return Optional.empty();
    }
    Map<String, MergerHeld> answers = scan;
    scan = null;
    scanSentAt = 0;
    List<UnitCompleted> durable = new ArrayList<>();
    List<String> lost = new ArrayList<>();
    for (var e : new TreeMap<>(s.unitsByPartition()).entrySet()) {
      List<TensorGroup> groups = TensorGroups.of(s.groups, e.getKey());
      for (String unit : e.getValue()) {
        boolean everywhere = groups.stream().map(g -> answers.get(key(e.getKey(), g.getIndex())))
            .allMatch(a -> a.getAppliedList().contains(unit) || a.getStagedList().contains(unit));
        if (everywhere && !s.done.contains(unit)) {
          durable.add(UnitCompleted.newBuilder().setUnitId(unit).setWorkerRef(SessionState.RECOVERED)
              .setBytes(unitBytes(s, e.getKey())).build());
        } else if (!everywhere && s.done.contains(unit) && doneAtScan.contains(unit)) {
          lost.add(unit);
        }
      }
    }
    return Optional.of(new ScanFindings(durable, lost));
  }

  /** Value bytes of one unit of a partition, as its groups' staged files hold them (their digests matched). */
  private static long unitBytes(SessionState s, int partition) {
    long values = 0;
    for (TensorGroup g : TensorGroups.of(s.groups, partition)) {
      for (var t : g.getTensorsList()) {
        for (var statistic : ShardCodec.statistics(s.config)) {
          values += ShardCodec.length(t, statistic);
        }
      }
    }
    return values * ShardCodec.VALUE_BYTES;
  }

  /** The units a partition's groups fold next: those counted done, in unit order, up to the first not done. */
  static List<String> foldOrder(SessionState s, int partition) {
    List<String> order = new ArrayList<>();
    for (String unit : s.unitsByPartition().getOrDefault(partition, List.of())) {
      if (!s.done.contains(unit)) {
        break; // fold order: later units wait for this one in every group
      }
      order.add(unit);
    }
    return order;
  }

  void clear() {
    appliedByGroup.clear();
    scan = null;
    scanSentAt = 0;
  }

  private static String key(int partition, int group) {
    return partition + "/" + group;
  }
}
