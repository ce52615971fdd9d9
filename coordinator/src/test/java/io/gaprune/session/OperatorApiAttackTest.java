package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.gaprune.worker.testing.SyntheticRuntime;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The operator API attacked the way a process on the coordinator's host could, on 127.0.0.1 only, bounded in
 * connections and time (docs/security.md lists each attack, its answer and the test here that proves it):
 * slow clients holding partial headers, bodies of 50 MB, malformed requests and a seeded fuzz of bodies,
 * cross-site shaped requests (DNS rebinding Host, foreign Origin, form content types), tokens in the wrong
 * shape, calibration files outside the data roots and session values out of range. A one-node cluster in
 * this JVM (coordinator singleton on H2, no workers: nothing here may start a session).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OperatorApiAttackTest {
  static final String TOKEN = "attack-test-token";
  /** The connection's time to deliver a request head (gaprune.http.header-timeout below). */
  static final Duration HEADER_TIMEOUT = Duration.ofSeconds(3);

  Path dir;
  CoordinatorNode node;
  int port;
  String url;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  void start() throws Exception {
    assumeTrue(System.getenv("GAPRUNE_HTTP_TOKEN") == null, "GAPRUNE_HTTP_TOKEN is set in this environment");
    dir = ClusterTestSupport.testDir("operator-api-attack");
    Path conf = ClusterTestSupport.write(dir, "node.conf", ClusterTestSupport.settings(dir.resolve("work"), 0, null, """
        gaprune.http {
          token = "%s"
          header-timeout = %ds
          request-timeout = 4s
          max-connections = 64
          allowed-hosts = ["gaprune.test"]
        }
        """.formatted(TOKEN, HEADER_TIMEOUT.toSeconds())));
    var config = ClusterTestSupport.load(conf);
    node = CoordinatorNode.start(config, new SyntheticRuntime(config), List.of("coordinator"), new AccumulatorPlanner());
    port = node.httpPort();
    url = "http://127.0.0.1:" + port;
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (get("/health", null).statusCode() != 200) {
      assertTrue(System.nanoTime() < deadline, "the coordinator never became healthy");
      Thread.sleep(200);
    }
  }

  @AfterAll
  void stop() {
    if (node != null) {
      node.close();
    }
  }

  // ------------------------------------------------------------------ slow clients

  @Test
  void slowClientsHoldingPartialHeadersDoNotStopHealthAndAreCutOff() throws Exception {
    List<Socket> slow = new ArrayList<>();
    try {
      long opened = System.nanoTime();
      for (int i = 0; i < 32; i++) {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
        s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        slow.add(s);
      }
      // One more that keeps sending its header a byte at a time (Pekko's idle timeout alone would never fire).
      Socket dribbler = new Socket(InetAddress.getLoopbackAddress(), port);
      slow.add(dribbler);
      Thread drip = new Thread(() -> {
        try {
          OutputStream out = dribbler.getOutputStream();
          out.write("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
          for (int i = 0; i < 100; i++) {
            out.write('a');
            out.flush();
            Thread.sleep(250);
          }
        } catch (IOException | InterruptedException e) {
          // the server closed it: what this test expects
        }
      }, "dribbler");
      drip.setDaemon(true);
      drip.start();

      // While all 33 hold their connections, /health answers within 1 s, every time.
      while (System.nanoTime() - opened < HEADER_TIMEOUT.toNanos() - Duration.ofMillis(700).toNanos()) {
        long t0 = System.nanoTime();
        var r = get("/health", null);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(ms < 1000, "/health took " + ms + " ms while slow clients held connections");
        Thread.sleep(150);
      }
      // And none of them lasts: each is closed once the header timeout has passed (the dribbler included).
      for (Socket s : slow) {
        long left = opened + HEADER_TIMEOUT.toNanos() + Duration.ofSeconds(4).toNanos() - System.nanoTime();
        s.setSoTimeout((int) Math.max(1, left / 1_000_000));
        assertTrue(closedByServer(s), "a slow connection was still open after the header timeout");
      }
      assertTrue(System.nanoTime() - opened >= HEADER_TIMEOUT.toNanos() - Duration.ofMillis(500).toNanos(),
          "closed before the header timeout");
      assertEquals(200, get("/health", null).statusCode());
    } finally {
      for (Socket s : slow) {
        s.close();
      }
    }
  }

  @Test
  void theConnectionLimitHoldsAndTheHeaderTimeoutFreesIt() throws Exception {
    // A front of its own with room for 4 connections (on a node that joins no cluster: /health answers 503).
    Path conf = ClusterTestSupport.write(dir, "limited.conf", ClusterTestSupport.settings(dir.resolve("limited-work"), 0,
        null, "gaprune.http { token = \"" + TOKEN + "\", max-connections = 4, header-timeout = 2s, health-timeout = 1s }"));
    var config = ClusterTestSupport.load(conf);
    var lonely = org.apache.pekko.actor.typed.ActorSystem.create(
        org.apache.pekko.actor.typed.javadsl.Behaviors.empty(), "gaprune", config);
    List<Socket> held = new ArrayList<>();
    try (var front = io.gaprune.api.HttpFront.start(lonely, io.gaprune.api.HttpSettings.from(config, Map.of()), config)) {
      long t0 = System.nanoTime();
      for (int i = 0; i < 4; i++) {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), front.port());
        s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
        held.add(s);
      }
      Thread.sleep(300);
      // The fifth waits in the listen queue until the header timeout closes one of the four; then it is served.
      try (Socket fifth = new Socket(InetAddress.getLoopbackAddress(), front.port())) {
        fifth.setSoTimeout(10_000);
        fifth.getOutputStream().write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        Raw r = readResponse(fifth.getInputStream());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(503, r.status(), r.toString());
        assertTrue(ms >= 1500, "served after " + ms + " ms: the limit of 4 connections did not hold");
        assertTrue(ms < 2000 + 1000 + 3000, "served after " + ms + " ms");
      }
    } finally {
      for (Socket s : held) {
        s.close();
      }
      lonely.terminate();
    }
  }

  @Test
  void aBodyThatNeverArrivesIsA408WithinTheHeaderTimeout() throws Exception {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(10_000);
      long t0 = System.nanoTime();
      s.getOutputStream().write(("POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN
          + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"gen").getBytes(StandardCharsets.US_ASCII));
      Raw r = readResponse(s.getInputStream());
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertJsonError(408, "did not arrive within " + HEADER_TIMEOUT.toSeconds() + " s", r);
      assertTrue(ms >= HEADER_TIMEOUT.toMillis() - 500 && ms < HEADER_TIMEOUT.toMillis() + 3000, "answered after " + ms + " ms");
    }
    assertEquals(200, get("/health", null).statusCode());
  }

  /** Reads until the server ends the connection (true) or the socket's timeout passes (false). */
  static boolean closedByServer(Socket s) throws IOException {
    try {
      InputStream in = s.getInputStream();
      byte[] b = new byte[4096];
      while (in.read(b) >= 0) {
        // a 408 or nothing: either way the connection ends
      }
      return true;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true; // reset by the server
    }
  }

  // ------------------------------------------------------------------ bodies

  @Test
  void fiftyMegabyteBodiesAreRefusedWithoutBeingRead() throws Exception {
    long fifty = 50L << 20;
    String head = "POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN
        + "\r\nContent-Type: application/json\r\n";
    // Declared up front: refused from the header.
    Raw declared = rawWithBody(head + "Content-Length: " + fifty + "\r\n\r\n", fifty, false);
    assertJsonError(413, "larger than 65536 bytes", declared);
    // Chunked: refused once the first 64 KiB are in.
    Raw chunked = rawWithBody(head + "Transfer-Encoding: chunked\r\n\r\n", fifty, true);
    assertJsonError(413, "larger than", chunked);
    // Without the token nothing of it is read either.
    Raw anonymous = rawWithBody("POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + fifty + "\r\n\r\n", fifty, false);
    assertJsonError(401, "missing Authorization", anonymous);
    assertEquals(200, get("/health", null).statusCode());
  }

  /** Sends {@code head}, then up to {@code bytes} of body from another thread, and reads the answer. */
  Raw rawWithBody(String head, long bytes, boolean chunked) throws Exception {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(15_000);
      OutputStream out = s.getOutputStream();
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      Thread writer = new Thread(() -> {
        byte[] block = new byte[1 << 20];
        java.util.Arrays.fill(block, (byte) 'x');
        try {
          for (long sent = 0; sent < bytes; sent += block.length) {
            if (chunked) {
              out.write((Integer.toHexString(block.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            }
            out.write(block);
            if (chunked) {
              out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            }
          }
          if (chunked) {
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
          }
        } catch (IOException e) {
          // the server answered and closed: expected
        }
      }, "body-writer");
      writer.setDaemon(true);
      long t0 = System.nanoTime();
      writer.start();
      Raw r = readResponse(s.getInputStream());
      assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(10).toNanos(), "the refusal took too long");
      return r;
    }
  }

  // ------------------------------------------------------------------ malformed requests

  @Test
  void malformedRequestsAreAnsweredWithTheJsonError() throws Exception {
    String auth = "Authorization: Bearer " + TOKEN + "\r\n";
    Map<String, String> cases = new LinkedHashMap<>();
    cases.put("Content-Length: abc", "POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth
        + "Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{}");
    cases.put("negative Content-Length", "POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth
        + "Content-Length: -5\r\n\r\n");
    cases.put("two Content-Lengths", "POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth
        + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}");
    cases.put("header without a colon", "GET /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nnot a header\r\n\r\n");
    cases.put("bad percent escape", "GET /api/v1/sessions/%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "\r\n");
    cases.put("URI of 10 KB", "GET /api/v1/sessions/" + "a".repeat(10_000) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    cases.put("header of 20 KB", "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + "b".repeat(20_000) + "\r\n\r\n");
    cases.put("HTTP/1.1 without Host", "GET /api/v1/sessions HTTP/1.1\r\n" + auth + "\r\n");
    cases.put("control character in a header", "GET /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\u0001b\r\n"
        + auth + "\r\n");
    cases.put("chunk size not hex", "POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth
        + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n");
    for (var c : cases.entrySet()) {
      Raw r;
      try {
        r = raw(c.getValue());
      } catch (IOException e) {
        throw new AssertionError(c.getKey() + ": " + e, e);
      }
      assertTrue(r.status() >= 400 && r.status() < 500, c.getKey() + ": " + r);
      assertJsonBody(c.getKey(), r);
    }
    // Methods and versions the server does not implement: the statuses RFC 9110 names, with the same JSON.
    for (String line : List.of("BREW /health HTTP/1.1", "this is not-http")) {
      Raw method = raw(line + "\r\nHost: 127.0.0.1\r\n\r\n");
      assertEquals(501, method.status(), method.toString());
      assertJsonBody("unknown method", method);
    }
    for (String line : List.of("GET /health HTTP/3.7", "GET /health")) {
      Raw version = raw(line + "\r\nHost: 127.0.0.1\r\n\r\n");
      assertEquals(505, version.status(), version.toString());
      assertJsonBody("unknown version", version);
    }
    // A word that could still become a method (Pekko waits for the space after it): that is a partial request
    // head, and the header timeout ends the connection.
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.getOutputStream().write("GARBAGE\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      s.setSoTimeout((int) HEADER_TIMEOUT.plusSeconds(4).toMillis());
      assertTrue(closedByServer(s), "a partial request line outlived the header timeout");
    }
    assertEquals(200, get("/health", null).statusCode());
  }

  @Test
  void aSeededFuzzOfBodiesIsAlwaysA4xxWithJson() throws Exception {
    Random random = new Random(20261206L);
    String base = "{\"session_id\":\"fuzz\",\"general_path\":\"/etc/passwd\",\"domain_path\":\"" + dir.resolve("..")
        + "/x.json\",\"sparsity\":0.5,\"batch_size\":8,\"max_seq_len\":128,\"budget\":\"global\",\"scoring\":\"dai\"}";
    String[] fragments = {"{", "}", "[", "]", ",", ":", "\"", "\\", "null", "true", "-", "1e999", "0.5", "\"sparsity\"",
        "\"batch_size\"", "4294967295", "-1", "NaN", "\u0000", "\u2028", "\"general_path\"", "/*", "'", "[[[[[[", "\ud800"};
    int n = 2000;
    for (int i = 0; i < n; i++) {
      String body = switch (i % 5) {
        case 0 -> mutate(base, random, fragments);
        case 1 -> randomJson(random, 0);
        case 2 -> base.substring(0, random.nextInt(base.length()));
        case 3 -> new String(randomBytes(random, random.nextInt(200)), StandardCharsets.ISO_8859_1);
        default -> mutate(mutate(base, random, fragments), random, fragments);
      };
      var r = http.send(HttpRequest.newBuilder(URI.create(url + "/api/v1/sessions")).timeout(Duration.ofSeconds(20))
          .header("Authorization", "Bearer " + TOKEN).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
      assertTrue(r.statusCode() >= 400 && r.statusCode() < 500, "request " + i + " (" + body + "): " + r.statusCode()
          + " " + r.body());
      assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), "request " + i);
      assertTrue(JsonParser.parseString(r.body()).getAsJsonObject().has("error"), "request " + i + ": " + r.body());
    }
    // Nesting as deep as the body limit allows.
    String deep = "[".repeat(60_000);
    var r = post("/api/v1/sessions", deep, TOKEN, "application/json");
    assertEquals(400, r.statusCode(), r.body());
    // Nothing of it started a session, and the API is as healthy as before.
    JsonObject list = JsonParser.parseString(get("/api/v1/sessions", TOKEN).body()).getAsJsonObject();
    assertTrue(list.get("current").isJsonNull(), list.toString());
    assertEquals(200, get("/health", null).statusCode());
  }

  static String mutate(String s, Random random, String[] fragments) {
    StringBuilder b = new StringBuilder(s);
    int edits = 1 + random.nextInt(4);
    for (int e = 0; e < edits && b.length() > 0; e++) {
      int at = random.nextInt(b.length());
      switch (random.nextInt(3)) {
        case 0 -> b.insert(at, fragments[random.nextInt(fragments.length)]);
        case 1 -> b.delete(at, Math.min(b.length(), at + 1 + random.nextInt(8)));
        default -> b.setCharAt(at, (char) (32 + random.nextInt(95)));
      }
    }
    return b.toString();
  }

  static String randomJson(Random random, int depth) {
    int kind = depth > 3 ? random.nextInt(4) : random.nextInt(6);
    return switch (kind) {
      case 0 -> Long.toString(random.nextLong());
      case 1 -> Double.toString(random.nextGaussian() * 1e6);
      case 2 -> "\"" + Long.toString(random.nextLong(), 36) + "\"";
      case 3 -> random.nextBoolean() ? "null" : "true";
      case 4 -> {
        List<String> items = new ArrayList<>();
        for (int i = random.nextInt(4); i > 0; i--) {
          items.add(randomJson(random, depth + 1));
        }
        yield "[" + String.join(",", items) + "]";
      }
      default -> {
        String[] keys = {"sparsity", "batch_size", "general_path", "model", "seed", "budget", "statistics", "x"};
        List<String> items = new ArrayList<>();
        for (int i = random.nextInt(4); i > 0; i--) {
          items.add("\"" + keys[random.nextInt(keys.length)] + "\":" + randomJson(random, depth + 1));
        }
        yield "{" + String.join(",", items) + "}";
      }
    };
  }

  static byte[] randomBytes(Random random, int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  // ------------------------------------------------------------------ cross-site and tokens

  @Test
  void crossSiteShapedRequestsAreRefused() throws Exception {
    String body = "{\"general_path\":\"/etc/passwd\",\"domain_path\":\"/etc/passwd\"}";
    // What an HTML form or a no-preflight fetch() can send: refused before the body is looked at.
    for (String type : List.of("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x")) {
      assertJsonError(415, "Content-Type: application/json", post("/api/v1/sessions", body, TOKEN, type));
    }
    assertJsonError(415, "none", raw("POST /api/v1/sessions/x/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + TOKEN + "\r\nContent-Length: 0\r\n\r\n"));
    // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends Host: evil.example.
    String auth = "Authorization: Bearer " + TOKEN + "\r\n";
    assertJsonError(403, "Host \"evil.example\" is not a name of this API",
        raw("GET /api/v1/sessions HTTP/1.1\r\nHost: evil.example:" + port + "\r\n" + auth + "\r\n"));
    assertJsonError(403, "is not a name of this API",
        raw("GET /metrics HTTP/1.1\r\nHost: localhost.evil.example\r\n" + auth + "\r\n"));
    // The names this API has: loopback names, IP literals, the configured ones.
    for (String host : List.of("localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, "gaprune.test",
        "GAPRUNE.TEST.:80", "10.1.2.3:" + port)) {
      assertEquals(200, raw("GET /api/v1/sessions HTTP/1.1\r\nHost: " + host + "\r\n" + auth + "\r\n").status(), host);
    }
    // A page on another origin calling the API (even with a token it somehow has): refused.
    for (String origin : List.of("http://evil.example", "null", "http://127.0.0.1:" + (port + 1), "https://127.0.0.1:" + port)) {
      assertJsonError(403, "cross-origin request refused", raw("POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1:" + port
          + "\r\nOrigin: " + origin + "\r\n" + auth + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"));
    }
    assertJsonError(403, "Sec-Fetch-Site: cross-site", raw("GET /api/v1/workers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Sec-Fetch-Site: cross-site\r\n" + auth + "\r\n"));
    // Its own origin is fine (a same-origin page, which this API does not serve, but a browser may send it).
    assertEquals(200, raw("GET /api/v1/workers HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nOrigin: http://127.0.0.1:"
        + port + "\r\n" + auth + "\r\n").status());
    // /health: open, no Host check, and nothing about sessions in it.
    Raw health = raw("GET /health HTTP/1.1\r\nHost: evil.example\r\n\r\n");
    assertEquals(200, health.status(), health.toString());
    JsonObject h = JsonParser.parseString(health.body()).getAsJsonObject();
    assertEquals(java.util.Set.of("status", "coordinator"), h.keySet(), health.body());
  }

  @Test
  void onlyABearerTokenOfTheRightShapeOpensTheApi() throws Exception {
    Map<String, Integer> headers = new LinkedHashMap<>();
    headers.put("Bearer " + TOKEN, 200);
    // RFC 7235 §2.1: the scheme is case-insensitive (docs/operator-api.md says why this API follows it).
    headers.put("bearer " + TOKEN, 200);
    headers.put("BEARER " + TOKEN, 200);
    headers.put("Bearer  " + TOKEN, 200); // 1*SP
    headers.put("Bearer " + TOKEN + "x", 401);
    headers.put("Bearer " + TOKEN + " extra", 401);
    headers.put("Bearer", 401);
    headers.put("Bearer ", 401);
    headers.put("Basic " + java.util.Base64.getEncoder().encodeToString(("x:" + TOKEN).getBytes(StandardCharsets.UTF_8)), 401);
    headers.put("Token " + TOKEN, 401);
    headers.put(TOKEN, 401);
    headers.put("Bearer \"" + TOKEN + "\"", 401);
    for (var e : headers.entrySet()) {
      Raw r = raw("GET /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + e.getKey() + "\r\n\r\n");
      assertEquals(e.getValue(), r.status(), e.getKey() + " → " + r);
      if (r.status() == 401) {
        assertJsonBody(e.getKey(), r);
        assertTrue(r.headers().getOrDefault("www-authenticate", "").startsWith("Bearer realm=\"gaprune\""), r.toString());
      }
    }
    Raw twice = raw("GET /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN
        + "\r\nAuthorization: Bearer wrong\r\n\r\n");
    assertJsonError(401, "more than one Authorization header", twice);
    // A token in the query string is no token.
    assertEquals(401, get("/api/v1/sessions?access_token=" + TOKEN, null).statusCode());
  }

  // ------------------------------------------------------------------ what a session request may name

  @Test
  void calibrationFilesOutsideTheDataRootsGetOneErrorThatTellsNothing() throws Exception {
    Path good = ClusterTestSupport.triplets(dir, "good.json", 8);
    Path link = dir.resolve("passwd-link.json");
    Files.deleteIfExists(link);
    Files.createSymbolicLink(link, Path.of("/etc/passwd"));
    Path fifo = dir.resolve("calibration.fifo");
    Files.deleteIfExists(fifo);
    boolean haveFifo = new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0;
    Files.createDirectories(dir.resolve("a-folder.json"));
    List<String> paths = new ArrayList<>(List.of("/etc/passwd", "/etc/shadow", "/nonexistent/x.json",
        dir.resolve("missing.json").toString(), dir + "/../../../../etc/passwd", link.toString(),
        dir.resolve("a-folder.json").toString(), "good.json", "/proc/self/environ", "/dev/zero"));
    if (haveFifo) {
      paths.add(fifo.toString());
    }
    String first = null;
    for (String p : paths) {
      long t0 = System.nanoTime();
      var r = post("/api/v1/sessions", "{\"general_path\":" + com.google.gson.JsonParser.parseString(
          "\"" + p.replace("\\", "\\\\") + "\"") + ",\"domain_path\":\"" + good + "\"}", TOKEN, "application/json");
      assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(3).toNanos(), p + " took too long");
      assertEquals(400, r.statusCode(), p + ": " + r.body());
      String error = JsonParser.parseString(r.body()).getAsJsonObject().get("error").getAsString();
      first = first == null ? error : first;
      assertEquals(first, error, "the error for " + p + " differs: it tells something about the file");
      assertFalse(error.contains(p) && !p.equals("good.json"), error);
    }
    assertTrue(first.startsWith("general_path must be the absolute path of a readable regular file under the data"
        + " roots"), first);
    assertEquals(200, get("/health", null).statusCode());
  }

  @Test
  void everySessionValueIsCheckedAtStartWithTheCliMessages() throws Exception {
    Path good = ClusterTestSupport.triplets(dir, "ok.json", 8);
    String paths = "\"general_path\":\"" + good + "\",\"domain_path\":\"" + good + "\"";
    // field, JSON value, message of the API; the CLI's message is the same with its option's name
    String[][] cases = {
        {"sparsity", "1.5", "sparsity must lie in [0, 1], got 1.5", "--sparsity", "1.5"},
        {"budget", "\"bogus\"", "budget: unknown budget \"bogus\" (valid: global, uniform, owl, rows)", null, null},
        {"max_seq_len", "0", "max_seq_len must be between 8 and 131072 tokens, got 0", null, null},
        {"batch_size", "4294967295", "batch_size\" must be a whole number from 0 to 2147483647", null, null},
        {"batch_size", "1", "batch_size must be between 2 and 65536", "--batch-size", "1"},
        {"batches_per_unit", "0", "batches_per_unit must be between 1 and", "--batches-per-unit", "0"},
        {"scoring", "\"nonsense:q=2\"", "scoring: unknown scoring method \"nonsense\"", "--scoring", "nonsense:q=2"},
        {"candidates", "\"gills\"", "candidates: unknown layer type \"gills\"", "--candidates", "gills"},
        {"session_id", "\"../etc\"", "session_id must be 1-64 characters", "--session-id", "../etc"},
        {"model", "\"some-other-model\"", "model \"some-other-model\" is not the model this coordinator runs", null, null},
        {"alpha", "1e999", "must be a finite number", null, null},
    };
    for (String[] c : cases) {
      var r = post("/api/v1/sessions", "{" + paths + ",\"" + c[0] + "\":" + c[1] + "}", TOKEN, "application/json");
      assertJsonError(400, c[2], new Raw(r.statusCode(), Map.of("content-type",
          r.headers().firstValue("Content-Type").orElse("")), r.body()));
      if (c[3] != null) {
        var cli = OperatorApiTest.cli("session", "start", "--general", good.toString(), "--domain", good.toString(),
            c[3], c[4], "--coordinator", url, "--token", TOKEN);
        assertEquals(2, cli.code(), c[3] + ": " + cli.err());
        String apiMessage = JsonParser.parseString(r.body()).getAsJsonObject().get("error").getAsString();
        assertTrue(cli.err().contains(apiMessage.replaceFirst("^" + c[0], c[3])), c[3] + ": " + cli.err()
            + " vs " + apiMessage);
      }
    }
    JsonObject list = JsonParser.parseString(get("/api/v1/sessions", TOKEN).body()).getAsJsonObject();
    assertTrue(list.get("current").isJsonNull(), "a refused start left a session: " + list);
  }

  // ------------------------------------------------------------------ helpers

  record Raw(int status, Map<String, String> headers, String body) {}

  HttpResponse<String> get(String path, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(20));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> post(String path, String body, String token, String contentType) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(20))
        .header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** One request as raw bytes on a fresh connection, and the answer. */
  Raw raw(String request) throws Exception {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      s.getOutputStream().flush();
      return readResponse(s.getInputStream());
    }
  }

  static Raw readResponse(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int c = in.read();
      if (c < 0) {
        throw new IOException("connection closed before a response head: " + head);
      }
      head.write(c);
      matched = (c == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (c == '\r' ? 1 : 0);
    }
    String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0) {
        headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
      }
    }
    int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
    byte[] body = in.readNBytes(length);
    return new Raw(status, headers, new String(body, StandardCharsets.UTF_8));
  }

  static void assertJsonBody(String what, Raw r) {
    assertTrue(r.headers().getOrDefault("content-type", "").startsWith("application/json"), what + ": " + r);
    assertTrue(JsonParser.parseString(r.body()).getAsJsonObject().has("error"), what + ": " + r);
  }

  static void assertJsonError(int status, String fragment, Raw r) {
    assertEquals(status, r.status(), r.toString());
    assertJsonBody(fragment, r);
    String error = JsonParser.parseString(r.body()).getAsJsonObject().get("error").getAsString();
    assertTrue(error.contains(fragment), "\"" + fragment + "\" not in: " + error);
  }

  static void assertJsonError(int status, String fragment, HttpResponse<String> r) {
    assertJsonError(status, fragment, new Raw(r.statusCode(), Map.of("content-type",
        r.headers().firstValue("Content-Type").orElse("")), r.body()));
  }

  static void sleep(long ms) {
    try {
      TimeUnit.MILLISECONDS.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
