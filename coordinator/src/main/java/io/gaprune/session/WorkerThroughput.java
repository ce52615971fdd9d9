package io.gaprune.session;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * Triplets per second of each worker, for the operator API and the metrics. A worker's count only grows:
 * batches it reports through {@code Progress} while computing, topped up to the exact sample counts of its
 * {@code UnitResult}. The rate is the growth over the last {@link #WINDOW_MS}, measured up to now, so a
 * worker that stops reporting decays to zero instead of showing its last speed forever.
 *
 * <p>Kept by the coordinator actor only (not thread-safe) and deliberately not persisted: it describes
 * processes that may be gone after a restart, like the coordinator's other volatile knowledge.
 */
final class WorkerThroughput {
  static final long WINDOW_MS = 30_000;

  private record Sample(long atMs, long triplets) {}

  private static final class Track {
    long total;
    String unit = "";
    long inUnit;
    String lastCompleted = "";
    final Deque<Sample> samples = new ArrayDeque<>();
  }

  private final Map<String, Track> byWorker = new HashMap<>();

  /** The worker has computed {@code tripletsInUnit} triplets of {@code unit} so far. */
  void progress(String worker, String unit, long tripletsInUnit, long nowMs) {
    Track t = byWorker.computeIfAbsent(worker, w -> new Track());
    if (!unit.equals(t.unit)) {
      // A new unit (the previous one finished, failed or was taken away): its work so far is counted.
      t.unit = unit;
      t.inUnit = 0;
    }
    if (tripletsInUnit > t.inUnit) {
      t.total += tripletsInUnit - t.inUnit;
      t.inUnit = tripletsInUnit;
    }
    sample(t, nowMs);
  }

  /** The worker offered the result of {@code unit}: {@code triplets} exactly. A re-offer counts nothing. */
  void completed(String worker, String unit, long triplets, long nowMs) {
    Track t = byWorker.computeIfAbsent(worker, w -> new Track());
    if (unit.equals(t.lastCompleted)) {
      return;
    }
    t.lastCompleted = unit;
    long already = unit.equals(t.unit) ? t.inUnit : 0;
    t.total += Math.max(0, triplets - already);
    t.unit = "";
    t.inUnit = 0;
    sample(t, nowMs);
  }

  /** Triplets per second over the last window, measured to {@code nowMs}; 0 for an unknown worker. */
  double rate(String worker, long nowMs) {
    Track t = byWorker.get(worker);
    if (t == null || t.samples.isEmpty()) {
      return 0;
    }
    prune(t, nowMs);
    Sample base = t.samples.peekFirst();
    Sample last = t.samples.peekLast();
    long span = nowMs - base.atMs();
    // Below a second the quotient is noise (one progress report right after the lease).
    return span < 1000 ? 0 : (last.triplets() - base.triplets()) * 1000.0 / span;
  }

  long total(String worker) {
    Track t = byWorker.get(worker);
    return t == null ? 0 : t.total;
  }

  void forget(String worker) {
    byWorker.remove(worker);
  }

  private static void sample(Track t, long nowMs) {
    t.samples.addLast(new Sample(nowMs, t.total));
    prune(t, nowMs);
  }

  /** Drops samples older than the window but keeps the newest of those as the baseline of the window. */
  private static void prune(Track t, long nowMs) {
    while (t.samples.size() > 1) {
      var it = t.samples.iterator();
      it.next();
      Sample second = it.next();
      if (second.atMs() <= nowMs - WINDOW_MS) {
        t.samples.removeFirst();
      } else {
        break;
      }
    }
  }
}
