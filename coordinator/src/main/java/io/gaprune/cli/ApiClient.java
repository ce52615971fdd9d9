package io.gaprune.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The options every {@code gaprune session} subcommand shares (where the coordinator's API is, the token)
 * and the HTTP calls they make. A picocli mixin, so the options may follow the subcommand's name.
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

  /** A response: its status and body, already read. */
  record Reply(int status, byte[] body) {
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
          return o.get("error").getAsString() + " (HTTP " + status + ")";
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

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

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
    String t = token != null ? token : System.getenv("GAPRUNE_HTTP_TOKEN");
    if (t != null && !t.isBlank()) {
      b.header("Authorization", "Bearer " + t.strip());
    }
    return b;
  }

  private Reply send(HttpRequest.Builder b) throws IOException, InterruptedException, Unreachable {
    try {
      HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
      return new Reply(r.statusCode(), r.body());
    } catch (ConnectException e) {
      throw new Unreachable("no coordinator answers at " + url + " (is `gaprune coordinator` running, and is"
          + " --coordinator right?)");
    }
  }
}
