package io.gaprune.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.gaprune.api.OperatorToken;
import io.gaprune.ops.KeyStores;
import io.gaprune.ops.OperatorAccess;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import picocli.CommandLine.Option;

/**
 * The options every {@code gaprune session} subcommand shares (where the coordinator's API is, the token)
 * and the HTTP calls they make. A picocli mixin, so the options may follow the subcommand's name.
 *
 * <p>The token: {@code --token}, else {@code $GAPRUNE_HTTP_TOKEN}, else, for a coordinator on this host (a
 * loopback URL), the one it generated in its work dir ({@code --work-dir}, else {@code $GAPRUNE_WORK_DIR}, else
 * {@code gaprune-work}: the default work dir, relative to where the coordinator was started). A token file is
 * never sent to another host. HTTPS: the coordinator's certificate is checked against {@code --trust-store}
 * (else {@code $GAPRUNE_TLS_TRUSTSTORE}, its password in {@code $GAPRUNE_TLS_TRUSTSTORE_PASSWORD}), else the
 * JDK's trusted authorities.
 */
final class ApiClient {
  static final String API = "/api/v1";

  @Option(names = "--coordinator", paramLabel = "URL",
      defaultValue = "${env:GAPRUNE_COORDINATOR:-http://127.0.0.1:8558}",
      description = "the coordinator's operator API (default: $GAPRUNE_COORDINATOR or http://127.0.0.1:8558)")
  String url;

  @Option(names = "--token", paramLabel = "TOKEN",
      description = "bearer token of the API (default: $GAPRUNE_HTTP_TOKEN); a value on the command line is"
          + " visible to other users in the process list, so prefer the environment variable")
  String token;

  @Option(names = "--work-dir", paramLabel = "DIR",
      defaultValue = "${env:GAPRUNE_WORK_DIR:-gaprune-work}",
      description = "the coordinator's work dir, where it keeps the token it generated when none is configured"
          + " (default: $GAPRUNE_WORK_DIR or gaprune-work); read only for a coordinator on this host")
  Path workDir;

  @Option(names = "--trust-store", paramLabel = "FILE",
      defaultValue = "${env:GAPRUNE_TLS_TRUSTSTORE:-}",
      description = "for an https:// coordinator: the trust store (PKCS12) holding the CA that signed its certificate"
          + " (default: $GAPRUNE_TLS_TRUSTSTORE; its password: $GAPRUNE_TLS_TRUSTSTORE_PASSWORD)")
  String trustStore;

  /** A response: its status and body, already read, and a hint for the operator when it is an error. */
  record Reply(int status, byte[] body, String hint) {
    Reply(int status, byte[] body) {
      this(status, body, "");
    }

    boolean ok() {
      return status / 100 == 2;
    }

    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }

    JsonObject json() {
      return JsonParser.parseString(text()).getAsJsonObject();
    }

    /** The API's {"error": "..."} message, or the body itself when it is not that. */
    String error() {
      try {
        JsonObject o = json();
        if (o.has("error")) {
          return o.get("error").getAsString() + " (HTTP " + status + ")" + hint;
        }
      } catch (RuntimeException e) {
        // not JSON: show it as it is
      }
      return "HTTP " + status + ": " + text();
    }
  }

  /** Thrown when nothing answers at the URL, with a message for the operator. */
  static final class Unreachable extends Exception {
    Unreachable(String message) {
      super(message);
    }
  }

  private HttpClient http;

  private HttpClient http() throws Unreachable {
    if (http == null) {
      HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
      if (url.toLowerCase(Locale.ROOT).startsWith("https:") && trustStore != null && !trustStore.isBlank()) {
        b.sslContext(trusting(Path.of(trustStore), System.getenv().getOrDefault("GAPRUNE_TLS_TRUSTSTORE_PASSWORD", "")));
      }
      http = b.build();
    }
    return http;
  }

  private static SSLContext trusting(Path store, String password) throws Unreachable {
    try {
      KeyStore ks = KeyStores.load(store, password);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (IOException | GeneralSecurityException e) {
      throw new Unreachable("cannot read the trust store " + store + " (--trust-store, GAPRUNE_TLS_TRUSTSTORE_PASSWORD): "
          + e.getMessage());
    }
  }

  /**
   * The token to send: the option, the environment, or (for a coordinator on this host only) the one it
   * generated in its work dir; null when there is none.
   */
  String token(Map<String, String> env) {
    if (token != null && !token.isBlank()) {
      return token.strip();
    }
    String fromEnv = env.get(OperatorAccess.TOKEN_ENV);
    if (fromEnv != null && !fromEnv.isBlank()) {
      return fromEnv.strip();
    }
    if (!loopback()) {
      return null;
    }
    Path f = OperatorToken.file(workDir);
    try {
      return Files.isRegularFile(f) ? OperatorToken.read(f).orElse(null) : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private boolean loopback() {
    try {
      String host = URI.create(url).getHost();
      if (host == null) {
        return false;
      }
      host = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
      // only literal loopback addresses and localhost: no name lookup decides where the token goes
      return host.equalsIgnoreCase("localhost") || host.matches("127(\\.\\d{1,3}){3}") || host.equals("::1")
          || host.equals("0:0:0:0:0:0:0:1");
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  Reply get(String path) throws IOException, InterruptedException, Unreachable {
    return send(request(path).GET());
  }

  Reply post(String path, String json) throws IOException, InterruptedException, Unreachable {
    return send(request(path).header("Content-Type", "application/json")
        .POST(json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json)));
  }

  static String segment(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  static String pretty(JsonElement e) {
    return new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create().toJson(e);
  }

  private HttpRequest.Builder request(String path) {
    String base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60));
    String t = token(System.getenv());
    if (t != null) {
      b.header("Authorization", "Bearer " + t);
    }
    return b;
  }

  private Reply send(HttpRequest.Builder b) throws IOException, InterruptedException, Unreachable {
    try {
      HttpResponse<byte[]> r = http().send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
      if (r.statusCode() == 401 && token(System.getenv()) == null) {
        String hint = " [no token given: use --token, GAPRUNE_HTTP_TOKEN, or, on the coordinator's host, --work-dir"
            + " naming its work dir (" + OperatorToken.file(workDir) + " does not exist)]";
        return new Reply(r.statusCode(), r.body(), hint);
      }
      return new Reply(r.statusCode(), r.body());
    } catch (javax.net.ssl.SSLException e) {
      throw new Unreachable("the TLS handshake with " + url + " failed (" + e.getMessage() + "): is the URL's scheme"
          + " right, and does --trust-store hold the CA that signed the coordinator's certificate?");
    } catch (ConnectException e) {
      throw new Unreachable("no coordinator answers at " + url + " (is `gaprune coordinator` running, and is"
          + " --coordinator right?)");
    }
  }
}
