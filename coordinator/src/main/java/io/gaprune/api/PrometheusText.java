package io.gaprune.api;

import io.gaprune.protocol.OperatorCounters;
import io.gaprune.protocol.SessionStatus;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code GET /metrics} in the Prometheus text exposition format 0.0.4, written by hand (a dozen families
 * need no client library): per family a HELP and a TYPE line, then its samples. Everything comes from one
 * status of the coordinator, so the numbers of one scrape are consistent with each other.
 */
final class PrometheusText {
  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
  /** Every state a worker can be in, so each scrape has all four series (an absent series is not a zero). */
  static final List<String> WORKER_STATES = List.of("idle", "computing", "streaming", "draining");

  private final StringBuilder out = new StringBuilder();

  private PrometheusText() {}

  static String render(SessionStatus s) {
    PrometheusText p = new PrometheusText();
    String session = s.getSessionId();
    OperatorCounters c = s.getCounters();
    p.family("gaprune_session_info", "gauge",
        "The coordinator's current session (1); its state and phase as labels.")
        .sample("gaprune_session_info", labels("session", session, "state", s.getState(), "phase",
            OperatorJson.phase(s)), 1);
    p.family("gaprune_units_total", "gauge", "Work units of the current session.")
        .sample("gaprune_units_total", labels("session", session), s.getUnitsTotal());
    p.family("gaprune_units_done_total", "counter",
        "Units of the current session whose shards are durable on the coordinator (restarts at 0 with a new session).")
        .sample("gaprune_units_done_total", labels("session", session), s.getUnitsDone());
    p.family("gaprune_units_folded_total", "counter",
        "Units of the current session folded into their partition's accumulator.")
        .sample("gaprune_units_folded_total", labels("session", session), s.getUnitsFolded());
    p.family("gaprune_units_leased", "gauge", "Units of the current session leased to a worker now.")
        .sample("gaprune_units_leased", labels("session", session), s.getUnitsLeased());
    p.family("gaprune_merge_lag_units", "gauge", "Units received (durable) but not yet folded into an accumulator.")
        .sample("gaprune_merge_lag_units", labels("session", session), OperatorJson.mergeLag(s));
    Map<String, Integer> byState = new LinkedHashMap<>();
    WORKER_STATES.forEach(st -> byState.put(st, 0));
    s.getWorkersList().forEach(w -> byState.merge(w.getState(), 1, Integer::sum));
    p.family("gaprune_workers", "gauge", "Live workers registered with the coordinator, by state.");
    byState.forEach((st, n) -> p.sample("gaprune_workers", labels("state", st), n));
    var workers = OperatorJson.workers(s);
    p.family("gaprune_worker_triplets_per_second", "gauge",
        "Triplets (general + domain) through forward and backward per second, per worker, over the last 30 s.");
    workers.forEach(w -> p.sample("gaprune_worker_triplets_per_second", labels("worker", w.id()),
        w.info().getTripletsPerSecond()));
    p.family("gaprune_worker_triplets_total", "counter",
        "Triplets a worker computed since this coordinator incarnation first heard of it.");
    workers.forEach(w -> p.sample("gaprune_worker_triplets_total", labels("worker", w.id()),
        w.info().getTripletsDone()));
    p.family("gaprune_shard_bytes_total", "counter",
        "Bytes of statistics shards staged durably by the coordinator (since its incarnation started).")
        .sample("gaprune_shard_bytes_total", "", c.getShardBytes());
    p.family("gaprune_unit_failures_total", "counter",
        "Units a worker reported failed or whose shards could not be staged (since the incarnation started).")
        .sample("gaprune_unit_failures_total", "", c.getUnitFailures());
    p.family("gaprune_lease_expirations_total", "counter",
        "Leases released because their worker went silent or its node left (since the incarnation started).")
        .sample("gaprune_lease_expirations_total", "", c.getLeaseExpirations());
    p.family("gaprune_sessions_started_total", "counter", "Sessions started, as recorded in the coordinator's journal.")
        .sample("gaprune_sessions_started_total", "", c.getSessionsStarted());
    return p.out.toString();
  }

  private PrometheusText family(String name, String type, String help) {
    out.append("# HELP ").append(name).append(' ')
        .append(help.replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    return this;
  }

  private PrometheusText sample(String name, String labels, double value) {
    out.append(name).append(labels).append(' ').append(number(value)).append('\n');
    return this;
  }

  /** {@code {k="v",...}} with the format's escapes for backslash, double quote and newline. */
  static String labels(String... kv) {
    StringBuilder b = new StringBuilder("{");
    for (int i = 0; i < kv.length; i += 2) {
      if (i > 0) {
        b.append(',');
      }
      b.append(kv[i]).append("=\"")
          .append(kv[i + 1].replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")).append('"');
    }
    return b.append('}').toString();
  }

  static String number(double v) {
    if (Double.isNaN(v)) {
      return "NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+Inf" : "-Inf";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    return Double.toString(v);
  }
}
