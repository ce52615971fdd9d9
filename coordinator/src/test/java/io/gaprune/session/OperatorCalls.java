package io.gaprune.session;

import io.gaprune.api.OperatorToken;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Calls of the operator API the way its clients make them: the bearer token (a coordinator with none
 * configured generates one in its work dir, which {@link #token} reads) and, on a POST, the JSON content type.
 */
public final class OperatorCalls {
  private OperatorCalls() {}

  /** The token a coordinator generated in {@code workDir} at its first start (waits until it is there). */
  public static String token(Path workDir, Duration timeout) throws Exception {
    Path f = OperatorToken.file(workDir);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!Files.isRegularFile(f) || Files.size(f) == 0) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no operator token in " + f + " within " + timeout.toSeconds() + " s");
      }
      Thread.sleep(100);
    }
    return OperatorToken.read(f).orElseThrow();
  }

  public static HttpRequest.Builder request(String url, String token) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(20));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return b;
  }

  public static HttpResponse<String> get(HttpClient http, String url, String token) throws Exception {
    return http.send(request(url, token).build(), HttpResponse.BodyHandlers.ofString());
  }

  public static HttpResponse<String> post(HttpClient http, String url, String json, String token) throws Exception {
    return http.send(request(url, token).header("Content-Type", "application/json")
        .POST(json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json)).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
