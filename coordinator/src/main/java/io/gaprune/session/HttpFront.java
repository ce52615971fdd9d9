package io.gaprune.session;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.GeneratedMessage;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.gaprune.protocol.CancelSession;
import io.gaprune.protocol.CommandReply;
import io.gaprune.protocol.DrainWorker;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionStatus;
import io.gaprune.protocol.SessionStatusRequest;
import io.gaprune.protocol.StartSession;
import io.gaprune.protocol.WorkerInfo;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

/**
 * The operator's door: a tiny HTTP/JSON endpoint on loopback (JDK HttpServer, no extra dependency) that
 * forwards to the coordinator singleton wherever it runs. {@code GET /session/status},
 * {@code POST /session/start} (JSON body of session fields), {@code POST /session/drain?worker=X},
 * {@code POST /session/cancel}. Bodies are capped at 64 KiB.
 */
public final class HttpFront implements AutoCloseable {
  private static final int MAX_BODY = 64 * 1024;
  private final HttpServer server;

  private HttpFront(HttpServer server) {
    this.server = server;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  public static HttpFront start(ActorSystem<?> system, String host, int port) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 16);
    server.setExecutor(Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "gaprune-http");
      t.setDaemon(true);
      return t;
    }));
    ActorRefResolver resolver = ActorRefResolver.get(system);
    server.createContext("/session/", ex -> {
      try (ex) {
        String path = ex.getRequestURI().getPath();
        String method = ex.getRequestMethod();
        Function<String, GeneratedMessage> request;
        switch (path) {
          case "/session/status" -> request = r -> SessionStatusRequest.newBuilder().setReplyTo(r).build();
          case "/session/start" -> {
            requirePost(method);
            SessionConfig cfg = parseConfig(readBody(ex.getRequestBody()));
            request = r -> StartSession.newBuilder().setConfig(cfg).setReplyTo(r).build();
          }
          case "/session/drain" -> {
            requirePost(method);
            String worker = query(ex).getOrDefault("worker", "");
            if (worker.isEmpty()) {
              throw new IllegalArgumentException("drain needs ?worker=REF-or-fragment");
            }
            request = r -> DrainWorker.newBuilder().setWorker(worker).setReplyTo(r).build();
          }
          case "/session/cancel" -> {
            requirePost(method);
            request = r -> CancelSession.newBuilder().setReplyTo(r).build();
          }
          default -> {
            send(ex, 404, error("no such endpoint: " + path));
            return;
          }
        }
        ActorRef<GeneratedMessage> coordinator = CoordinatorNode.findCoordinator(system, Duration.ofSeconds(10));
        GeneratedMessage answer = AskPattern.<GeneratedMessage, GeneratedMessage>ask(coordinator,
                replyTo -> request.apply(resolver.toSerializationFormat(replyTo)), Duration.ofSeconds(30),
                system.scheduler())
            .toCompletableFuture().get(31, TimeUnit.SECONDS);
        CommandReply reply = (CommandReply) answer;
        send(ex, reply.getOk() ? 200 : 409, toJson(reply));
      } catch (IllegalArgumentException e) {
        send(ex, 400, error(e.getMessage()));
      } catch (Exception e) {
        send(ex, 503, error("coordinator unavailable: " + e));
      }
    });
    server.start();
    return new HttpFront(server);
  }

  private static void requirePost(String method) {
    if (!method.equals("POST")) {
      throw new IllegalArgumentException("use POST");
    }
  }

  private static String readBody(InputStream in) throws IOException {
    byte[] b = in.readNBytes(MAX_BODY + 1);
    if (b.length > MAX_BODY) {
      throw new IllegalArgumentException("request body larger than " + MAX_BODY + " bytes");
    }
    return new String(b, StandardCharsets.UTF_8);
  }

  private static Map<String, String> query(HttpExchange ex) {
    Map<String, String> out = new HashMap<>();
    String q = ex.getRequestURI().getRawQuery();
    if (q != null) {
      for (String kv : q.split("&")) {
        int i = kv.indexOf('=');
        if (i > 0) {
          out.put(URLDecoder.decode(kv.substring(0, i), StandardCharsets.UTF_8),
              URLDecoder.decode(kv.substring(i + 1), StandardCharsets.UTF_8));
        }
      }
    }
    return out;
  }

  /** A session from JSON: the SessionConfig field names in snake_case; unknown fields are an error. */
  static SessionConfig parseConfig(String json) {
    JsonObject o;
    try {
      o = JsonParser.parseString(json.isBlank() ? "{}" : json).getAsJsonObject();
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("session start body is not a JSON object: " + e.getMessage());
    }
    SessionConfig.Builder b = SessionConfig.newBuilder();
    var descriptor = SessionConfig.getDescriptor();
    for (var e : o.entrySet()) {
      var field = descriptor.findFieldByName(e.getKey());
      if (field == null) {
        throw new IllegalArgumentException("unknown session field \"" + e.getKey() + "\"");
      }
      try {
        switch (field.getJavaType()) {
          case STRING -> b.setField(field, e.getValue().getAsString());
          case INT -> b.setField(field, e.getValue().getAsInt());
          case LONG -> b.setField(field, e.getValue().getAsLong());
          case DOUBLE -> b.setField(field, e.getValue().getAsDouble());
          default -> throw new IllegalArgumentException("field " + e.getKey() + " cannot be set");
        }
      } catch (RuntimeException ex) {
        throw new IllegalArgumentException("bad value for session field \"" + e.getKey() + "\": " + e.getValue());
      }
    }
    return b.build();
  }

  static String toJson(CommandReply r) {
    JsonObject o = new JsonObject();
    o.addProperty("ok", r.getOk());
    o.addProperty("message", r.getMessage());
    SessionStatus s = r.getStatus();
    JsonObject st = new JsonObject();
    st.addProperty("session_id", s.getSessionId());
    st.addProperty("state", s.getState());
    st.addProperty("units_total", s.getUnitsTotal());
    st.addProperty("units_pending", s.getUnitsPending());
    st.addProperty("units_leased", s.getUnitsLeased());
    st.addProperty("units_done", s.getUnitsDone());
    st.addProperty("units_folded", s.getUnitsFolded());
    st.addProperty("message", s.getMessage());
    var workers = new com.google.gson.JsonArray();
    for (WorkerInfo w : s.getWorkersList()) {
      JsonObject wo = new JsonObject();
      wo.addProperty("ref", w.getWorkerRef());
      wo.addProperty("device", w.getDevice());
      wo.addProperty("host", w.getHost());
      wo.addProperty("pid", w.getPid());
      wo.addProperty("unit", w.getUnitId());
      wo.addProperty("draining", w.getDraining());
      workers.add(wo);
    }
    st.add("workers", workers);
    if (s.hasPlan()) {
      JsonObject p = new JsonObject();
      p.addProperty("candidate_weights", s.getPlan().getCandidateWeights());
      p.addProperty("pruned_weights", s.getPlan().getPrunedWeights());
      p.addProperty("masks_path", s.getPlan().getMasksPath());
      p.addProperty("masks_sha256", s.getPlan().getMasksSha256());
      st.add("plan", p);
    }
    o.add("status", st);
    return new Gson().toJson(o);
  }

  private static String error(String message) {
    JsonObject o = new JsonObject();
    o.addProperty("ok", false);
    o.addProperty("message", message);
    return new Gson().toJson(o);
  }

  private static void send(HttpExchange ex, int code, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(code, b.length);
    ex.getResponseBody().write(b);
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
