package io.gaprune.session;

import io.gaprune.protocol.WorkerInfo;
import io.gaprune.protocol.WorkerRegistered;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The workers this coordinator incarnation hears from: device, last word, draining, and their throughput. Not
 * persisted (it describes processes that may be gone): after a restart workers re-register and this fills
 * again. The journal's {@code WorkerRegistered} events are the durable record of who ever worked.
 */
final class LiveWorkers {
  private record Worker(String device, long lastSeenMs, boolean draining) {}

  private final Map<String, Worker> workers = new LinkedHashMap<>();
  private final WorkerThroughput throughput = new WorkerThroughput();

  void register(String ref, String device, long now) {
    workers.put(ref, new Worker(device, now, false));
  }

  boolean contains(String ref) {
    return workers.containsKey(ref);
  }

  boolean draining(String ref) {
    var w = workers.get(ref);
    return w != null && w.draining();
  }

  /** The worker's device, or its ref when it is not known (any more). */
  String device(String ref) {
    var w = workers.get(ref);
    return w == null ? ref : w.device();
  }

  void seen(String ref, long now) {
    workers.computeIfPresent(ref, (k, w) -> new Worker(w.device(), now, w.draining()));
  }

  void progress(String ref, String unitId, long triplets, long now) {
    throughput.progress(ref, unitId, triplets, now);
  }

  void completed(String ref, String unitId, long triplets, long now) {
    throughput.completed(ref, unitId, triplets, now);
  }

  void remove(String ref) {
    workers.remove(ref);
    throughput.forget(ref);
  }

  /**
   * Marks as draining the workers whose ref is {@code fragment} or whose {@code device@host:pid} contains it.
   *
   * @param describe a worker's {@code host:pid} (from the journal's registration)
   * @return the refs marked
   */
  List<String> drain(String fragment, java.util.function.Function<String, String> describe) {
    var matched = new ArrayList<String>();
    for (var e : workers.entrySet()) {
      String desc = e.getValue().device() + "@" + describe.apply(e.getKey());
      if (e.getKey().equals(fragment) || desc.contains(fragment)) {
        matched.add(e.getKey());
      }
    }
    matched.forEach(ref -> workers.computeIfPresent(ref, (k, w) -> new Worker(w.device(), w.lastSeenMs(), true)));
    return matched;
  }

  /** Forgets workers silent for longer than {@code silenceMs}. */
  void forgetSilent(long now, long silenceMs) {
    workers.keySet().removeIf(ref -> {
      boolean stale = now - workers.get(ref).lastSeenMs() > silenceMs;
      if (stale) {
        throughput.forget(ref);
      }
      return stale;
    });
  }

  /** Forgets the workers of a node that left the cluster (their refs start with its address). */
  void forgetNode(String addressPrefix) {
    workers.keySet().removeIf(ref -> {
      boolean gone = ref.startsWith(addressPrefix);
      if (gone) {
        throughput.forget(ref);
      }
      return gone;
    });
  }

  /** One row per live worker for the operator: its unit and state (idle, computing, streaming, draining). */
  List<WorkerInfo> infos(SessionState s, Set<String> streaming, long now) {
    var out = new ArrayList<WorkerInfo>();
    for (var e : workers.entrySet()) {
      String unit = s.leased.entrySet().stream().filter(l -> l.getValue().workerRef().equals(e.getKey()))
          .map(Map.Entry::getKey).findFirst().orElse("");
      WorkerRegistered reg = s.workers.get(e.getKey());
      String state = e.getValue().draining() ? "draining"
          : unit.isEmpty() ? "idle" : streaming.contains(unit) ? "streaming" : "computing";
      out.add(WorkerInfo.newBuilder().setWorkerRef(e.getKey()).setDevice(e.getValue().device())
          .setHost(reg == null ? "" : reg.getHost()).setPid(reg == null ? 0 : reg.getPid())
          .setUnitId(unit).setDraining(e.getValue().draining()).setState(state)
          .setTripletsPerSecond(throughput.rate(e.getKey(), now)).setTripletsDone(throughput.total(e.getKey()))
          .build());
    }
    return out;
  }
}
