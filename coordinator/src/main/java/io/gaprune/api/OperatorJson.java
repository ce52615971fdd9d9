package io.gaprune.api;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.SessionSummary;
import io.gaprune.protocol.WorkerInfo;
import io.gaprune.session.SessionState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/** The JSON documents of the operator API, built from the coordinator's {@link SessionStatus}. */
final class OperatorJson {
  static final String API = "/api/v1";

  private OperatorJson() {}

  /** A live worker with the id the API uses for it. */
  record Worker(String id, WorkerInfo info) {}

  /**
   * Worker ids for URLs and metric labels: {@code device@host:pid}, which is what an operator sees in
   * {@code ps} and logs. Should two live workers share one (an old incarnation not yet forgotten), each gets
   * a suffix derived from its actor ref, so an id always names exactly one worker.
   */
  static List<Worker> workers(SessionStatus s) {
    Map<String, Integer> count = new HashMap<>();
    for (WorkerInfo w : s.getWorkersList()) {
      count.merge(baseId(w), 1, Integer::sum);
    }
    List<Worker> out = new ArrayList<>();
    for (WorkerInfo w : s.getWorkersList()) {
      String id = baseId(w);
      if (count.get(id) > 1) {
        id += "~" + Integer.toHexString(w.getWorkerRef().hashCode());
      }
      out.add(new Worker(id, w));
    }
    return out;
  }

  private static String baseId(WorkerInfo w) {
    return w.getDevice() + "@" + w.getHost() + ":" + w.getPid();
  }

  /**
   * Where the session stands: idle, statistics (units being computed), merging (all units in, some not yet
   * folded), planning, done, cancelled, failed.
   */
  static String phase(SessionStatus s) {
    return switch (s.getState()) {
      case "RUNNING" -> s.getUnitsDone() < s.getUnitsTotal() ? "statistics"
          : s.getUnitsFolded() < s.getUnitsTotal() ? "merging" : "planning";
      default -> s.getState().toLowerCase(Locale.ROOT);
    };
  }

  static int mergeLag(SessionStatus s) {
    return Math.max(0, s.getUnitsDone() - s.getUnitsFolded());
  }

  static double tripletsPerSecond(SessionStatus s) {
    return s.getWorkersList().stream().mapToDouble(WorkerInfo::getTripletsPerSecond).sum();
  }

  static JsonObject worker(Worker w) {
    WorkerInfo i = w.info();
    JsonObject o = new JsonObject();
    o.addProperty("id", w.id());
    o.addProperty("state", i.getState());
    o.addProperty("device", i.getDevice());
    o.addProperty("host", i.getHost());
    o.addProperty("pid", i.getPid());
    o.addProperty("unit", i.getUnitId());
    o.addProperty("draining", i.getDraining());
    o.addProperty("triplets_per_second", round(i.getTripletsPerSecond()));
    o.addProperty("triplets_done", i.getTripletsDone());
    o.addProperty("ref", i.getWorkerRef());
    o.addProperty("drain", API + "/workers/" + Paths.encode(w.id()) + "/drain");
    return o;
  }

  static JsonObject workers(List<Worker> workers) {
    JsonObject o = new JsonObject();
    JsonArray a = new JsonArray();
    workers.forEach(w -> a.add(worker(w)));
    o.add("workers", a);
    return o;
  }

  /** The current session in full: progress, speed, workers, plan. */
  static JsonObject current(SessionStatus s) {
    JsonObject o = new JsonObject();
    o.addProperty("session_id", s.getSessionId());
    o.addProperty("current", true);
    o.addProperty("state", s.getState());
    o.addProperty("phase", phase(s));
    o.addProperty("units_total", s.getUnitsTotal());
    o.addProperty("units_done", s.getUnitsDone());
    o.addProperty("units_pending", s.getUnitsPending());
    o.addProperty("units_leased", s.getUnitsLeased());
    o.addProperty("units_folded", s.getUnitsFolded());
    o.addProperty("merge_lag_units", mergeLag(s));
    o.addProperty("progress", s.getUnitsTotal() == 0 ? 0.0 : round((double) s.getUnitsDone() / s.getUnitsTotal()));
    o.addProperty("triplets_per_second", round(tripletsPerSecond(s)));
    o.add("started_at", time(s.getStartedAtMs()));
    o.add("ended_at", time(s.getEndedAtMs()));
    o.addProperty("message", s.getMessage());
    o.add("plan", s.hasPlan() ? plan(s.getPlan()) : JsonNull.INSTANCE);
    JsonArray ws = new JsonArray();
    workers(s).forEach(w -> ws.add(worker(w)));
    o.add("workers", ws);
    links(o, s.getSessionId());
    return o;
  }

