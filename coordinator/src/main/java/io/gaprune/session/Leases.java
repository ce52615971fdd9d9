package io.gaprune.session;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Which leases go back to the queue: those silent too long (by clocks this incarnation keeps), and those of a
 * worker or node that left. The clocks are not persisted, they are about processes that may be gone: after a
 * restart every lease's clock starts anew, so live workers can report in. A unit whose shards are merging is
 * never taken back: its worker has finished and the merger groups are pulling.
 */
final class Leases {
  /** A lease silent too long: released, its unit back to the queue. */
  record Silent(String unitId, SessionState.LeaseInfo lease, long silentMs) {}

  /** What a worker asking for work gets. */
  sealed interface Offer {}

  /** No unit: the reason, and whether the worker is to drain rather than ask again later. */
  record NoUnit(String reason, boolean drain) implements Offer {}

  /** The lease the worker holds already (a lost {@code Lease} message must not strand a unit). */
  record Again(String unitId, SessionState.LeaseInfo lease) implements Offer {}

  /** A new lease of the first pending unit. */
  record Next(String unitId) implements Offer {}

  /** A unit's failure on a worker: its lease goes back, and the third failure of one unit fails the session. */
  record Failure(String unitId, SessionState.LeaseInfo lease, int times) {
    static final int FATAL = 3;

    boolean fatal() {
      return times >= FATAL;
    }
  }

  /** When each leased unit was last heard of (lease, progress, result). */
  private final Map<String, Long> lastHeard = new HashMap<>();
  /** How often each unit failed on a worker in this session. */
  private final Map<String, Integer> failures = new HashMap<>();

  void heard(String unitId, long now) {
    lastHeard.put(unitId, now);
  }

  void heardAll(Collection<String> unitIds, long now) {
    unitIds.forEach(u -> lastHeard.put(u, now));
  }

  void clear() {
    lastHeard.clear();
    failures.clear();
  }

  /**
   * What {@code worker} gets when it asks for work.
   *
   * @param known the worker is registered in the journal and live in this incarnation
   * @param draining the operator asked it to drain
   * @param merging units whose shards are merging: not handed out again
   */
  static Offer offer(SessionState s, String worker, boolean known, boolean draining, Set<String> merging) {
    if (!known) {
      return new NoUnit("register first", false);
    }
    if (draining) {
      return new NoUnit("drain requested", true);
    }
    if (s.status != SessionState.Status.RUNNING) {
      return new NoUnit("no running session", false);
    }
    var held = heldBy(s, worker::equals, merging).entrySet().stream().findFirst();
    if (held.isPresent()) {
      return new Again(held.get().getKey(), held.get().getValue());
    }
    return s.pending.isEmpty() ? new NoUnit("all units leased or done", false) : new Next(s.pending.first());
  }

  /** Counts a unit's failure on a worker; empty when the unit is not leased (an answer to a lease gone). */
  Optional<Failure> failed(SessionState s, String unitId) {
    var lease = s.leased.get(unitId);
    if (lease == null || s.status != SessionState.Status.RUNNING) {
      return Optional.empty();
    }
    return Optional.of(new Failure(unitId, lease, failures.merge(unitId, 1, Integer::sum)));
  }

  /**
   * The leases silent for longer than {@code timeoutMs}, their clocks forgotten. A lease without a clock (leased
   * before this incarnation, never heard of since) starts its clock now.
   */
  List<Silent> expired(SessionState s, Set<String> merging, long now, long timeoutMs) {
    List<Silent> out = new ArrayList<>();
    for (var e : s.leased.entrySet()) {
      if (merging.contains(e.getKey())) {
        continue; // its shards are streaming in right now
      }
      long heard = lastHeard.getOrDefault(e.getKey(), now);
      lastHeard.putIfAbsent(e.getKey(), now);
      if (now - heard > timeoutMs) {
        out.add(new Silent(e.getKey(), e.getValue(), now - heard));
        lastHeard.remove(e.getKey());
      }
    }
    return out;
  }

  /** The leases of the workers {@code worker} accepts, in lease order, except units whose shards are merging. */
  static Map<String, SessionState.LeaseInfo> heldBy(SessionState s, Predicate<String> worker, Set<String> merging) {
    Map<String, SessionState.LeaseInfo> out = new LinkedHashMap<>();
    s.leased.forEach((unitId, lease) -> {
      if (worker.test(lease.workerRef()) && !merging.contains(unitId)) {
        out.put(unitId, lease);
      }
    });
    return out;
  }
}
