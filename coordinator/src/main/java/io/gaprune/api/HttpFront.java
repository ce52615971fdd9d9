package io.gaprune.api;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.typesafe.config.Config;
import io.gaprune.protocol.CancelSession;
import io.gaprune.protocol.CommandReply;
import io.gaprune.protocol.DrainWorker;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.StartSession;
import io.gaprune.ops.OperatorAccess;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's operator API (docs/operator-api.md): versioned JSON under {@code /api/v1}, plus
 * {@code /health} and {@code /metrics}. A JDK {@link HttpServer}, no extra dependency; every request is
 * answered from the session coordinator singleton, wherever in the cluster it runs.
 *
 * <p>Security: bound to loopback unless configured otherwise, and then only with a token
 * ({@link HttpSettings#check()}); with a token every endpoint except {@code /health} needs
 * {@code Authorization: Bearer TOKEN}. Bodies are capped ({@code gaprune.http.max-body}).
 *
 * <p>The pre-1.0 paths {@code /session/start|status|drain|cancel} are gone: the CLI and the tests use
 * {@code /api/v1} (docs/operator-api.md lists the mapping).
 */
public final class HttpFront implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HttpFront.class);
  private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();
  private static final String SESSIONS = OperatorJson.API + "/sessions";
  /** The files a finished session's report may hand out, by the names they have in its masks directory. */
  private static final Map<String, String> REPORT_FILES = Map.of(
      "plan.json", "application/json", "masks.safetensors", "application/octet-stream");

  private final HttpServer server;
  private final ExecutorService executor;
  private final HttpSettings settings;
  private final CoordinatorClient coordinator;
  private final Config config;

  /** What a route answers: JSON, text, or a file streamed from disk. */
  private sealed interface Response permits Json, Text, FileBody {}

  private record Json(int status, JsonElement body, Map<String, String> headers) implements Response {
    Json(int status, JsonElement body) {
      this(status, body, Map.of());
    }
  }

  private record Text(int status, String contentType, String body) implements Response {}

  private record FileBody(Path file, String contentType, Map<String, String> headers) implements Response {}

  private HttpFront(HttpServer server, ExecutorService executor, HttpSettings settings, CoordinatorClient coordinator,
      Config config) {
    this.server = server;
    this.executor = executor;
    this.settings = settings;
    this.coordinator = coordinator;
    this.config = config;
  }

  /**
   * Starts the API on {@code settings}' address; {@code config} gives the session defaults
   * ({@code gaprune.model}, {@code gaprune.session.*}) for starts that leave fields out.
   */
  public static HttpFront start(ActorSystem<?> system, HttpSettings settings, Config config) throws IOException {
    settings.check();
    HttpServer server = HttpServer.create(new InetSocketAddress(settings.hostname(), settings.port()), 32);
    // Requests block while the coordinator answers; a few threads keep /health answering meanwhile.
    ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "gaprune-http");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    HttpFront front = new HttpFront(server, executor, settings, new CoordinatorClient(system), config);
    server.createContext("/", front::handle);
    server.start();
    log.info("operator API on http://{}:{}{} ({})", settings.hostname(), front.port(), OperatorJson.API,
        settings.tokenRequired() ? "bearer token required" : "no token: loopback only");
    return front;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private void handle(HttpExchange ex) {
    try (ex) {
      Response response;
      try {
        response = answer(ex);
      } catch (ApiException e) {
        if (e.status >= 500) {
          log.warn("{} {}: {} {}", ex.getRequestMethod(), ex.getRequestURI().getRawPath(), e.status, e.getMessage());
        }
        response = new Json(e.status, OperatorJson.error(e.getMessage()),
            e.allow == null ? Map.of() : Map.of("Allow", e.allow));
      } catch (RuntimeException e) {
        log.error("{} {} failed", ex.getRequestMethod(), ex.getRequestURI().getRawPath(), e);
        response = new Json(500, OperatorJson.error("internal error: " + e));
      }
      send(ex, response);
    } catch (IOException e) {
      log.debug("could not answer {} {}: {}", ex.getRequestMethod(), ex.getRequestURI(), e.toString());
    }
  }

  private Response answer(HttpExchange ex) throws IOException {
    String method = ex.getRequestMethod();
    String raw = ex.getRequestURI().getRawPath();
    List<String> p = Paths.segments(raw);
    if (p.equals(List.of("health"))) {
      allow(method, raw, "GET");
      return health();
    }
    authorize(ex);
    String body = readBody(ex);
    if (p.equals(List.of("metrics"))) {
      allow(method, raw, "GET");
      return new Text(200, PrometheusText.CONTENT_TYPE,
          PrometheusText.render(coordinator.status(false, settings.askTimeout())));
    }
    if (p.size() < 3 || !p.get(0).equals("api") || !p.get(1).equals("v1")) {
      throw notFound(method, raw);
    }
    String resource = p.get(2);
    List<String> rest = p.subList(3, p.size());
    if (resource.equals("sessions")) {
      if (rest.isEmpty()) {
        allow(method, raw, "GET, POST");
        return method.equals("GET") ? listSessions() : startSession(body);
      }
      String id = rest.get(0);
      if (rest.size() == 1) {
        allow(method, raw, "GET");
        return getSession(id);
      }
      if (rest.size() == 2 && rest.get(1).equals("cancel")) {
        allow(method, raw, "POST");
        return cancel(id);
      }
      if (rest.size() == 2 && rest.get(1).equals("report")) {
        allow(method, raw, "GET");
        return report(id, Paths.query(ex.getRequestURI().getRawQuery()).get("file"));
      }
    } else if (resource.equals("workers")) {
      if (rest.isEmpty()) {
        allow(method, raw, "GET");
        return new Json(200, OperatorJson.workers(OperatorJson.workers(coordinator.status(false, settings.askTimeout()))));
      }
      if (rest.size() == 2 && rest.get(1).equals("drain")) {
        allow(method, raw, "POST");
        return drain(rest.get(0));
      }
    }
    throw notFound(method, raw);
  }

  // ------------------------------------------------------------------ endpoints

  private Response health() {
    JsonObject o = new JsonObject();
    try {
      SessionStatus s = coordinator.status(false, settings.healthTimeout());
      o.addProperty("status", "ok");
      o.addProperty("coordinator", "reachable");
      o.addProperty("session", s.getSessionId());
      o.addProperty("state", s.getState());
      o.addProperty("workers", s.getWorkersCount());
      return new Json(200, o);
    } catch (ApiException e) {
      o.addProperty("status", "unavailable");
      o.addProperty("error", e.getMessage());
      return new Json(503, o);
    }
  }

  private Response listSessions() {
    return new Json(200, OperatorJson.list(coordinator.status(true, settings.askTimeout())));
  }

  private Response startSession(String body) {
    SessionConfig session = SessionRequest.parse(body, config);
    CommandReply r = coordinator.ask(rt -> StartSession.newBuilder().setConfig(session).setReplyTo(rt).build(),
        settings.askTimeout());
    refuseUnlessOk(r);
    String id = r.getStatus().getSessionId();
    return new Json(201, command(r.getMessage(), "session", OperatorJson.current(r.getStatus())),
        Map.of("Location", SESSIONS + "/" + Paths.encode(id)));
  }

  private Response getSession(String id) {
    SessionStatus s = coordinator.status(true, settings.askTimeout());
    return new Json(200, OperatorJson.session(s, id).orElseThrow(() -> unknownSession(id, s)));
  }

  private Response cancel(String id) {
    SessionStatus s = coordinator.status(true, settings.askTimeout());
    if (!id.equals(s.getSessionId())) {
      var earlier = OperatorJson.earlierSummary(s, id);
      if (earlier.isPresent()) {
        throw new ApiException(409, "session " + id + " already ended " + earlier.get().getState());
      }
      throw unknownSession(id, s);
    }
    CommandReply r = coordinator.ask(rt -> CancelSession.newBuilder().setSessionId(id).setReplyTo(rt).build(),
        settings.askTimeout());
    refuseUnlessOk(r);
    return new Json(200, command(r.getMessage(), "session", OperatorJson.current(r.getStatus())));
  }

  private Response drain(String id) {
    var workers = OperatorJson.workers(coordinator.status(false, settings.askTimeout()));
    var worker = workers.stream().filter(w -> w.id().equals(id)).findFirst()
        .orElseThrow(() -> ApiException.notFound("no live worker \"" + id + "\"; live workers: "
            + workers.stream().map(OperatorJson.Worker::id).toList()));
    // The exact actor ref, so the coordinator's fragment matching can never catch a second worker.
    CommandReply r = coordinator.ask(rt -> DrainWorker.newBuilder().setWorker(worker.info().getWorkerRef())
        .setReplyTo(rt).build(), settings.askTimeout());
    refuseUnlessOk(r);
    // 202: the worker finishes its current unit first, then leaves the cluster.
    return new Json(202, command("draining " + id + ": it finishes its current unit, then leaves", "worker",
        OperatorJson.worker(worker)));
  }

  private Response report(String id, String file) throws IOException {
    SessionStatus s = coordinator.status(true, settings.askTimeout());
    String state;
    MaskPlan plan;
    if (id.equals(s.getSessionId())) {
      state = s.getState();
      plan = s.hasPlan() ? s.getPlan() : null;
      if (state.equals("CANCELLED") || state.equals("FAILED")) {
        throw ApiException.notFound("session " + id + " ended " + state + " (" + s.getMessage()
            + "): only a DONE session has a report");
      }
      if (!state.equals("DONE")) {
        throw ApiException.notFound("session " + id + " is " + state + " (phase " + OperatorJson.phase(s) + ", "
            + s.getUnitsDone() + "/" + s.getUnitsTotal() + " units done): its report exists once it is DONE");
      }
    } else {
      var earlier = OperatorJson.earlierSummary(s, id).orElseThrow(() -> unknownSession(id, s));
      state = earlier.getState();
      plan = earlier.hasPlan() ? earlier.getPlan() : null;
      if (!state.equals("DONE")) {
        throw ApiException.notFound("session " + id + " ended " + state + " (" + earlier.getMessage()
            + "): only a DONE session has a report");
      }
    }
    if (plan == null || plan.getMasksPath().isEmpty()) {
      throw ApiException.notFound("session " + id + " is DONE but recorded no plan");
    }
    Path dir = Path.of(plan.getMasksPath()).getParent();
    if (file != null) {
      String type = REPORT_FILES.get(file);
      if (type == null) {
        throw ApiException.badRequest("file must be one of " + REPORT_FILES.keySet().stream().sorted().toList());
      }
      Path f = dir.resolve(file);
      requireOnThisNode(id, f);
      return new FileBody(f, type, Map.of("Content-Disposition", "attachment; filename=\"" + id + "-" + file + "\"",
          "X-Gaprune-Masks-SHA256", plan.getMasksSha256()));
    }
    Path planJson = dir.resolve("plan.json");
    requireOnThisNode(id, planJson);
    JsonObject o = new JsonObject();
    o.addProperty("session_id", id);
    o.addProperty("state", state);
    o.add("plan", OperatorJson.plan(plan));
    o.add("report", JsonParser.parseString(Files.readString(planJson, StandardCharsets.UTF_8)));
    JsonObject files = new JsonObject();
    REPORT_FILES.keySet().stream().sorted().forEach(name ->
        files.addProperty(name, SESSIONS + "/" + Paths.encode(id) + "/report?file=" + name));
    o.add("files", files);
    return new Json(200, o);
  }

  // ------------------------------------------------------------------ helpers

  private void authorize(HttpExchange ex) {
    if (!settings.tokenRequired()) {
      return;
    }
    String header = ex.getRequestHeaders().getFirst("Authorization");
    String presented = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).strip() : null;
    if (!OperatorAccess.matches(settings.token(), presented)) {
      ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"gaprune\"");
      throw new ApiException(401, header == null ? "missing Authorization: Bearer token (gaprune.http.token is set)"
          : "wrong token");
    }
  }

  private String readBody(HttpExchange ex) throws IOException {
    String length = ex.getRequestHeaders().getFirst("Content-Length");
    if (length != null) {
      try {
        if (Long.parseLong(length.strip()) > settings.maxBody()) {
          throw tooLarge();
        }
      } catch (NumberFormatException e) {
        throw ApiException.badRequest("bad Content-Length: " + length);
      }
    }
    byte[] b = ex.getRequestBody().readNBytes(settings.maxBody() + 1);
    if (b.length > settings.maxBody()) {
      throw tooLarge();
    }
    return new String(b, StandardCharsets.UTF_8);
  }

  private ApiException tooLarge() {
    return new ApiException(413, "request body larger than " + settings.maxBody() + " bytes (gaprune.http.max-body)");
  }

  private static void allow(String method, String path, String allowed) {
    if (!List.of(allowed.split(", ")).contains(method)) {
      throw ApiException.methodNotAllowed(method, path, allowed);
    }
  }

  private static ApiException notFound(String method, String path) {
    return ApiException.notFound("no such endpoint: " + method + " " + path + " (see docs/operator-api.md)");
  }

  private static ApiException unknownSession(String id, SessionStatus s) {
    return ApiException.notFound("no session \"" + id + "\" known to the coordinator"
        + (s.getSessionId().isEmpty() ? " (it has run none yet)" : "; GET " + SESSIONS + " lists them"));
  }

  private static void requireOnThisNode(String id, Path f) {
    if (!Files.isRegularFile(f)) {
      throw ApiException.notFound("the report of session " + id + " is not on this node's disk (" + f
          + "); it lies where the session coordinator planned it");
    }
  }

  /** A refused command as its status: 409 conflict, 400 invalid, 404 not found. */
  private static void refuseUnlessOk(CommandReply r) {
    if (r.getOk()) {
      return;
    }
    int status = switch (r.getRefusal()) {
      case INVALID -> 400;
      case NOT_FOUND -> 404;
      default -> 409;
    };
    throw new ApiException(status, r.getMessage());
  }

  private static JsonObject command(String message, String key, JsonObject value) {
    JsonObject o = new JsonObject();
    o.addProperty("message", message);
    o.add(key, value);
    return o;
  }

  private static void send(HttpExchange ex, Response r) throws IOException {
    if (r instanceof Json j) {
      j.headers().forEach(ex.getResponseHeaders()::set);
      write(ex, j.status(), "application/json; charset=utf-8", GSON.toJson(j.body()) + "\n");
    } else if (r instanceof Text t) {
      write(ex, t.status(), t.contentType(), t.body());
    } else if (r instanceof FileBody f) {
      f.headers().forEach(ex.getResponseHeaders()::set);
      ex.getResponseHeaders().set("Content-Type", f.contentType());
      ex.sendResponseHeaders(200, Files.size(f.file()));
      try (OutputStream out = ex.getResponseBody()) {
        Files.copy(f.file(), out);
      }
    }
  }

  private static void write(HttpExchange ex, int status, String contentType, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", contentType);
    ex.sendResponseHeaders(status, b.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(b);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
