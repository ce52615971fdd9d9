package io.gaprune.bench;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.protobuf.GeneratedMessage;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import io.gaprune.config.GapruneConfig;
import io.gaprune.data.Triplet;
import io.gaprune.data.TripletReader;
import io.gaprune.model.LoadedModel;
import io.gaprune.model.ModelLoader;
import io.gaprune.protocol.RequestWork;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.UnitResult;
import io.gaprune.session.EmbeddedSession;
import io.gaprune.stats.StatisticsStep;
import io.gaprune.stats.TripletBatch;
import io.gaprune.stats.UnitStatistics;
import io.gaprune.worker.ModelUnitComputer;
import io.gaprune.worker.WorkerSettings;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.stream.SourceRef;
import io.gaprune.transfer.ShardClient;
import org.apache.pekko.stream.StreamRefAttributes;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * {@code gaprune bench cluster}: how much of the machine's compute and wire a session gets, measured side by side
 * in one run. Four figures and their ratios:
 * <ol>
 *   <li>the bare {@link StatisticsStep} loop on the real model (Fisher-only, as the default scoring needs), one
 *       thread;</li>
 *   <li>an embedded session with 1 worker over the same number of batches (the in-process worker on the same loaded
 *       model, statistics only, float32 shards streamed, staged and folded: everything a session does);</li>
 *   <li>the same session with 2 one-thread workers (the in-process one and one child JVM);</li>
 *   <li>shard bytes from a child JVM to this one over the configured transport (the worker's shard port, or a
 *       StreamRef of {@link ShardChunk}s; the product's codec and chunk size; CRC32C checked at the end) against a
 *       raw loopback socket copy.</li>
 * </ol>
 * Triplets/s count both halves (a batch of 8 + 8 is 16 triplets). Medians over {@code rounds}; the parts of one
 * round are interleaved so that a noisy neighbour hurts them alike.
 */
public final class ClusterBench {
  private ClusterBench() {}

  /**
   * A shard-streaming setting to measure; null fields take the configuration's value.
   *
   * @param transport {@code tcp} (the worker's shard port) or {@code stream-ref} ({@code gaprune.stream.transport})
   * @param chunkBytes value bytes per chunk on that transport ({@code tcp-chunk-bytes} or {@code chunk-bytes})
   */
  public record Variant(String name, String transport, Integer chunkBytes, Integer bufferCapacity, Boolean largeLane) {
    /**
     * Parses {@code transport=stream-ref,chunk-bytes=128KiB,buffer-capacity=128,large-lane=on} (any key may be left
     * out): the transport, the chunk size, the stream-ref buffer, and whether the stream-ref stage actors talk over
     * Artery's large-message lane ({@code gaprune.stream.large-message-lane}).
     */
    public static Variant parse(String text) {
      String transport = null;
      Integer chunk = null;
      Integer buffer = null;
      Boolean lane = null;
      for (String part : text.split(",")) {
        String[] kv = part.split("=", 2);
        if (kv.length != 2) {
          throw new IllegalArgumentException("shard variant \"" + text + "\": expected KEY=VALUE[,KEY=VALUE]");
        }
        String key = kv[0].trim();
        String value = kv[1].trim();
        switch (key) {
          case "transport" -> transport = switch (value) {
            case "tcp", "stream-ref" -> value;
            default -> throw new IllegalArgumentException("shard variant \"" + text + "\": transport is tcp or stream-ref");
          };
          case "chunk-bytes" -> chunk = (int) ConfigFactory.parseString("b = " + value).getBytes("b").longValue();
          case "buffer-capacity" -> buffer = Integer.parseInt(value);
          case "large-lane" -> lane = switch (value) {
            case "on", "true" -> true;
            case "off", "false" -> false;
            default -> throw new IllegalArgumentException("shard variant \"" + text + "\": large-lane is on or off");
          };
          default -> throw new IllegalArgumentException("shard variant \"" + text + "\": unknown key \"" + key
              + "\" (transport, chunk-bytes, buffer-capacity, large-lane)");
        }
      }
      return new Variant(text, transport, chunk, buffer, lane);
    }
  }

  /** What to run; the defaults keep a run to a few minutes on 2 shared cores. */
  public record Options(String model, Path general, Path domain, int batches, int batchSize, int batchesPerUnit,
      int maxLength, int modelRounds, long shardBytes, int shardRounds, List<Variant> variants, Path workDir,
      Map<String, Object> overrides) {
    public Options {
      check(batches >= 1, "--batches must be at least 1, got " + batches);
      check(batchSize >= 1, "--batch-size must be at least 1, got " + batchSize);
      check(batchesPerUnit >= 1, "--batches-per-unit must be at least 1, got " + batchesPerUnit);
      check(maxLength >= 8, "--max-length must be at least 8, got " + maxLength);
      check(modelRounds >= 1, "--model-rounds must be at least 1, got " + modelRounds);
      check(shardBytes >= 1 << 20, "--shard-mb must be at least 1, got " + (shardBytes >> 20));
      check(shardRounds >= 1, "--shard-rounds must be at least 1, got " + shardRounds);
      variants = List.copyOf(variants);
      overrides = Map.copyOf(overrides);
    }

    private static void check(boolean ok, String message) {
      if (!ok) {
        throw new IllegalArgumentException(message);
      }
    }
  }

  /** One measured shard setting: medians of MB/s, and the setting as it ran. */
  public record ShardFigure(String name, String transport, int chunkBytes, int bufferCapacity, boolean largeLane,
      double mbPerS, List<Double> samples) {}

  /** Everything a run measured; ratios are of medians. */
  public record Result(Options options, int candidateTensors, long candidateWeights, double bare, double session1,
      double session2, List<Double> bareSamples, List<Double> session1Samples, List<Double> session2Samples,
      double socket, List<Double> socketSamples, List<ShardFigure> shards, long shardBytes) {

    public double sessionVsBare() {
      return session1 / bare;
    }

    public double twoWorkersVsOne() {
      return session2 / session1;
    }

    public double shardVsSocket() {
      return shards.get(0).mbPerS() / socket;
    }

    public JsonObject toJson() {
      JsonObject o = new JsonObject();
      o.addProperty("model", options.model());
      o.addProperty("batches", options.batches());
      o.addProperty("batch_size", options.batchSize());
      o.addProperty("batches_per_unit", options.batchesPerUnit());
      o.addProperty("max_length", options.maxLength());
      o.addProperty("candidate_tensors", candidateTensors);
      o.addProperty("candidate_weights", candidateWeights);
      o.addProperty("model_rounds", options.modelRounds());
      o.addProperty("bare_triplets_per_s", bare);
      o.addProperty("session_1_worker_triplets_per_s", session1);
      o.addProperty("session_2_workers_triplets_per_s", session2);
      o.addProperty("shard_bytes", shardBytes);
      o.addProperty("shard_rounds", options.shardRounds());
      o.addProperty("shard_mb_per_s", shards.get(0).mbPerS());
      o.addProperty("socket_mb_per_s", socket);
      o.addProperty("transport", shards.get(0).transport());
      o.addProperty("chunk_bytes", shards.get(0).chunkBytes());
      o.addProperty("buffer_capacity", shards.get(0).bufferCapacity());
      o.addProperty("large_message_lane", shards.get(0).largeLane());
      o.addProperty("session_vs_bare", sessionVsBare());
      o.addProperty("two_workers_vs_one", twoWorkersVsOne());
      o.addProperty("shard_vs_socket", shardVsSocket());
      JsonArray variants = new JsonArray();
      for (ShardFigure f : shards) {
        JsonObject v = new JsonObject();
        v.addProperty("name", f.name());
        v.addProperty("transport", f.transport());
        v.addProperty("chunk_bytes", f.chunkBytes());
        v.addProperty("buffer_capacity", f.bufferCapacity());
        v.addProperty("large_message_lane", f.largeLane());
        v.addProperty("mb_per_s", f.mbPerS());
        v.addProperty("vs_socket", f.mbPerS() / socket);
        JsonArray samples = new JsonArray();
        f.samples().forEach(samples::add);
        v.add("samples", samples);
        variants.add(v);
      }
      o.add("shard_variants", variants);
      return o;
    }

    public String toText() {
      var sb = new StringBuilder();
      sb.append(String.format(Locale.ROOT, "model %s, %d candidate tensors (%,d weights), %d batches of %d+%d "
              + "triplets, max length %d, %d batch(es) per unit, 1 thread per worker; medians of %d round(s)%n",
          options.model(), candidateTensors, candidateWeights, options.batches(), options.batchSize(),
          options.batchSize(), options.maxLength(), options.batchesPerUnit(), options.modelRounds()));
      sb.append(String.format(Locale.ROOT, "  bare StatisticsStep loop     %8.2f triplets/s%n", bare));
      sb.append(String.format(Locale.ROOT, "  session, 1 worker            %8.2f triplets/s  session_vs_bare    %.2f%n",
          session1, sessionVsBare()));
      sb.append(String.format(Locale.ROOT, "  session, 2 workers           %8.2f triplets/s  two_workers_vs_one %.2f%n",
          session2, twoWorkersVsOne()));
      sb.append(String.format(Locale.ROOT, "shard bytes child JVM -> this JVM, %.0f MB, medians of %d round(s)%n",
          shardBytes / 1e6, options.shardRounds()));
      sb.append(String.format(Locale.ROOT, "  raw loopback socket          %8.1f MB/s%n", socket));
      for (int i = 0; i < shards.size(); i++) {
        ShardFigure f = shards.get(i);
        String setting = f.transport().equals("tcp") ? String.format(Locale.ROOT, "shard port, chunk %d B", f.chunkBytes())
            : String.format(Locale.ROOT, "StreamRef, chunk %d B, buffer %d, %s lane", f.chunkBytes(), f.bufferCapacity(),
                f.largeLane() ? "large-message" : "ordinary");
        sb.append(String.format(Locale.ROOT, "  %-28s %8.1f MB/s  %s %.2f  (%s)%n",
            i == 0 ? "(configured)" : f.name(), f.mbPerS(), i == 0 ? "shard_vs_socket   " : "vs socket         ",
            f.mbPerS() / socket, setting));
      }
      return sb.toString();
    }
  }

  /** Runs every part; progress lines go to {@code log}. */
  public static Result run(Options o, PrintStream log) throws Exception {
    Files.createDirectories(o.workDir());
    Config base = config(o.workDir().resolve("node"), o.overrides());
    WorkerSettings.from(base, "cpu"); // a chunk size a worker would refuse fails the run before anything runs
    for (Variant v : o.variants()) {
      // refused here, as a worker would refuse it, not by a sender process later
      WorkerSettings.from(senderSettings(base, v), "cpu");
    }
    // model part
    List<Triplet> general = TripletReader.readAll(o.general());
    List<Triplet> domain = TripletReader.readAll(o.domain());
    int need = o.batches() * o.batchSize();
    if (general.size() < need || domain.size() < need) {
      throw new IllegalArgumentException(String.format(Locale.ROOT, "%d batches of %d need %d triplets per set; %s has "
          + "%d, %s has %d", o.batches(), o.batchSize(), need, o.general(), general.size(), o.domain(), domain.size()));
    }
    List<Double> bare = new ArrayList<>();
    List<Double> s1 = new ArrayList<>();
    List<Double> s2 = new ArrayList<>();
    int tensors;
    long weights;
    double triplets = 2.0 * need;
    try (NDManager manager = NDManager.newBaseManager();
        LoadedModel model = ModelLoader.load(o.model(), manager, DataType.FLOAT32, o.maxLength());
        // the sessions' in-process worker computes on this model (one copy of the weights, as `run` does)
        ModelUnitComputer runtime = new ModelUnitComputer(model, o.model(), o.maxLength())) {
      List<TensorSpec> candidates = runtime.candidateTensors("mlp");
      tensors = candidates.size();
      weights = candidates.stream().mapToLong(t -> t.getShapeList().stream().mapToLong(Long::longValue)
          .reduce(1, (a, b) -> a * b)).sum();
      log.printf(Locale.ROOT, "bench: %s loaded, %d MLP tensors (%,d weights)%n", o.model(), tensors, weights);
      StatisticsStep step = new StatisticsStep(model.encoder(), candidates.stream().map(TensorSpec::getName).toList())
          .fisherOnly();
      // one warm-up batch, not timed
      bareLoop(step, model, manager, general, domain, o.batchSize(), 1);
      for (int round = 0; round < o.modelRounds(); round++) {
        double seconds = bareLoop(step, model, manager, general, domain, o.batchSize(), o.batches());
        bare.add(triplets / seconds);
        log.printf(Locale.ROOT, "bench: bare loop %.2f triplets/s (%.1f s)%n", triplets / seconds, seconds);
        for (int workers = 1; workers <= 2; workers++) {
          String id = "bench-" + round + "-w" + workers;
          Config config = config(o.workDir().resolve(id), o.overrides());
          SessionConfig session = sessionConfig(o, id, config);
          var result = EmbeddedSession.run(session, config, workers, Duration.ofHours(2), status -> {}, runtime);
          double s = result.sessionTime().toNanos() / 1e9;
          (workers == 1 ? s1 : s2).add(triplets / s);
          log.printf(Locale.ROOT, "bench: session with %d worker(s) %.2f triplets/s (%.1f s, %d units, %.1f MB of shards "
              + "from %d worker(s))%n", workers, triplets / s, s, result.status().getSession().getUnits(),
              result.status().getSession().getShardBytes() / 1e6, result.status().getSession().getWorkers());
        }
      }
    }
    // shard part
    List<Variant> variants = new ArrayList<>();
    variants.add(resolved(base, new Variant("configured", null, null, null, null)));
    for (Variant v : o.variants()) {
      variants.add(resolved(base, v));
    }
    List<Double> socket = new ArrayList<>();
    List<List<Double>> perVariant = new ArrayList<>();
    variants.forEach(v -> perVariant.add(new ArrayList<>()));
    long shardBytes = 0;
    // one receiving node per lane setting (both ends of a stream must agree on it), each its own cluster
    Map<Boolean, ActorSystem<Void>> systems = new LinkedHashMap<>();
    List<Process> senders = new ArrayList<>();
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      for (Variant v : variants) {
        if (!systems.containsKey(v.largeLane())) {
          Config c = config(o.workDir().resolve("receiver-" + (v.largeLane() ? "large" : "ordinary")),
              o.overrides(), Map.of("gaprune.stream.large-message-lane", v.largeLane()));
          ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), c.getString("gaprune.cluster.system-name"), c);
          systems.put(v.largeLane(), system);
          Cluster cluster = Cluster.get(system);
          cluster.manager().tell(Join.create(cluster.selfMember().address()));
        }
      }
      List<ActorRef<GeneratedMessage>> refs = new ArrayList<>();
      for (int i = 0; i < variants.size(); i++) {
        Variant v = variants.get(i);
        String address = Cluster.get(systems.get(v.largeLane())).selfMember().address().toString();
        Config child = ConfigFactory.empty()
            .withValue("gaprune.cluster.seed-nodes", ConfigValueFactory.fromIterable(List.of(address)))
            .withValue("gaprune.cluster.port", ConfigValueFactory.fromAnyRef(0))
            .withValue("gaprune.work-dir", ConfigValueFactory.fromAnyRef(o.workDir().resolve("sender-" + i).toString()))
            .withFallback(io.gaprune.config.GapruneConfig.settings(senderSettings(base, v)));
        Path file = o.workDir().resolve("sender-" + i + ".conf");
        Files.writeString(file, child.root().render(ConfigRenderOptions.concise().setJson(false)));
        senders.add(java(List.of("pekko", file.toString(), Long.toString(o.shardBytes()), Integer.toString(i)),
            o.workDir().resolve("sender-" + i + ".log")));
      }
      for (int i = 0; i < variants.size(); i++) {
        refs.add(findSender(systems.get(variants.get(i).largeLane()), ShardSender.key(Integer.toString(i)), senders,
            o.workDir()));
      }
      // warm-up, not timed: the JIT of both JVMs and the connections
      socketCopy(server, o.shardBytes(), o.workDir().resolve("socket.log"));
      for (int i = 0; i < variants.size(); i++) {
        pull(systems.get(variants.get(i).largeLane()), refs.get(i), variants.get(i));
      }
      for (int round = 0; round < o.shardRounds(); round++) {
        socket.add(socketCopy(server, o.shardBytes(), o.workDir().resolve("socket.log")));
        for (int i = 0; i < variants.size(); i++) {
          var r = pull(systems.get(variants.get(i).largeLane()), refs.get(i), variants.get(i));
          shardBytes = r[0];
          perVariant.get(i).add(r[0] / 1e6 / (r[1] / 1e9));
        }
        log.printf(Locale.ROOT, "bench: shard round %d: socket %.1f MB/s, shards %s MB/s%n", round + 1,
            socket.get(round), perVariant.stream().map(l -> String.format(Locale.ROOT, "%.1f", l.get(l.size() - 1))).toList());
      }
    } finally {
      senders.forEach(Process::destroy);
      for (Process p : senders) {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
      for (ActorSystem<Void> system : systems.values()) {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
    }
    List<ShardFigure> figures = new ArrayList<>();
    for (int i = 0; i < variants.size(); i++) {
      Variant v = variants.get(i);
      figures.add(new ShardFigure(v.name(), v.transport(), v.chunkBytes(), v.bufferCapacity(), v.largeLane(),
          median(perVariant.get(i)), List.copyOf(perVariant.get(i))));
    }
    return new Result(o, tensors, weights, median(bare), median(s1), median(s2), bare, s1, s2, median(socket), socket,
        figures, shardBytes);
  }

  /** {@code base} with the variant's stream settings (those it names; the others stay as configured). */
  private static Config senderSettings(Config base, Variant v) {
    Config c = base;
    if (v.transport() != null) {
      c = c.withValue("gaprune.stream.transport", ConfigValueFactory.fromAnyRef(v.transport()));
    }
    if (v.chunkBytes() != null) {
      String key = c.getString("gaprune.stream.transport").equals("tcp") ? "gaprune.stream.tcp-chunk-bytes"
          : "gaprune.stream.chunk-bytes";
      c = c.withValue(key, ConfigValueFactory.fromAnyRef(v.chunkBytes()));
    }
    if (v.bufferCapacity() != null) {
      c = c.withValue("gaprune.stream.buffer-capacity", ConfigValueFactory.fromAnyRef(v.bufferCapacity()));
    }
    if (v.largeLane() != null) {
      c = c.withValue("gaprune.stream.large-message-lane", ConfigValueFactory.fromAnyRef(v.largeLane()));
    }
    return c;
  }

  /** The variant with every setting filled in as the sender will run it. */
  private static Variant resolved(Config base, Variant v) {
    Config c = senderSettings(base, v);
    return new Variant(v.name(), c.getString("gaprune.stream.transport"), WorkerSettings.from(c, "cpu").chunkBytes(),
        c.getInt("gaprune.stream.buffer-capacity"), c.getBoolean("gaprune.stream.large-message-lane"));
  }

  /** Seconds for {@code batches} batches of the first triplets of each set through the step (Fisher-only). */
  static double bareLoop(StatisticsStep step, LoadedModel model, NDManager manager, List<Triplet> general,
      List<Triplet> domain, int batchSize, int batches) {
    long t0 = System.nanoTime();
    UnitStatistics sum = UnitStatistics.empty();
    for (int b = 0; b < batches; b++) {
      int at = b * batchSize;
      try (NDManager bm = manager.newSubManager()) {
        var g = TripletBatch.tokenize(general.subList(at, at + batchSize), model.tokenizer(), model.config(), bm);
        var d = TripletBatch.tokenize(domain.subList(at, at + batchSize), model.tokenizer(), model.config(), bm);
        sum = step.accumulate(g, d, sum);
      }
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  static SessionConfig sessionConfig(Options o, String id, Config config) {
    var defaults = config.getConfig("gaprune.session");
    return SessionConfig.newBuilder()
        .setSessionId(id)
        .setModel(o.model())
        .setGeneralPath(o.general().toAbsolutePath().toString())
        .setDomainPath(o.domain().toAbsolutePath().toString())
        .setGeneralLimit(o.batches() * o.batchSize())
        .setDomainLimit(o.batches() * o.batchSize())
        .setSeed(7)
        .setBatchSize(o.batchSize())
        .setBatchesPerUnit(o.batchesPerUnit())
        .setStatistics(StatisticSet.FISHER)
        .setStatisticsOnly(true)
        .setCandidates("mlp")
        .setSparsity(0.5)
        .setMaxSeqLen(o.maxLength())
        .setAlpha(defaults.getDouble("alpha"))
        .setBeta(defaults.getDouble("beta"))
        .setGamma(defaults.getDouble("gamma"))
        .setBudget("global")
        .build();
  }

  /** A private one-node cluster's settings: no operator endpoints, free ports, its own work dir. */
  @SafeVarargs
  static Config config(Path workDir, Map<String, Object>... overrides) {
    Config c = ConfigFactory.empty()
        .withValue("gaprune.work-dir", ConfigValueFactory.fromAnyRef(workDir.toAbsolutePath().toString()))
        .withValue("gaprune.http.enabled", ConfigValueFactory.fromAnyRef(false))
        .withValue("gaprune.management.enabled", ConfigValueFactory.fromAnyRef(false))
        .withValue("gaprune.cluster.seed-nodes", ConfigValueFactory.fromIterable(List.of()))
        .withValue("gaprune.cluster.port", ConfigValueFactory.fromAnyRef(0));
    for (Map<String, Object> layer : overrides) {
      for (var e : layer.entrySet()) {
        c = c.withValue(e.getKey(), ConfigValueFactory.fromAnyRef(e.getValue()));
      }
    }
    return GapruneConfig.load(null, c);
  }

  /**
   * The sender of one variant, found by its own service key: senders register in whatever order their JVMs
   * start, so a shared key would pair variants with the wrong senders.
   */
  private static ActorRef<GeneratedMessage> findSender(ActorSystem<Void> system, ServiceKey<GeneratedMessage> key,
      List<Process> senders, Path workDir) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (System.nanoTime() < deadline) {
      for (Process p : senders) {
        if (!p.isAlive()) {
          throw new IllegalStateException("a shard sender process ended with exit code " + p.exitValue()
              + "; see " + workDir + "/sender-*.log");
        }
      }
      var listing = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
          r -> Receptionist.find(key, r), Duration.ofSeconds(5), system.scheduler())
          .toCompletableFuture().get(6, TimeUnit.SECONDS);
      var instances = listing.getServiceInstances(key);
      if (!instances.isEmpty()) {
        return instances.iterator().next();
      }
      Thread.sleep(200);
    }
    throw new IllegalStateException("no shard sender joined within 120 s; see " + workDir + "/sender-*.log");
  }

  /** Pulls one offer completely; returns {bytes, nanoseconds}. Fails on a count or CRC32C mismatch. */
  private static long[] pull(ActorSystem<Void> system, ActorRef<GeneratedMessage> sender, Variant variant)
      throws Exception {
    int bufferCapacity = variant.bufferCapacity();
    var resolver = ActorRefResolver.get(system);
    UnitResult offer = (UnitResult) AskPattern.<GeneratedMessage, GeneratedMessage>ask(sender,
        r -> RequestWork.newBuilder().setWorkerRef(resolver.toSerializationFormat(r)).build(), Duration.ofSeconds(60),
        system.scheduler()).toCompletableFuture().get(61, TimeUnit.SECONDS);
    if (offer.hasTicket() != variant.transport().equals("tcp")) {
      throw new IllegalStateException("shard variant \"" + variant.name() + "\" (" + variant.transport()
          + ") got an offer over the other transport: the sender is not this variant's");
    }
    long t0 = System.nanoTime();
    Tally tally;
    if (offer.hasTicket()) {
      Tally t = new Tally();
      ShardClient.from(system.settings().config()).pull(offer.getTicket(), t::add);
      tally = t;
    } else {
      SourceRef<ShardChunk> ref = StreamRefResolver.get(system).resolveSourceRef(offer.getSourceRef());
      tally = ref.getSource()
          .addAttributes(StreamRefAttributes.bufferCapacity(bufferCapacity))
          .runWith(Sink.fold(new Tally(), Tally::add), system)
          .toCompletableFuture().get(30, TimeUnit.MINUTES);
    }
    long nanos = System.nanoTime() - t0;
    int crc = (int) tally.crc.getValue();
    if (tally.chunks != offer.getChunkCount() || tally.bytes != offer.getTotalBytes() || crc != offer.getCrc32C()) {
      throw new IllegalStateException(String.format(Locale.ROOT, "shard stream corrupted: %d chunks, %d bytes, CRC32C "
              + "%08x received; %d, %d, %08x offered", tally.chunks, tally.bytes, crc, offer.getChunkCount(),
          offer.getTotalBytes(), offer.getCrc32C()));
    }
    return new long[] {tally.bytes, nanos};
  }

  /** Receiver-side accounting of a shard stream, as the merger checks it: chunks, bytes, CRC32C of the values. */
  private static final class Tally {
    final CRC32C crc = new CRC32C();
    long chunks;
    long bytes;

    Tally add(ShardChunk c) {
      crc.update(c.getValues().asReadOnlyByteBuffer());
      chunks++;
      bytes += c.getValues().size();
      return this;
    }
  }

  /** MB/s of a raw loopback socket copy of {@code bytes}, child JVM to this one, 64 KiB reads. */
  private static double socketCopy(ServerSocket server, long bytes, Path log) throws Exception {
    Process p = java(List.of("socket", Integer.toString(server.getLocalPort()), Long.toString(bytes)), log);
    try {
      server.setSoTimeout(120_000);
      try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
        byte[] buf = new byte[1 << 16];
        long n = 0;
        long t0 = System.nanoTime();
        int r;
        while ((r = in.read(buf)) > 0) {
          n += r;
        }
        if (n != bytes) {
          throw new IllegalStateException("socket copy received " + n + " of " + bytes + " bytes; see " + log);
        }
        return n / 1e6 / ((System.nanoTime() - t0) / 1e9);
      }
    } finally {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
    }
  }

  /** {@link ShardSender} as a child JVM with this JVM's class path (as the embedded mode starts workers). */
  private static Process java(List<String> args, Path log) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx2g"));
    // Pekko settings given to this JVM as system properties hold for the sender too (both ends of the stream)
    System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("pekko.")).sorted()
        .forEach(k -> cmd.add("-D" + k + "=" + System.getProperty(k)));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ShardSender.class.getName()));
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
    return pb.start();
  }

  static double median(List<Double> values) {
    double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    if (v.length == 0) {
      throw new IllegalArgumentException("no samples");
    }
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }
}