  /** An earlier session as the journal recorded it (no live workers, no unit detail). */
  static JsonObject earlier(SessionSummary s) {
    JsonObject o = new JsonObject();
    o.addProperty("session_id", s.getSessionId());
    o.addProperty("current", false);
    o.addProperty("state", s.getState());
    o.addProperty("phase", s.getState().toLowerCase(Locale.ROOT));
    o.addProperty("units_total", s.getUnitsTotal());
    o.addProperty("units_done", s.getUnitsDone());
    o.addProperty("progress", s.getUnitsTotal() == 0 ? 0.0 : round((double) s.getUnitsDone() / s.getUnitsTotal()));
    o.add("started_at", time(s.getStartedAtMs()));
    o.add("ended_at", time(s.getEndedAtMs()));
    o.addProperty("message", s.getMessage());
    o.add("plan", s.hasPlan() ? plan(s.getPlan()) : JsonNull.INSTANCE);
    o.add("workers", new JsonArray());
    links(o, s.getSessionId());
    return o;
  }

  /** {@code GET /api/v1/sessions}: the current session first, then the earlier ones, newest first. */
  static JsonObject list(SessionStatus s) {
    JsonObject o = new JsonObject();
    o.addProperty("one_session_at_a_time", true);
    o.addProperty("note", "The coordinator runs one session at a time. \"current\" is the session it holds now"
        + " (running or last finished); the others are the earlier sessions its journal records (the latest "
        + SessionState.HISTORY_LIMIT + ").");
    boolean hasCurrent = !s.getSessionId().isEmpty();
    o.add("current", hasCurrent ? new JsonPrimitive(s.getSessionId()) : JsonNull.INSTANCE);
    JsonArray a = new JsonArray();
    if (hasCurrent) {
      JsonObject c = current(s);
      c.remove("workers");
      a.add(c);
    }
    for (int i = s.getHistoryCount() - 1; i >= 0; i--) {
      JsonObject e = earlier(s.getHistory(i));
      e.remove("workers");
      a.add(e);
    }
    o.add("sessions", a);
    return o;
  }

  /** The session named {@code id}: the current one, else the latest earlier one of that id. */
  static Optional<JsonObject> session(SessionStatus s, String id) {
    if (!s.getSessionId().isEmpty() && s.getSessionId().equals(id)) {
      return Optional.of(current(s));
    }
    return earlierSummary(s, id).map(OperatorJson::earlier);
  }

  static Optional<SessionSummary> earlierSummary(SessionStatus s, String id) {
    for (int i = s.getHistoryCount() - 1; i >= 0; i--) {
      if (s.getHistory(i).getSessionId().equals(id)) {
        return Optional.of(s.getHistory(i));
      }
    }
    return Optional.empty();
  }

  static JsonObject plan(MaskPlan p) {
    JsonObject o = new JsonObject();
    o.addProperty("sparsity", p.getSparsity());
    o.addProperty("candidate_weights", p.getCandidateWeights());
    o.addProperty("pruned_weights", p.getPrunedWeights());
    o.addProperty("masks_path", p.getMasksPath());
    o.addProperty("masks_sha256", p.getMasksSha256());
    if (!p.getWeightsPath().isEmpty()) {
      o.addProperty("weights_path", p.getWeightsPath());
      o.addProperty("weights_sha256", p.getWeightsSha256());
    }
    return o;
  }

  static JsonObject error(String message) {
    JsonObject o = new JsonObject();
    o.addProperty("error", message);
    return o;
  }

  private static void links(JsonObject o, String id) {
    JsonObject l = new JsonObject();
    String base = API + "/sessions/" + Paths.encode(id);
    l.addProperty("self", base);
    l.addProperty("cancel", base + "/cancel");
    l.addProperty("report", base + "/report");
    o.add("links", l);
  }

  private static JsonElement time(long ms) {
    return ms <= 0 ? JsonNull.INSTANCE : new JsonPrimitive(Instant.ofEpochMilli(ms).toString());
  }

  /** Rates to three decimals: more digits would only show noise. */
  private static double round(double v) {
    return Math.round(v * 1000.0) / 1000.0;
  }
}
