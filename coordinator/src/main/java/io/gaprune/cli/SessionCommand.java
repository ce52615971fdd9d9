package io.gaprune.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import io.gaprune.pipeline.PipelineOptions;
import io.gaprune.planner.MethodSpec;
import io.gaprune.session.SessionEstimate;
import io.gaprune.session.SessionRules;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code gaprune session list|status|start|cancel|workers|drain|report}: the coordinator's operator API
 * (docs/operator-api.md) from the command line, one subcommand per endpoint. Prints the API's JSON; exits 0
 * on success, 1 when the API refuses or nothing answers, 2 on bad usage. {@code gaprune session estimate}
 * sizes a session from a model's config.json without any coordinator.
 */
@Command(name = "session", mixinStandardHelpOptions = true,
    description = "Operate sessions on a running coordinator through its HTTP API (see docs/operator-api.md).",
    subcommands = {SessionCommand.ListSessions.class, SessionCommand.Status.class, SessionCommand.Start.class,
        SessionCommand.Cancel.class, SessionCommand.Workers.class, SessionCommand.Drain.class,
        SessionCommand.Report.class, SessionCommand.Estimate.class})
public final class SessionCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** What the subcommands share: the API client, output, and the error convention. */
  abstract static class Base implements Callable<Integer> {
    @Mixin ApiClient api;
    @Spec CommandSpec spec;

    @Override
    public final Integer call() throws Exception {
      try {
        return run();
      } catch (ApiClient.Unreachable e) {
        return fail(e.getMessage());
      }
    }

    abstract int run() throws Exception;

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    int fail(String message) {
      PrintWriter err = spec.commandLine().getErr();
      err.println("gaprune session " + spec.name() + ": " + message);
      err.flush();
      return 1;
    }

    /** Prints a JSON reply when it is a success, its error otherwise. */
    int print(ApiClient.Reply r) {
      if (!r.ok()) {
        return fail(r.error());
      }
      out().println(ApiClient.pretty(r.json()));
      out().flush();
      return 0;
    }

    /** The session the command is about: the one named, else the coordinator's current session. */
    String sessionOrCurrent(String id) throws Exception {
      if (id != null) {
        return id;
      }
      ApiClient.Reply r = api.get(ApiClient.API + "/sessions");
      if (!r.ok()) {
        throw new ApiClient.Unreachable(r.error());
      }
      JsonElement current = r.json().get("current");
      if (current == null || current.isJsonNull()) {
        throw new ApiClient.Unreachable("the coordinator holds no session yet");
      }
      return current.getAsString();
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "The current session and the earlier ones the coordinator's journal records.")
  static final class ListSessions extends Base {
    @Override
    int run() throws Exception {
      return print(api.get(ApiClient.API + "/sessions"));
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "A session's state, phase, units done/total, triplets/s and workers (default: the current one).")
  static final class Status extends Base {
    @Parameters(index = "0", arity = "0..1", paramLabel = "ID", description = "session id (default: the current)")
    String id;

    @Override
    int run() throws Exception {
      return print(api.get(ApiClient.API + "/sessions/" + ApiClient.segment(sessionOrCurrent(id))));
    }
  }

  @Command(name = "start", mixinStandardHelpOptions = true,
      description = "Start a session; options left out take the coordinator's gaprune.session defaults.")
  static final class Start extends Base {
    @Option(names = "--general", required = true,
        description = "general-domain triplets (JSON array), a path every worker can read")
    String general;
    @Option(names = "--domain", required = true, description = "domain triplets") String domain;
    @Option(names = "--session-id") String sessionId;
    @Option(names = "--seed") Long seed;
    @Option(names = "--batch-size") Integer batchSize;
    @Option(names = "--batches-per-unit") Integer batchesPerUnit;
    @Option(names = "--limit", description = "at most this many triplets of each set") Integer limit;
    @Option(names = "--sparsity") Double sparsity;
    @Option(names = "--candidates", description = "mlp, attention, linear, all") String candidates;
    @Option(names = "--partition-budget-mb") Long partitionBudgetMb;
    @Option(names = "--scoring", description = "planner scoring as compare's entries, e.g. "
        + "dai-calibrated (default), dai-calibrated:q=1:lambda=1, dai, magnitude, wanda; sparsegpt, "
        + "dai-calibrated:reconstruct=1 and dai-calibrated:adaptive=1 also write weights.safetensors (their "
        + "updated weights)") String scoring;
    @Option(names = "--structure", description = "unstructured (default) or N:M, e.g. 2:4: every group of M "
        + "consecutive input weights of a row keeps N; fixes the sparsity at 1 − N/M") String structure;
    @Option(names = "--calibration", description = "the half whose input statistics wanda and sparsegpt read: "
        + "domain (default), general or both") String calibration;

    @Override
    int run() throws Exception {
      // The rules the coordinator applies, checked here first with the same messages (named by the options).
      try {
        if (sessionId != null) SessionRules.check("session_id", sessionId, SessionRules.SESSION_START);
        if (batchSize != null) SessionRules.check("batch_size", batchSize, SessionRules.SESSION_START);
        if (batchesPerUnit != null) SessionRules.check("batches_per_unit", batchesPerUnit, SessionRules.SESSION_START);
        if (limit != null) SessionRules.check("general_limit", limit, SessionRules.SESSION_START);
        if (sparsity != null) SessionRules.check("sparsity", sparsity, SessionRules.SESSION_START);
        if (candidates != null) SessionRules.check("candidates", candidates, SessionRules.SESSION_START);
        if (scoring != null) SessionRules.check("scoring", scoring, SessionRules.SESSION_START);
        if (calibration != null) SessionRules.check("calibration", calibration, SessionRules.SESSION_START);
        if (partitionBudgetMb != null && (partitionBudgetMb < 0 || partitionBudgetMb > Long.MAX_VALUE >> 20)) {
          throw new IllegalArgumentException("--partition-budget-mb must be between 0 and " + (Long.MAX_VALUE >> 20)
              + ", got " + partitionBudgetMb);
        }
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
      }
      JsonObject o = new JsonObject();
      // Paths as the coordinator and the workers will open them: absolute, resolved here.
      o.addProperty("general_path", Path.of(general).toAbsolutePath().normalize().toString());
      o.addProperty("domain_path", Path.of(domain).toAbsolutePath().normalize().toString());
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
      if (scoring != null) o.addProperty("scoring", scoring);
      if (structure != null) o.addProperty("structure", structure);
      if (calibration != null) o.addProperty("calibration", calibration);
      return print(api.post(ApiClient.API + "/sessions", o.toString()));
    }
  }

  @Command(name = "cancel", mixinStandardHelpOptions = true,
      description = "Cancel a running session (default: the current one).")
  static final class Cancel extends Base {
    @Parameters(index = "0", arity = "0..1", paramLabel = "ID", description = "session id (default: the current)")
    String id;

    @Override
    int run() throws Exception {
      return print(api.post(ApiClient.API + "/sessions/" + ApiClient.segment(sessionOrCurrent(id)) + "/cancel", null));
    }
  }

  @Command(name = "workers", mixinStandardHelpOptions = true,
      description = "The live workers: id (device@host:pid), state, unit, triplets/s.")
  static final class Workers extends Base {
    @Override
    int run() throws Exception {
      return print(api.get(ApiClient.API + "/workers"));
    }
  }

  @Command(name = "drain", mixinStandardHelpOptions = true,
      description = "Let a worker finish its unit and leave. WORKER is its id as `workers` lists it, or a part of"
          + " it that names exactly one live worker.")
  static final class Drain extends Base {
    @Parameters(index = "0", arity = "0..1", paramLabel = "WORKER") String worker;
    @Option(names = "--worker", hidden = true, description = "the former spelling of WORKER") String workerOption;

    @Override
    int run() throws Exception {
      String wanted = worker != null ? worker : workerOption;
      if (wanted == null) {
        throw new CommandLine.ParameterException(spec.commandLine(), "which worker? give its id (see `gaprune session workers`)");
      }
      ApiClient.Reply r = api.get(ApiClient.API + "/workers");
      if (!r.ok()) {
        return fail(r.error());
      }
      JsonArray workers = r.json().getAsJsonArray("workers");
      List<String> ids = new ArrayList<>();
      List<String> matching = new ArrayList<>();
      for (JsonElement w : workers) {
        String id = w.getAsJsonObject().get("id").getAsString();
        String ref = w.getAsJsonObject().get("ref").getAsString();
        ids.add(id);
        if (id.equals(wanted) || ref.equals(wanted)) {
          matching.clear();
          matching.add(id);
          break;
        }
        if (id.contains(wanted)) {
          matching.add(id);
        }
      }
      if (matching.size() != 1) {
        return fail((matching.isEmpty() ? "no live worker matches \"" : "more than one worker matches \"") + wanted
            + "\"; live workers: " + (matching.isEmpty() ? ids : matching));
      }
      return print(api.post(ApiClient.API + "/workers/" + ApiClient.segment(matching.get(0)) + "/drain", null));
    }
  }

  @Command(name = "report", mixinStandardHelpOptions = true,
      description = "A finished session's report: its plan (plan.json) as JSON, or one of its files with --file.")
  static final class Report extends Base {
    @Parameters(index = "0", arity = "0..1", paramLabel = "ID", description = "session id (default: the current)")
    String id;
    @Option(names = "--file", description = "plan.json, masks.safetensors or (scorings that update the kept "
        + "weights) weights.safetensors: download that file as it is") String file;
    @Option(names = "--out", description = "write to this file instead of standard output") Path outFile;

    @Override
    int run() throws Exception {
      String path = ApiClient.API + "/sessions/" + ApiClient.segment(sessionOrCurrent(id)) + "/report"
          + (file == null ? "" : "?file=" + ApiClient.segment(file));
      ApiClient.Reply r = api.get(path);
      if (!r.ok()) {
        return fail(r.error());
      }
      if (outFile != null) {
        Files.write(outFile, r.body());
        out().println("wrote " + r.body().length + " bytes to " + outFile);
        out().flush();
        return 0;
      }
      if (file != null && file.endsWith(".safetensors")) {
        return fail("binary file: give --out FILE");
      }
      return print(r);
    }
  }

  @Command(name = "estimate", mixinStandardHelpOptions = true,
      description = {"Size a session before starting one: units, layer partitions, passes per batch, shard bytes, "
          + "bytes through the busiest node, memory per worker and per merger.",
          "Reads only the model's config.json (no weights) and contacts no coordinator; the layout is the session "
              + "partitioner's own (docs/cluster.md, \"Sizing a session\")."})
  static final class Estimate implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH",
        description = "Hugging Face model folder (only its config.json is read), or minilm / bge-small")
    String model;
    @Option(names = "--workers", required = true, paramLabel = "N", description = "worker processes, one per device")
    int workers;
    @Option(names = "--layers", defaultValue = "mlp", paramLabel = "L",
        description = "candidate layer types, as run's --layers (default ${DEFAULT-VALUE})")
    String layers;
    @Option(names = "--samples", defaultValue = "" + PipelineOptions.DEFAULT_SAMPLES, paramLabel = "S",
        description = "calibration triplets per set (default ${DEFAULT-VALUE}, as run)")
    int samples;
    @Option(names = "--batch-size", defaultValue = "" + PipelineOptions.DEFAULT_BATCH_SIZE, paramLabel = "B",
        description = "triplets per batch and half (default ${DEFAULT-VALUE}, as run)")
    int batchSize;
    @Option(names = "--batches-per-unit", paramLabel = "U",
        description = "batches per unit (default: run's rule, ceil(batches / 8); a session started through the API "
            + "takes its request's or gaprune.session.batches-per-unit)")
    Integer batchesPerUnit;
    @Option(names = "--scoring", split = ",", defaultValue = MethodSpec.DEFAULT_SCORING, paramLabel = "METHOD",
        description = "scoring(s) the session serves, as compare's entries, comma-separated; decides whether Σg is "
            + "collected (default ${DEFAULT-VALUE})")
    List<String> scorings;
    @Option(names = "--device-memory", defaultValue = "80GB", paramLabel = "BYTES",
        description = "memory of one worker's device: bytes, or 80GB, 40GiB (default ${DEFAULT-VALUE}); "
            + "the unit sums may take 60%% of what the model's weights leave")
    String deviceMemory;
    @Option(names = "--accumulator-memory", paramLabel = "BYTES",
        description = "the workers' gaprune.session.accumulator-memory, when set: overrides the share of "
            + "--device-memory")
    String accumulatorMemory;
    @Option(names = "--mergers", defaultValue = "1", paramLabel = "M",
        description = "nodes owning the accumulators (default ${DEFAULT-VALUE}: the coordinator receives every shard)")
    int mergers;
    @Option(names = "--json", description = "print one JSON object (snake_case keys, bytes in bytes)")
    boolean json;

    @Override
    public Integer call() {
      SessionEstimate.Request request;
      try {
        request = new SessionEstimate.Request(model, workers, layers, samples, batchSize,
            batchesPerUnit == null ? 0 : batchesPerUnit, scorings,
            SessionEstimate.parseBytes("--device-memory", deviceMemory),
            accumulatorMemory == null ? 0 : SessionEstimate.parseBytes("--accumulator-memory", accumulatorMemory),
            mergers);
        if (batchesPerUnit != null && batchesPerUnit < 1) {
          throw new IllegalArgumentException("--batches-per-unit must be at least 1, got " + batchesPerUnit);
        }
      } catch (IllegalArgumentException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
      }
      try {
        var result = SessionEstimate.estimate(request);
        var out = spec.commandLine().getOut();
        out.print(json ? new GsonBuilder().create().toJson(result.toJson()) + System.lineSeparator()
            : result.toTable());
        out.flush();
        return 0;
      } catch (IOException | IllegalArgumentException e) {
        var err = spec.commandLine().getErr();
        err.println(spec.qualifiedName() + ": " + e.getMessage());
        err.flush();
        return 1;
      }
    }
  }
}
