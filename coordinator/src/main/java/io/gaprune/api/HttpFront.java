package io.gaprune.api;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.gaprune.ops.KeyStores;
import io.gaprune.protocol.CancelSession;
import io.gaprune.protocol.CommandReply;
import io.gaprune.protocol.DrainWorker;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.StartSession;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.ServerBuilder;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.http.scaladsl.model.EntityStreamException;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's operator API (docs/operator-api.md): versioned JSON under {@code /api/v1}, plus
 * {@code /health} and {@code /metrics}, on Pekko HTTP. Every request is answered from the session coordinator
 * singleton, wherever in the cluster it runs.
 *
 * <p>Robust by construction (docs/security.md): connections are served by Pekko's non-blocking streams, so a
 * client that sends half a header holds no thread; {@link RequestHeadTimeout} closes it after
 * {@code gaprune.http.header-timeout}, Pekko's idle timeout any silent connection, and at most
 * {@code max-connections} are open at once. Bodies are capped ({@code max-body}, 413), every answer is ready
 * within {@code request-timeout} (503 after), and a request Pekko cannot even parse gets the same JSON error
 * as any other ({@link JsonParsingErrors}). {@code /health} needs no thread at all. The endpoints that ask the
 * coordinator and read files run on a small pool of their own, each ask bounded by {@code ask-timeout}.
 *
 * <p>Access ({@link RequestGuard}): every endpoint but {@code /health} needs the bearer token (configured, or
 * generated in the work dir: {@link OperatorToken}), a {@code Host} that names this API and no cross-origin
 * browser request; {@code POST}s need {@code Content-Type: application/json} (415), which no HTML form and no
 * cross-site request without a CORS preflight (which this API never grants) can send. HTTPS by
 * configuration ({@code gaprune.http.tls}).
 */
