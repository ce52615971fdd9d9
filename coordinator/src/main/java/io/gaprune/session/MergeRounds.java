package io.gaprune.session;

import io.gaprune.protocol.MergerStaged;
import io.gaprune.protocol.NodeBytes;
import io.gaprune.protocol.UnitCompleted;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The units whose shards the merger groups are pulling right now, one round per unit: the workers waiting for
 * the answer, the groups that hold the unit durably already, since when, and the bytes offered. A unit counts
 * done only once every group of its partition has staged it; this class decides that, the coordinator persists
 * it. Not persisted (a round is about processes that may be gone): after a restart the worker offers again.
 */
final class MergeRounds {
  private static final class Round {
    final List<String> waiting = new ArrayList<>();
    /** Group index → its staged answer. */
    final Map<Integer, MergerStaged> staged = new HashMap<>();
    final long sinceMs;
    final long bytes;

    Round(String worker, long sinceMs, long bytes) {
      this.waiting.add(worker);
      this.sinceMs = sinceMs;
      this.bytes = bytes;
    }
  }

  /** What one group's stage answer decided. */
  sealed interface Answer {}

  /** No round waits for it: an answer to an earlier round (given up, or the session changed). */
  record Stale() implements Answer {}

  /** The group could not stage the unit: the round is over, its workers must offer the unit again. */
  record Failed(List<String> waiting) implements Answer {}

  /** Other groups of the partition have not answered yet. */
  record Pending() implements Answer {}

  /**
   * Every group of the partition holds the unit: the round is over.
   *
   * @param bytes the value bytes the worker offered
   * @param nodeBytes what each owner node pulled, by its address
   */
  record Everywhere(String unitId, List<String> waiting, long bytes, Map<String, Long> nodeBytes) implements Answer {
    /** The event that counts the unit done, in the name of the first worker that offered it. */
    UnitCompleted completed() {
      UnitCompleted.Builder b = UnitCompleted.newBuilder().setUnitId(unitId).setWorkerRef(waiting.get(0)).setBytes(bytes);
      nodeBytes.forEach((node, n) -> b.addNodeBytes(NodeBytes.newBuilder().setNode(node).setBytes(n)));
      return b.build();
    }
  }

  private final Map<String, Round> rounds = new HashMap<>();

  boolean contains(String unitId) {
    return rounds.containsKey(unitId);
  }

  Set<String> units() {
    return rounds.keySet();
  }

  /**
   * A worker offers a unit whose round is in flight (a retry, or a second worker computed it): it waits for that
   * round's answer instead of starting another pull.
   *
   * @return whether a round was in flight
   */
  boolean join(String unitId, String worker) {
    Round round = rounds.get(unitId);
    if (round == null) {
      return false;
    }
    if (!round.waiting.contains(worker)) {
      round.waiting.add(worker);
    }
    return true;
  }

  void open(String unitId, String worker, long bytes, long now) {
    rounds.put(unitId, new Round(worker, now, bytes));
  }

  /**
   * One group's answer to a stage.
   *
   * @param groups how many merger groups the unit's partition has
   */
  Answer staged(MergerStaged answer, int groups) {
    String unitId = answer.getUnitId();
    Round round = rounds.get(unitId);
    if (round == null) {
      return new Stale();
    }
    if (!answer.getError().isEmpty()) {
      rounds.remove(unitId);
      return new Failed(round.waiting);
    }
    round.staged.put(answer.getGroup(), answer);
    if (round.staged.size() < groups) {
      return new Pending();
    }
    rounds.remove(unitId);
    Map<String, Long> nodeBytes = new TreeMap<>();
    round.staged.values().forEach(g -> nodeBytes.merge(g.getNode(), g.getBytes(), Long::sum));
    return new Everywhere(unitId, round.waiting, round.bytes, nodeBytes);
  }

  /**
   * Ends the rounds open longer than {@code patienceMs}: a group that never answers (its node died mid-pull)
   * would hold the unit forever, while a live owner answers within its stream's idle timeout.
   *
   * @return each unit given up → the workers that waited for it
   */
  Map<String, List<String>> giveUpOlderThan(long now, long patienceMs) {
    Map<String, List<String>> out = new HashMap<>();
    for (String unitId : List.copyOf(rounds.keySet())) {
      if (now - rounds.get(unitId).sinceMs > patienceMs) {
        out.put(unitId, rounds.remove(unitId).waiting);
      }
    }
    return out;
  }

  /** Ends every round (a node that may own groups was removed: its pulls never answer). */
  Map<String, List<String>> giveUpAll() {
    Map<String, List<String>> out = new HashMap<>();
    rounds.forEach((unitId, round) -> out.put(unitId, round.waiting));
    rounds.clear();
    return out;
  }

  void clear() {
    rounds.clear();
  }
}
