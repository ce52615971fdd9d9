package io.gaprune.session;

import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionCounters;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.protocol.SessionEvent;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.SessionSummary;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.protocol.WorkUnit;
import io.gaprune.protocol.WorkerRegistered;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The coordinator's state, rebuilt from its events: the session, its units pending / leased / done, the
 * units folded into the accumulators, the workers known, the plan, and a summary of the earlier sessions of the
 * journal (the coordinator runs one session at a time; the operator API lists the earlier ones). Mutated only by
 * {@link #apply}.
 */
public final class SessionState {
  public enum Status { IDLE, RUNNING, DONE, CANCELLED, FAILED }

  /** Earlier sessions kept for the operator: enough for any realistic history, bounded so the state is too. */
  public static final int HISTORY_LIMIT = 100;

  /** The worker of a unit found staged on disk after a restart: not known any more. */
  static final String RECOVERED = "recovered from disk";

  /** Who holds a unit, under which lease, since when (journal time). */
  public record LeaseInfo(String leaseId, String workerRef, long sinceMs) {}

  Status status = Status.IDLE;
  SessionConfig config;
  List<LayerPartition> partitions = List.of();
  /** The merger groups of every partition (whose owners hold the accumulators). */
  List<TensorGroup> groups = List.of();
  final Map<String, WorkUnit> units = new LinkedHashMap<>();
  final TreeSet<String> pending = new TreeSet<>();
  final Map<String, LeaseInfo> leased = new LinkedHashMap<>();
  final Set<String> done = new HashSet<>();
  final Set<String> folded = new HashSet<>();
  final Map<String, WorkerRegistered> workers = new LinkedHashMap<>();
  MaskPlan plan;
  String message = "";
  long startedAtMs;
  long endedAtMs;
  long sessionsStarted;
  /** Value bytes of the current session's staged units, and who computed them: the report's counters. */
  long shardBytes;
  /** What each merger node received (its cluster address; "" for events that did not say: the coordinator's). */
  final Map<String, Long> nodeBytes = new HashMap<>();
  final Set<String> contributors = new HashSet<>();
  final Deque<SessionSummary> history = new ArrayDeque<>();

  SessionState apply(SessionEvent e) {
    switch (e.getEventCase()) {
      case STARTED -> {
        var s = e.getStarted();
        if (config != null) {
          history.addLast(summary());
          if (history.size() > HISTORY_LIMIT) {
            history.removeFirst();
          }
        }
        sessionsStarted++;
        startedAtMs = e.getAtMs();
        endedAtMs = 0;
        status = Status.RUNNING;
        config = s.getConfig();
        partitions = List.copyOf(s.getPartitionsList());
        groups = s.getGroupsCount() > 0 ? List.copyOf(s.getGroupsList()) : TensorGroups.whole(partitions);
        units.clear();
        pending.clear();
        leased.clear();
        done.clear();
        folded.clear();
        shardBytes = 0;
        nodeBytes.clear();
        contributors.clear();
        plan = null;
        message = "";
        for (WorkUnit u : s.getUnitsList()) {
          units.put(u.getUnitId(), u);
          pending.add(u.getUnitId());
        }
      }
      case WORKER_REGISTERED -> workers.put(e.getWorkerRegistered().getWorkerRef(), e.getWorkerRegistered());
      case UNIT_LEASED -> {
        var l = e.getUnitLeased();
        if (!done.contains(l.getUnitId())) {
          pending.remove(l.getUnitId());
          leased.put(l.getUnitId(), new LeaseInfo(l.getLeaseId(), l.getWorkerRef(), e.getAtMs()));
        }
      }
      case LEASE_RELEASED -> {
        var r = e.getLeaseReleased();
        LeaseInfo info = leased.get(r.getUnitId());
        if (info != null && info.leaseId().equals(r.getLeaseId())) {
          leased.remove(r.getUnitId());
          if (!done.contains(r.getUnitId())) {
            pending.add(r.getUnitId());
          }
        }
      }
      case UNIT_COMPLETED -> {
        String id = e.getUnitCompleted().getUnitId();
        pending.remove(id);
        leased.remove(id);
        var c = e.getUnitCompleted();
        if (c.getNodeBytesCount() == 0) {
          nodeBytes.merge("", c.getBytes(), Long::sum);
        }
        c.getNodeBytesList().forEach(n -> nodeBytes.merge(n.getNode(), n.getBytes(), Long::sum));
        if (done.add(id)) {
          shardBytes += e.getUnitCompleted().getBytes();
          if (!e.getUnitCompleted().getWorkerRef().equals(RECOVERED)) {
            contributors.add(e.getUnitCompleted().getWorkerRef());
          }
        }
      }
      case UNITS_FOLDED -> folded.addAll(e.getUnitsFolded().getUnitIdsList());
      case UNITS_REOPENED -> {
        // a merger group lost them: computed again, the groups that hold them acknowledge them as duplicates
        for (String id : e.getUnitsReopened().getUnitIdsList()) {
          if (units.containsKey(id) && done.remove(id)) {
            folded.remove(id);
            leased.remove(id);
            pending.add(id);
          }
        }
      }
      case PLAN_COMMITTED -> {
        plan = e.getPlanCommitted().getPlan();
        status = Status.DONE;
        endedAtMs = e.getAtMs();
        message = plan.getMasksPath().isEmpty() ? "statistics merged (no plan asked: the starter plans)"
            : "masks at " + plan.getMasksPath();
      }
      case CANCELLED -> {
        status = Status.CANCELLED;
        endedAtMs = e.getAtMs();
        message = e.getCancelled().getReason();
        pending.clear();
        leased.clear();
      }
      case FAILED -> {
        status = Status.FAILED;
        endedAtMs = e.getAtMs();
        message = e.getFailed().getReason();
        pending.clear();
        leased.clear();
      }
      case EVENT_NOT_SET -> throw new IllegalStateException("empty session event");
    }
    return this;
  }

  /** The current session in the short form the history keeps (the plan without its tensor list). */
  SessionSummary summary() {
    SessionSummary.Builder b = SessionSummary.newBuilder().setState(status.name())
        .setUnitsTotal(units.size()).setUnitsDone(done.size())
        .setStartedAtMs(startedAtMs).setEndedAtMs(endedAtMs).setMessage(message);
    if (config != null) {
      b.setSessionId(config.getSessionId());
    }
    if (plan != null) {
      b.setPlan(plan.toBuilder().clearTensors());
    }
    return b.build();
  }

  /**
   * The current session as the operator sees it, without what only the coordinator incarnation knows (its
   * counters, the live workers).
   *
   * @param planning the planner is at work: shown as the state PLANNING
   */
  SessionStatus.Builder status(boolean planning) {
    SessionStatus.Builder b = SessionStatus.newBuilder()
        .setState(status == Status.RUNNING && planning ? "PLANNING" : status.name())
        .setUnitsTotal(units.size()).setUnitsPending(pending.size()).setUnitsLeased(leased.size())
        .setUnitsDone(done.size()).setUnitsFolded(folded.size()).setMessage(message);
    if (config != null) {
      b.setSessionId(config.getSessionId());
    }
    if (plan != null) {
      b.setPlan(plan);
    }
    return b.addAllPartitions(partitions).addAllGroups(groups).setSession(counters())
        .setStartedAtMs(startedAtMs).setEndedAtMs(endedAtMs);
  }

  /**
   * The session's counters for its report: shard bytes are the units' value bytes, once per unit counted done;
   * the busiest node's share is the most any merger node received (re-pulls of reopened units included).
   */
  SessionCounters counters() {
    long batches = units.values().stream().filter(u -> u.getPartition() == 0)
        .mapToLong(u -> u.getBatchEnd() - u.getBatchStart()).sum();
    return SessionCounters.newBuilder().setUnits(units.size()).setPartitions(partitions.size())
        .setPasses(partitions.size()).setBatches((int) batches).setShardBytes(shardBytes)
        .setShardBytesMaxNode(nodeBytes.values().stream().mapToLong(Long::longValue).max().orElse(0)).setWorkers(contributors.size())
        .setStatistics(config == null ? StatisticSet.STATISTIC_SET_UNSPECIFIED : config.getStatistics())
        .setInputStatistics(config == null ? io.gaprune.protocol.InputStatistics.INPUT_STATISTICS_NONE
            : config.getInputStatistics()).build();
  }

  boolean allDone() {
    return !units.isEmpty() && done.size() == units.size();
  }

  boolean allFolded() {
    return !units.isEmpty() && folded.containsAll(units.keySet());
  }

  /** The unit ids of each partition in fold order (ids sort by batch start within a partition). */
  Map<Integer, List<String>> unitsByPartition() {
    Map<Integer, List<String>> out = new HashMap<>();
    for (WorkUnit u : units.values()) {
      out.computeIfAbsent(u.getPartition(), k -> new ArrayList<>()).add(u.getUnitId());
    }
    out.values().forEach(l -> l.sort(null));
    return out;
  }
}