public final class HttpFront implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(HttpFront.class);
  private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();
  private static final String SESSIONS = OperatorJson.API + "/sessions";
  /** The files a finished session's report may hand out, by the names they have in its masks directory. */
  private static final Map<String, String> REPORT_FILES = Map.of(
      "plan.json", "application/json", "masks.safetensors", "application/octet-stream",
      "weights.safetensors", "application/octet-stream");
  /** The file only a plan whose scoring updates the kept weights writes. */
  private static final String WEIGHTS_FILE = "weights.safetensors";
  /**
   * {@link PrometheusText#CONTENT_TYPE} as written there (Pekko would spell a text type's charset "UTF-8"): the
   * text is UTF-8 bytes, so a binary media type carrying the parameters as they are is exact.
   */
  private static final ContentType PROMETHEUS = prometheus();
  /** Threads for the endpoints that wait on the coordinator or read files (never /health). */
  private static final int WORKER_THREADS = 8;

  private volatile ServerBinding binding;
  private final ExecutorService workers;
  private final HttpSettings settings;
  private final CoordinatorClient coordinator;
  private final RequestGuard guard;
  private final SessionRequest.Rules rules;
  private final Materializer materializer;

  /** What a route answers: JSON, text, or a file streamed from disk. */
  private sealed interface Response permits Json, Text, FileBody {}

  private record Json(int status, JsonElement body, Map<String, String> headers) implements Response {
    Json(int status, JsonElement body) {
      this(status, body, Map.of());
    }
  }

  private record Text(int status, ContentType contentType, String body) implements Response {}

  private record FileBody(Path file, ContentType contentType, Map<String, String> headers) implements Response {}

  /** A request's endpoint, its method already checked: what runs once the body is read. */
  @FunctionalInterface
  private interface Endpoint {
    Response answer(String body) throws IOException;
  }

  private HttpFront(ActorSystem<?> system, HttpSettings settings, Config config, ExecutorService workers) {
    this.settings = settings;
    this.workers = workers;
    this.coordinator = new CoordinatorClient(system);
    this.guard = new RequestGuard(settings.hostname(), settings.allowedHosts(), settings.token());
    this.rules = SessionRequest.Rules.from(config);
    this.materializer = Materializer.matFromSystem(system);
  }

  /**
   * Starts the API on {@code settings}' address; {@code config} gives the session defaults
   * ({@code gaprune.model}, {@code gaprune.session.*}) for starts that leave fields out, and the data roots.
   * With no token configured, the work dir's generated one is used ({@link OperatorToken#ensure}).
   */
  public static HttpFront start(ActorSystem<?> system, HttpSettings settings, Config config) throws IOException {
    settings.check();
    if (!settings.tokenConfigured()) {
      settings = settings.withToken(OperatorToken.ensure(settings.workDir()));
    }
    AtomicInteger n = new AtomicInteger();
    ExecutorService workers = Executors.newFixedThreadPool(WORKER_THREADS, r -> {
      Thread t = new Thread(r, "gaprune-http-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    HttpFront front = new HttpFront(system, settings, config, workers);
    Flow<HttpRequest, HttpResponse, NotUsed> perConnection = Flow.of(HttpRequest.class)
        .via(new RequestHeadTimeout(settings.headerTimeout()))
        .mapAsync(1, front::handle);
    ServerBuilder builder = Http.get(system).newServerAt(settings.hostname(), settings.port())
        .withSettings(serverSettings(system, settings));
    if (settings.tls() != null) {
      builder = builder.enableHttps(ConnectionContext.httpsServer(sslContext(settings.tls())));
    }
    try {
      front.binding = builder.bindFlow(perConnection).toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      workers.shutdownNow();
      Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
      throw new IOException("cannot bind the operator API to " + settings.hostname() + ":" + settings.port() + ": "
          + cause.getMessage(), cause);
    }
    log.info("operator API on {}://{}:{}{} (bearer token required{}; at most {} connections, header timeout {} s,"
            + " request timeout {} s)", settings.scheme(), settings.hostname(), front.port(), OperatorJson.API,
        settings.tokenConfigured() ? "" : ", generated in " + OperatorToken.file(settings.workDir()),
        settings.maxConnections(), settings.headerTimeout().toSeconds(), settings.requestTimeout().toSeconds());
    return front;
  }

  private static ContentType prometheus() {
    Map<String, String> params = new java.util.LinkedHashMap<>();
    for (String part : PrometheusText.CONTENT_TYPE.split(";\\s*")) {
      int eq = part.indexOf('=');
      if (eq > 0) {
        params.put(part.substring(0, eq), part.substring(eq + 1));
      }
    }
    return ContentTypes.create(org.apache.pekko.http.javadsl.model.MediaTypes.customBinary("text", "plain", true,
        params, false));
  }

  /** Pekko HTTP's server settings from {@code gaprune.http.*}. */
  static ServerSettings serverSettings(ActorSystem<?> system, HttpSettings s) {
    Map<String, Object> m = new HashMap<>();
    m.put("pekko.http.server.idle-timeout", s.idleTimeout().toMillis() + "ms");
    // Our own deadline answers first, with JSON; Pekko's is the backstop.
    m.put("pekko.http.server.request-timeout", s.requestTimeout().plusSeconds(5).toMillis() + "ms");
    m.put("pekko.http.server.max-connections", s.maxConnections());
    m.put("pekko.http.server.pipelining-limit", 1);
    m.put("pekko.http.server.parsing.max-content-length", s.maxBody());
    m.put("pekko.http.server.parsing.error-handler", JsonParsingErrors.class.getName());
    // A client's bad headers are its problem, not lines in this node's log (an attacker could fill it).
    m.put("pekko.http.server.parsing.illegal-header-warnings", "off");
    // No product and version for a scanner to look up.
    m.put("pekko.http.server.server-header", "");
    m.put("pekko.http.server.bind-timeout", "10s");
    return ServerSettings.create(ConfigFactory.parseMap(m).withFallback(system.settings().config()));
  }

  static SSLContext sslContext(HttpSettings.Tls tls) throws IOException {
    try {
      KeyStore ks = KeyStores.load(tls.keyStore(), tls.keyStorePassword());
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, tls.keyPassword().toCharArray());
      SSLContext ctx = SSLContext.getInstance(tls.protocol());
      ctx.init(kmf.getKeyManagers(), null, null);
      return ctx;
    } catch (GeneralSecurityException | IOException e) {
      throw new IOException("cannot load the operator API's key store " + tls.keyStore()
          + " (gaprune.http.tls.key-store): " + e.getMessage(), e);
    }
  }

  public int port() {
    return binding.localAddress().getPort();
  }

  // ------------------------------------------------------------------ requests

  private CompletionStage<HttpResponse> handle(HttpRequest req) {
    String method = req.method().name();
    String raw = req.getUri().path();
    try {
      List<String> p = Paths.segments(raw);
      if (p.equals(List.of("health"))) {
        // Open and thread-free: load balancers and container probes call it without a token or a known Host.
        allow(method, raw, "GET");
        return health().thenApply(HttpFront::toHttp);
      }
      guard.host(values(req, "host"));
      guard.sameOrigin(values(req, "origin"), values(req, "sec-fetch-site"), settings.scheme(),
          values(req, "host").get(0));
      guard.authorize(values(req, "authorization"));
      Endpoint endpoint = route(method, raw, p, req.getUri().rawQueryString().orElse(null));
      if (method.equals("POST")) {
        requireJson(req);
      }
      var declared = req.entity().getContentLengthOption();
      if (declared.isPresent() && declared.getAsLong() > settings.maxBody()) {
        throw tooLarge();
      }
      long deadline = System.nanoTime() + settings.requestTimeout().toNanos();
      // The body is the client's transfer, like the head: the same bound, well inside the request's deadline.
      return req.entity().toStrict(settings.headerTimeout().toMillis(), settings.maxBody(), materializer)
          .exceptionally(e -> {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            if (cause instanceof TimeoutException) {
              throw new ApiException(408, "the request body did not arrive within "
                  + settings.headerTimeout().toSeconds() + " s (gaprune.http.header-timeout)");
            }
            throw e instanceof CompletionException c ? c : new CompletionException(e);
          })
          .thenApplyAsync(strict -> {
            if (System.nanoTime() > deadline) {
              throw ApiException.unavailable("the request waited longer than " + settings.requestTimeout().toSeconds()
                  + " s (gaprune.http.request-timeout)");
            }
            String body = strict.getData().decodeString(StandardCharsets.UTF_8);
            try {
              return endpoint.answer(body);
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }, workers)
          .toCompletableFuture()
          .orTimeout(settings.requestTimeout().toMillis(), TimeUnit.MILLISECONDS)
          .handle((response, error) -> error == null ? toHttp(response) : failure(method, raw, error));
    } catch (RuntimeException e) {
      // The body of a refused request is never read: Pekko closes the connection after the answer instead.
      return CompletableFuture.completedFuture(failure(method, raw, e));
    }
  }

  /** The endpoint of a path and method: 404 for an unknown path, 405 (with Allow) for a wrong method. */
  private Endpoint route(String method, String raw, List<String> p, String rawQuery) {
    if (p.equals(List.of("metrics"))) {
      allow(method, raw, "GET");
      return body -> new Text(200, PROMETHEUS, PrometheusText.render(coordinator.status(false, settings.askTimeout())));
    }
    if (p.size() < 3 || !p.get(0).equals("api") || !p.get(1).equals("v1")) {
      throw notFound(method, raw);
    }
    String resource = p.get(2);
    List<String> rest = p.subList(3, p.size());
    if (resource.equals("sessions")) {
      if (rest.isEmpty()) {
        allow(method, raw, "GET, POST");
        return method.equals("GET") ? body -> listSessions() : this::startSession;
      }
      String id = rest.get(0);
      if (rest.size() == 1) {
        allow(method, raw, "GET");
        return body -> getSession(id);
      }
      if (rest.size() == 2 && rest.get(1).equals("cancel")) {
        allow(method, raw, "POST");
        return body -> cancel(id);
      }
      if (rest.size() == 2 && rest.get(1).equals("report")) {
        allow(method, raw, "GET");
        String file = Paths.query(rawQuery).get("file");
        return body -> report(id, file);
      }
    } else if (resource.equals("workers")) {
      if (rest.isEmpty()) {
        allow(method, raw, "GET");
        return body -> new Json(200, OperatorJson.workers(OperatorJson.workers(
            coordinator.status(false, settings.askTimeout()))));
      }
      if (rest.size() == 2 && rest.get(1).equals("drain")) {
        allow(method, raw, "POST");
        String id = rest.get(0);
        return body -> drain(id);
      }
    }
    throw notFound(method, raw);
  }

  /** A POST's body is JSON, said so by its Content-Type (a form or a text/plain post from a web page is not). */
  private static void requireJson(HttpRequest req) {
    ContentType ct = req.entity().getContentType();
    var media = ct.mediaType();
    if (!media.mainType().equals("application") || !media.subType().equals("json")) {
      throw new ApiException(415, "POST needs Content-Type: application/json (got " + ct
          + (values(req, "content-type").isEmpty() ? ", i.e. none" : "") + ")");
    }
  }

  private static List<String> values(HttpRequest req, String lowerCaseName) {
    List<String> out = new ArrayList<>();
    for (HttpHeader h : req.getHeaders()) {
      if (h.lowercaseName().equals(lowerCaseName)) {
        out.add(h.value());
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ endpoints

  /** {@code /health}: whether the coordinator answers within health-timeout; nothing about sessions. */
  private CompletionStage<Response> health() {
    return coordinator.statusAsync(false, settings.healthTimeout()).handle((s, error) -> {
      JsonObject o = new JsonObject();
      if (error == null) {
        o.addProperty("status", "ok");
        o.addProperty("coordinator", "reachable");
        return new Json(200, o);
      }
      o.addProperty("status", "unavailable");
      Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
      o.addProperty("error", e instanceof ApiException ? e.getMessage() : "the session coordinator did not answer");
      return new Json(503, o);
    });
  }

  private Response listSessions() {
    return new Json(200, OperatorJson.list(coordinator.status(true, settings.askTimeout())));
  }

  private Response startSession(String body) {
    SessionConfig session = rules.parse(body);
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
      ContentType contentType = type == null ? null : ContentTypes.parse(type);
      if (type == null) {
        throw ApiException.badRequest("file must be one of " + REPORT_FILES.keySet().stream().sorted().toList());
      }
      if (file.equals(WEIGHTS_FILE) && plan.getWeightsPath().isEmpty()) {
        throw ApiException.notFound("session " + id + "'s scoring does not update the kept weights: its plan has "
            + "no " + WEIGHTS_FILE);
      }
      Path f = dir.resolve(file);
      requireOnThisNode(id, f);
      return new FileBody(f, contentType, Map.of("Content-Disposition", "attachment; filename=\"" + id + "-" + file + "\"",
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
    REPORT_FILES.keySet().stream().sorted().filter(name -> !name.equals(WEIGHTS_FILE)
        || !plan.getWeightsPath().isEmpty()).forEach(name ->
        files.addProperty(name, SESSIONS + "/" + Paths.encode(id) + "/report?file=" + name));
    o.add("files", files);
    return new Json(200, o);
  }

  // ------------------------------------------------------------------ helpers

  private static void allow(String method, String path, String allowed) {
    if (!List.of(allowed.split(", ")).contains(method)) {
      throw ApiException.methodNotAllowed(method, path, allowed);
    }
  }

  private ApiException tooLarge() {
    return new ApiException(413, "request body larger than " + settings.maxBody() + " bytes (gaprune.http.max-body)");
  }

  private static ApiException notFound(String method, String path) {
    return ApiException.notFound("no such endpoint: " + method + " " + RequestGuard.printable(path)
        + " (see docs/operator-api.md)");
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

  static String errorJson(String message) {
    return GSON.toJson(OperatorJson.error(message)) + "\n";
  }

  /** An error as the API's JSON: the status of an {@link ApiException}, 413, 408, 503 or 500 otherwise. */
  private HttpResponse failure(String method, String path, Throwable error) {
    Throwable e = error;
    while ((e instanceof CompletionException || e instanceof java.util.concurrent.ExecutionException
        || e instanceof UncheckedIOException) && e.getCause() != null) {
      e = e.getCause();
    }
    ApiException api;
    if (e instanceof ApiException a) {
      api = a;
    } else if (e instanceof EntityStreamSizeException) {
      api = tooLarge();
    } else if (e instanceof EntityStreamException x) {
      api = ApiException.badRequest("malformed request body: " + RequestGuard.printable(x.getMessage()));
    } else if (e instanceof TimeoutException) {
      api = ApiException.unavailable("no answer within " + settings.requestTimeout().toSeconds()
          + " s (gaprune.http.request-timeout)");
    } else {
      log.error("{} {} failed", method, RequestGuard.printable(path), e);
      api = new ApiException(500, "internal error: " + e.getClass().getSimpleName());
    }
    if (api.status >= 500) {
      log.warn("{} {}: {} {}", method, RequestGuard.printable(path), api.status, api.getMessage());
    }
    Map<String, String> headers = new HashMap<>();
    if (api.allow != null) {
      headers.put("Allow", api.allow);
    }
    if (api instanceof RequestGuard.Refused r && r.challenge != null) {
      headers.put("WWW-Authenticate", r.challenge);
    }
    return toHttp(new Json(api.status, OperatorJson.error(api.getMessage()), headers));
  }

  private static HttpResponse toHttp(Response r) {
    HttpResponse h;
    Map<String, String> headers;
    if (r instanceof Json j) {
      h = HttpResponse.create().withStatus(j.status())
          .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, GSON.toJson(j.body()) + "\n"));
      headers = j.headers();
    } else if (r instanceof Text t) {
      h = HttpResponse.create().withStatus(t.status()).withEntity(HttpEntities.create(t.contentType(),
          t.body().getBytes(StandardCharsets.UTF_8)));
      headers = Map.of();
    } else {
      FileBody f = (FileBody) r;
      ResponseEntity entity = HttpEntities.create(f.contentType(), f.file());
      h = HttpResponse.create().withStatus(200).withEntity(entity);
      headers = f.headers();
    }
    List<HttpHeader> all = new ArrayList<>();
    headers.forEach((k, v) -> all.add(RawHeader.create(k, v)));
    // Answers are per operator and per moment: no cache keeps them, no browser guesses another type.
    all.add(RawHeader.create("Cache-Control", "no-store"));
    all.add(RawHeader.create("X-Content-Type-Options", "nosniff"));
    return h.addHeaders(all);
  }

  @Override
  public void close() {
    try {
      binding.terminate(Duration.ofSeconds(3)).toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.debug("operator API did not unbind cleanly: {}", e.toString());
    }
    workers.shutdownNow();
  }
}
