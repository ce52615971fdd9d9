package io.gaprune.cli;

import com.google.gson.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code gaprune session start|status|drain|cancel}: talks to a running coordinator's loopback HTTP front. */
@Command(name = "session", mixinStandardHelpOptions = true,
    description = "Start, inspect, drain or cancel a session on a running coordinator (HTTP on loopback).")
public final class SessionCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "start, status, drain or cancel")
  String action;

  @Option(names = "--coordinator", defaultValue = "http://127.0.0.1:8558", description = "the coordinator's HTTP front")
  String url;

  @Option(names = "--general", description = "general-domain triplets (JSON array)") String general;
  @Option(names = "--domain", description = "domain triplets (JSON array)") String domain;
  @Option(names = "--session-id") String sessionId;
  @Option(names = "--seed") Long seed;
  @Option(names = "--batch-size") Integer batchSize;
  @Option(names = "--batches-per-unit") Integer batchesPerUnit;
  @Option(names = "--limit", description = "at most this many triplets of each set") Integer limit;
  @Option(names = "--sparsity") Double sparsity;
  @Option(names = "--candidates", description = "mlp, attention, linear, all") String candidates;
  @Option(names = "--partition-budget-mb") Long partitionBudgetMb;
  @Option(names = "--worker", description = "drain: worker ref or a fragment of device@host:pid") String worker;

  @Override
  public Integer call() throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpRequest.Builder req;
    switch (action) {
      case "status" -> req = HttpRequest.newBuilder(URI.create(url + "/session/status")).GET();
      case "cancel" -> req = HttpRequest.newBuilder(URI.create(url + "/session/cancel")).POST(HttpRequest.BodyPublishers.noBody());
      case "drain" -> {
        if (worker == null) {
          System.err.println("gaprune session drain: --worker is required");
          return 2;
        }
        req = HttpRequest.newBuilder(URI.create(url + "/session/drain?worker="
            + URLEncoder.encode(worker, StandardCharsets.UTF_8))).POST(HttpRequest.BodyPublishers.noBody());
      }
      case "start" -> {
        if (general == null || domain == null) {
          System.err.println("gaprune session start: --general and --domain are required");
          return 2;
        }
        JsonObject o = new JsonObject();
        o.addProperty("general_path", general);
        o.addProperty("domain_path", domain);
        if (sessionId != null) o.addProperty("session_id", sessionId);
        if (seed != null) o.addProperty("seed", seed);
        if (batchSize != null) o.addProperty("batch_size", batchSize);
        if (batchesPerUnit != null) o.addProperty("batches_per_unit", batchesPerUnit);
        if (limit != null) {
          o.addProperty("general_limit", limit);
          o.addProperty("domain_limit", limit);
        }
        if (sparsity != null) o.addProperty("sparsity", sparsity);
        if (candidates != null) o.addProperty("candidates", candidates);
        if (partitionBudgetMb != null) o.addProperty("partition_budget_bytes", partitionBudgetMb << 20);
        req = HttpRequest.newBuilder(URI.create(url + "/session/start"))
            .POST(HttpRequest.BodyPublishers.ofString(o.toString()));
      }
      default -> {
        System.err.println("gaprune session: unknown action \"" + action + "\" (start, status, drain, cancel)");
        return 2;
      }
    }
    try {
      HttpResponse<String> resp = http.send(req.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
      System.out.println(resp.body());
      return resp.statusCode() == 200 ? 0 : 1;
    } catch (java.net.ConnectException e) {
      System.err.println("gaprune session: no coordinator answers at " + url + " (is `gaprune coordinator` running?)");
      return 1;
    }
  }
}
