package io.gaprune.session;

import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.gaprune.model.HuggingFaceFolder;
import io.gaprune.model.LayerType;
import io.gaprune.model.ModelConfig;
import io.gaprune.pipeline.PipelineOptions;
import io.gaprune.pipeline.PruningPipeline;
import io.gaprune.planner.MethodSpec;
import io.gaprune.planner.ScoringConfig;
import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.WorkUnit;
import io.gaprune.worker.ShardCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The layout and costs of a statistics session, computed from a model's {@code config.json} alone, so an
 * operator can size a cluster before starting one ({@code gaprune session estimate}, docs/cluster.md "Sizing
 * a session").
 *
 * <p>Nothing here re-derives the session's rules: the candidate tensors are the loader's own parameter list
 * ({@link HuggingFaceFolder#parameterShapes}, which the encoders hold a checkpoint to) filtered by
 * {@link LayerType}; the units and layer partitions are what {@link Partitioner#plan} makes of them for a
 * calibration set of {@code samples} triplets per side; the statistics are those the scoring reads
 * ({@link ScoringConfig#needsGradientSums()}, {@link ShardCodec#statistics}); what a worker holds for a
 * partition is {@link Partitioner#partitionBytes}. What is added is the arithmetic of bytes and the assignment of
 * tensors to mergers.
 */
public final class SessionEstimate {
  private SessionEstimate() {}

  /**
   * Share of a device's memory left beside the model's weights that the unit sums may take when the
   * accumulator memory is derived from {@code --device-memory}; the rest is for what the step needs besides:
   * activations kept for the backward pass, autograd's own gradient buffers (float32, one per candidate weight
   * at least) and the runtime's workspace. The same share {@code accumulator-memory = auto} gives of a heap.
   */
  public static final double DEVICE_SHARE = Partitioner.AUTO_HEAP_SHARE;

  /** An 80 GB accelerator (H100/A100 80GB), counted in decimal bytes: below what the cards report, never above. */
  public static final long DEFAULT_DEVICE_MEMORY = 80_000_000_000L;

  /** Bytes of one parameter of the model as a worker holds it (the runtime loads float32). */
  public static final int WEIGHT_BYTES = Float.BYTES;

  /** Bytes of one accumulator value on a merger (float64 folds; docs/cluster.md "Data path"). */
  public static final int MERGER_VALUE_BYTES = Double.BYTES;

  /**
   * The published {@code config.json} of the bundled short names (the class-path ONNX exports carry none):
   * the dimensions the ONNX initializers have, so the estimate matches what {@code run --model NAME} loads.
   */
  private static final Map<String, String> KNOWN_CONFIGS = Map.of(
      "minilm", """
          {"model_type": "bert", "vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
           "num_attention_heads": 12, "intermediate_size": 1536, "max_position_embeddings": 512,
           "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}""",
      "bge-small", """
          {"model_type": "bert", "vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 12,
           "num_attention_heads": 12, "intermediate_size": 1536, "max_position_embeddings": 512,
           "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}""");

  /**
   * What to estimate.
   *
   * @param model a Hugging Face folder (only its config.json is read) or a bundled short name
   * @param workers worker processes (one per device)
   * @param layers candidate layer types ({@link LayerType#VALID})
   * @param samples calibration triplets per set (general and domain alike)
   * @param batchSize triplets per batch and half
   * @param batchesPerUnit batches per unit; 0 for {@code run}'s rule, {@link PruningPipeline#batchesPerUnit}
   * @param scorings the scorings the session serves ({@code compare} asks for the union of its methods' needs)
   * @param deviceMemory bytes of one worker's device
   * @param accumulatorMemory the bytes a worker gives its unit sums; 0 derives them from the device memory
   * @param mergers nodes that own the float64 accumulators (1: the coordinator receives every shard)
   */
  public record Request(String model, int workers, String layers, int samples, int batchSize, int batchesPerUnit,
      List<String> scorings, long deviceMemory, long accumulatorMemory, int mergers) {
    public Request {
      scorings = List.copyOf(scorings);
      require(workers >= 1, "--workers must be at least 1, got " + workers);
      require(batchSize >= 2, "--batch-size must be at least 2 (in-batch negatives), got " + batchSize);
      require(samples >= batchSize, "--samples " + samples + " is less than one batch of " + batchSize
          + " triplets (the estimate needs the calibration set's size: 0 for \"all\" is not known here)");
      require(batchesPerUnit >= 0, "--batches-per-unit must be at least 1, got " + batchesPerUnit);
      require(deviceMemory > 0, "--device-memory must be positive, got " + deviceMemory);
      require(accumulatorMemory >= 0, "--accumulator-memory must be positive (or 0: derived from the device "
          + "memory), got " + accumulatorMemory);
      require(mergers >= 1, "--mergers must be at least 1, got " + mergers);
      require(!scorings.isEmpty(), "--scoring names no method");
      LayerType.parse(layers);
    }

    /** {@code run}'s defaults: 512 samples in batches of 16, its batches per unit, its scoring, 80 GB, 1 merger. */
    public static Request of(String model, int workers) {
      return new Request(model, workers, "mlp", PipelineOptions.DEFAULT_SAMPLES, PipelineOptions.DEFAULT_BATCH_SIZE,
          0, List.of(MethodSpec.DEFAULT_SCORING), DEFAULT_DEVICE_MEMORY, 0, 1);
    }

    public Request withDeviceMemory(long bytes) {
      return new Request(model, workers, layers, samples, batchSize, batchesPerUnit, scorings, bytes,
          accumulatorMemory, mergers);
    }

    public Request withMergers(int n) {
      return new Request(model, workers, layers, samples, batchSize, batchesPerUnit, scorings, deviceMemory,
          accumulatorMemory, n);
    }
  }

  /**
   * A model's parameters as the loader names them, from its config alone.
   *
   * @param source the folder's config.json, or the short name
   * @param config the architecture
   * @param parameters every parameter in model order, with its shape
   */
  public record Architecture(String source, ModelConfig config, Map<String, long[]> parameters) {
    public long weights() {
      return parameters.values().stream().mapToLong(SessionEstimate::elements).sum();
    }

    /** The candidate tensors of these layer types, in model order, as the session's units list them. */
    public List<TensorSpec> candidates(String layers) {
      var types = LayerType.parse(layers);
      var out = new ArrayList<TensorSpec>();
      parameters.forEach((name, shape) -> {
        if (LayerType.isCandidate(types, name, shape)) {
          out.add(TensorSpec.newBuilder().setName(name).addAllShape(Arrays.stream(shape).boxed().toList()).build());
        }
      });
      return out;
    }
  }

  /**
   * The estimate. Bytes are exact counts of values (shard framing, protobuf and checksums, adds well under 1%).
   *
   * @param architecture {@code bert} or {@code qwen3}
   * @param parameters every weight of the model (embeddings and norms too)
   * @param modelBytes the model's weights as a worker holds them (float32)
   * @param candidateTensors tensors of the chosen layer types
   * @param candidateWeights their weights
   * @param statistics what each unit collects and ships, in stream order
   * @param batches calibration batches ({@code samples / batch_size})
   * @param batchesPerUnit batches per unit
   * @param unitsPerPartition units of each layer partition ({@code ceil(batches / batches_per_unit)})
   * @param units all units (partitions × units per partition)
   * @param partitions layer partitions: 1 unless the unit sums exceed the accumulator memory
   * @param passesPerBatch forward+backward passes of each batch in the session (= partitions)
   * @param unitsBusiestWorker units of the worker that computes the most, when all pull evenly
   * @param batchPassesBusiestWorker forward+backward passes of that worker (its units' batches)
   * @param bytesPerWeight a worker's memory per candidate weight of its unit for the gradient statistics
   *     ({@link Partitioner#bytesPerWeight}); the input statistics come on top, per input channel
   * @param accumulatorMemory the bytes a worker gives its unit sums (the partition budget)
   * @param workerAccumulatorBytes what a worker holds beside the model for the largest partition: its unit sums
   *     and, with Gram matrices, the largest layer's batch Gram in full ({@link Partitioner#partitionBytes})
   * @param workerMemoryBytes model + unit sums, to hold against the device memory
   * @param fits whether every partition's sums are within the accumulator memory (a tensor larger than the
   *     budget gets a partition of its own and does not)
   * @param shardBytesPerUnit the largest unit's shards (float32 values)
   * @param shardBytesTotal every unit's shards: what the workers send and the mergers receive
   * @param shardBytesBusiestWorker what the worker with the most units sends
   * @param mergerTensorsMax candidate tensors of the merger with the largest share
   * @param mergerWeightsMax weights of that share (tensors are assigned greedily, largest first, to the least
   *     loaded merger; never split)
   * @param shardBytesBusiestNode what the busiest merger receives
   * @param mergerAccumulatorBytes that merger's float64 accumulators
   * @param warnings what an operator should know before starting (idle workers, tensors that do not fit)
   */
  public record Result(
      Request request,
      String architecture,
      long parameters,
      long modelBytes,
      int candidateTensors,
      long candidateWeights,
      List<Statistic> statistics,
      int batches,
      int batchesPerUnit,
      int unitsPerPartition,
      int units,
      int partitions,
      int passesPerBatch,
      int unitsBusiestWorker,
      long batchPassesBusiestWorker,
      long bytesPerWeight,
      long accumulatorMemory,
      long workerAccumulatorBytes,
      long workerMemoryBytes,
      boolean fits,
      long shardBytesPerUnit,
      long shardBytesTotal,
      long shardBytesBusiestWorker,
      int mergerTensorsMax,
      long mergerWeightsMax,
      long shardBytesBusiestNode,
      long mergerAccumulatorBytes,
      List<String> warnings) {

    /** The scorings' statistic set as the session names it. */
    public StatisticSet statisticSet() {
      return statistics.contains(io.gaprune.protocol.Statistic.SUM_GENERAL) ? StatisticSet.FISHER_AND_GRADIENTS
          : StatisticSet.FISHER;
    }

    /** One JSON object, snake_case keys, every byte count in bytes. */
    public JsonObject toJson() {
      var o = new JsonObject();
      o.addProperty("model", request.model());
      o.addProperty("architecture", architecture);
      o.addProperty("layers", request.layers());
      var scorings = new JsonArray();
      request.scorings().forEach(scorings::add);
      o.add("scoring", scorings);
      o.addProperty("statistic_set", statisticSet().name().toLowerCase(Locale.ROOT));
      var stats = new JsonArray();
      statistics.forEach(s -> stats.add(s.name().toLowerCase(Locale.ROOT)));
      o.add("statistics", stats);
      o.addProperty("workers", request.workers());
      o.addProperty("mergers", request.mergers());
      o.addProperty("samples", request.samples());
      o.addProperty("batch_size", request.batchSize());
      o.addProperty("parameters", parameters);
      o.addProperty("model_bytes", modelBytes);
      o.addProperty("candidate_tensors", candidateTensors);
      o.addProperty("candidate_weights", candidateWeights);
      o.addProperty("batches", batches);
      o.addProperty("batches_per_unit", batchesPerUnit);
      o.addProperty("units_per_partition", unitsPerPartition);
      o.addProperty("units", units);
      o.addProperty("partitions", partitions);
      o.addProperty("passes_per_batch", passesPerBatch);
      o.addProperty("units_busiest_worker", unitsBusiestWorker);
      o.addProperty("batch_passes_busiest_worker", batchPassesBusiestWorker);
      o.addProperty("device_memory", request.deviceMemory());
      o.addProperty("bytes_per_weight", bytesPerWeight);
      o.addProperty("accumulator_memory", accumulatorMemory);
      o.addProperty("worker_accumulator_bytes", workerAccumulatorBytes);
      o.addProperty("worker_memory_bytes", workerMemoryBytes);
      o.addProperty("fits", fits);
      o.addProperty("shard_bytes_per_unit", shardBytesPerUnit);
      o.addProperty("shard_bytes_total", shardBytesTotal);
      o.addProperty("shard_bytes_busiest_worker", shardBytesBusiestWorker);
      o.addProperty("merger_tensors_max", mergerTensorsMax);
      o.addProperty("merger_weights_max", mergerWeightsMax);
      o.addProperty("shard_bytes_busiest_node", shardBytesBusiestNode);
      o.addProperty("merger_accumulator_bytes", mergerAccumulatorBytes);
      var w = new JsonArray();
      warnings.forEach(w::add);
      o.add("warnings", w);
      return o;
    }

    /** The human-readable table. */
    public String toTable() {
      var rows = new ArrayList<String[]>();
      rows.add(row("model", request.model() + " (" + architecture + ", " + count(parameters) + " weights)"));
      rows.add(row("model weights (float32)", bytes(modelBytes)));
      rows.add(row("candidates (--layers " + request.layers() + ")",
          count(candidateWeights) + " weights in " + candidateTensors + " tensors"));
      rows.add(row("scoring", String.join(", ", request.scorings())));
      rows.add(row("statistics collected", statistics.size() + " ("
          + String.join(", ", statistics.stream().map(s -> s.name().toLowerCase(Locale.ROOT)).toList()) + ")"));
      rows.add(row("batches", batches + " (" + request.samples() + " samples / batch size " + request.batchSize()
          + ")"));
      rows.add(row("batches per unit", Integer.toString(batchesPerUnit)));
      rows.add(row("units", units + " (" + partitions + " partition(s) × " + unitsPerPartition + ")"));
      rows.add(row("layer partitions", Integer.toString(partitions)));
      rows.add(row("forward+backward passes per batch", Integer.toString(passesPerBatch)));
      rows.add(row("workers", request.workers() + " (busiest: " + unitsBusiestWorker + " unit(s), "
          + batchPassesBusiestWorker + " batch passes)"));
      rows.add(row("shard bytes per unit", bytes(shardBytesPerUnit)));
      rows.add(row("shard bytes, total", bytes(shardBytesTotal)));
      rows.add(row("shard bytes sent by the busiest worker", bytes(shardBytesBusiestWorker)));
      rows.add(row("mergers", request.mergers() + " (largest share: " + count(mergerWeightsMax) + " weights in "
          + mergerTensorsMax + " tensors)"));
      rows.add(row("bytes through the busiest node", bytes(shardBytesBusiestNode)));
      rows.add(row("device memory per worker", bytes(request.deviceMemory())));
      rows.add(row("accumulator memory per worker (budget)", bytes(accumulatorMemory)));
      boolean inputs = statistics.stream().anyMatch(ShardCodec::isInputStatistic);
      rows.add(row("unit sums per worker (" + bytesPerWeight + " B/weight" + (inputs ? " + input statistics" : "")
          + ")", bytes(workerAccumulatorBytes)
          + (fits ? "" : "  EXCEEDS the budget")));
      rows.add(row("model + unit sums per worker", bytes(workerMemoryBytes)));
      rows.add(row("accumulators per merger (float64)", bytes(mergerAccumulatorBytes)));
      int width = rows.stream().mapToInt(r -> r[0].length()).max().orElse(0);
      var out = new StringBuilder();
      for (var r : rows) {
        out.append(String.format(Locale.ROOT, "%-" + width + "s  %s%n", r[0], r[1]));
      }
      for (var w : warnings) {
        out.append("warning: ").append(w).append(System.lineSeparator());
      }
      return out.toString();
    }

    private static String[] row(String label, String value) {
      return new String[] {label, value};
    }
  }

  /** Reads the model's architecture: a folder's config.json or a bundled short name's published config. */
  public static Architecture architecture(String model) throws IOException {
    ModelConfig config;
    String source;
    var known = KNOWN_CONFIGS.get(model.toLowerCase(Locale.ROOT));
    if (known != null && !Files.exists(Path.of(model))) {
      source = model.toLowerCase(Locale.ROOT);
      config = HuggingFaceFolder.readArchitecture(JsonParser.parseString(known).getAsJsonObject(), Path.of(source));
    } else {
      var dir = Path.of(model);
      if (!Files.isDirectory(dir)) {
        throw new IOException(model + ": no such folder (give a Hugging Face model folder holding config.json, or "
            + String.join(", ", KNOWN_CONFIGS.keySet().stream().sorted().toList()) + ")");
      }
      var file = dir.resolve("config.json");
      source = file.toString();
      config = HuggingFaceFolder.readArchitecture(file);
    }
    checkPositive(source, "hidden_size", config.hiddenSize());
    checkPositive(source, "num_hidden_layers", config.numLayers());
    checkPositive(source, "num_attention_heads", config.numHeads());
    checkPositive(source, "intermediate_size", config.intermediateSize());
    checkPositive(source, "vocab_size", config.vocabSize());
    checkPositive(source, "head_dim", config.headDim());
    if (config.numKvHeads() <= 0 || config.numHeads() % config.numKvHeads() != 0) {
      throw new IOException(source + ": num_attention_heads " + config.numHeads()
          + " must be a positive multiple of num_key_value_heads " + config.numKvHeads());
    }
    var parameters = new LinkedHashMap<String, long[]>();
    for (Map.Entry<String, Shape> e : HuggingFaceFolder.parameterShapes(config).entrySet()) {
      parameters.put(e.getKey(), e.getValue().getShape());
    }
    return new Architecture(source, config, parameters);
  }

  /** The estimate for a model read from disk (or a short name). */
  public static Result estimate(Request request) throws IOException {
    return estimate(architecture(request.model()), request);
  }

  public static Result estimate(Architecture model, Request request) {
    var candidates = model.candidates(request.layers());
    if (candidates.isEmpty()) {
      throw new IllegalArgumentException(model.source() + ": no tensor of layer types \"" + request.layers()
          + "\" (a candidate has at least two dimensions; valid: " + LayerType.VALID + ")");
    }
    boolean gradientSums = false;
    var inputs = io.gaprune.protocol.InputStatistics.INPUT_STATISTICS_NONE;
    for (var scoring : request.scorings()) {
      var spec = MethodSpec.parse(scoring);
      gradientSums |= spec.apply(ScoringConfig.defaults()).needsGradientSums();
      if (spec.inputStatistics().getNumber() > inputs.getNumber()) {
        inputs = spec.inputStatistics(); // Σx² (Wanda), or the Gram matrices (SparseGPT, the reconstructions)
      }
    }
    var statisticSet = gradientSums ? StatisticSet.FISHER_AND_GRADIENTS : StatisticSet.FISHER;
    var statistics = ShardCodec.statistics(statisticSet, inputs);
    long bytesPerWeight = Partitioner.bytesPerWeight(statistics);
    long parameters = model.weights();
    long modelBytes = parameters * WEIGHT_BYTES;
    var warnings = new ArrayList<String>();

    long accumulatorMemory = request.accumulatorMemory();
    if (accumulatorMemory == 0) {
      long left = request.deviceMemory() - modelBytes;
      if (left <= 0) {
        throw new IllegalArgumentException("the model's weights (" + bytes(modelBytes) + ") do not fit the device "
            + "memory (--device-memory " + bytes(request.deviceMemory()) + ")");
      }
      accumulatorMemory = (long) (left * DEVICE_SHARE);
    }

    int batches = request.samples() / request.batchSize();
    int batchesPerUnit = request.batchesPerUnit() > 0 ? request.batchesPerUnit()
        : PruningPipeline.batchesPerUnit(batches);
    // The session's own partitioner over a calibration set of this size: the layout is exactly the session's.
    var session = SessionConfig.newBuilder()
        .setSessionId("estimate")
        .setModel(request.model())
        .setBatchSize(request.batchSize())
        .setBatchesPerUnit(batchesPerUnit)
        .setPartitionBudgetBytes(accumulatorMemory)
        .setStatistics(statisticSet)
        .setInputStatistics(inputs)
        .setCandidates(request.layers())
        .build();
    var plan = Partitioner.plan(session, candidates, request.samples(), request.samples());

    // values each tensor ships per unit and each merger folds: one per weight for the gradient statistics, the
    // input width for Σx², in·(in+1)/2 for a packed Gram matrix
    var elementsByName = new HashMap<String, Long>();
    var valuesByName = new HashMap<String, Long>();
    candidates.forEach(t -> {
      elementsByName.put(t.getName(), Partitioner.elements(t));
      valuesByName.put(t.getName(), statistics.stream().mapToLong(s -> ShardCodec.length(t, s)).sum());
    });
    long candidateWeights = elementsByName.values().stream().mapToLong(Long::longValue).sum();

    long workerAccumulatorBytes = 0;
    int tooLarge = 0;
    TensorSpec largestTooLarge = null;
    long largestTooLargeBytes = 0;
    for (LayerPartition p : plan.partitions()) {
      long bytes = Partitioner.partitionBytes(p.getTensorsList(), statistics);
      workerAccumulatorBytes = Math.max(workerAccumulatorBytes, bytes);
      // the partitioner gives a tensor whose sums exceed the budget a partition of its own
      if (p.getTensorsCount() == 1 && bytes > accumulatorMemory) {
        tooLarge++;
        if (bytes > largestTooLargeBytes) {
          largestTooLarge = p.getTensors(0);
          largestTooLargeBytes = bytes;
        }
      }
    }
    if (tooLarge > 0) {
      warnings.add(tooLarge + " tensor(s) exceed the accumulator memory " + bytes(accumulatorMemory) + " on their own ("
          + largestTooLarge.getName() + " needs " + bytes(largestTooLargeBytes) + " of unit sums); tensors are never "
          + "split");
    }
    boolean fits = workerAccumulatorBytes <= accumulatorMemory;
    if (modelBytes + workerAccumulatorBytes > request.deviceMemory()) {
      warnings.add("the model's weights and the unit sums (" + bytes(modelBytes + workerAccumulatorBytes)
          + ") exceed the device memory " + bytes(request.deviceMemory()));
    }

    // Units in the order workers pull them; every worker pulls while units are left, so the busiest computes
    // ceil(units / workers) of them. Sizes differ only between partitions, so take the largest ones.
    var unitBytes = new ArrayList<Long>();
    var unitBatches = new ArrayList<Integer>();
    long shardBytesTotal = 0;
    for (WorkUnit u : plan.units()) {
      long values = u.getTensorsList().stream().mapToLong(t -> valuesByName.get(t.getName())).sum();
      unitBytes.add(values * ShardCodec.VALUE_BYTES);
      unitBatches.add(u.getBatchEnd() - u.getBatchStart());
      shardBytesTotal += values * ShardCodec.VALUE_BYTES;
    }
    int units = plan.units().size();
    int unitsBusiestWorker = (units + request.workers() - 1) / request.workers();
    unitBytes.sort(Comparator.reverseOrder());
    unitBatches.sort(Comparator.reverseOrder());
    long shardBytesBusiestWorker = unitBytes.subList(0, unitsBusiestWorker).stream().mapToLong(Long::longValue).sum();
    long batchPassesBusiestWorker = unitBatches.subList(0, unitsBusiestWorker).stream().mapToLong(Integer::longValue)
        .sum();
    if (request.workers() > units) {
      warnings.add(request.workers() + " workers but " + units + " units: " + (request.workers() - units)
          + " worker(s) stay idle (a smaller --batches-per-unit makes more units)");
    }

    var shares = mergerShares(candidates, request.mergers());
    int busiest = 0;
    for (int m = 1; m < shares.size(); m++) {
      if (shares.get(m).weights() > shares.get(busiest).weights()) {
        busiest = m;
      }
    }
    var share = shares.get(busiest);
    if (request.mergers() > candidates.size()) {
      warnings.add(request.mergers() + " mergers but " + candidates.size() + " candidate tensors: "
          + (request.mergers() - candidates.size()) + " merger(s) own nothing (tensors are never split)");
    }
    // Each tensor of a merger's share arrives once per unit of its partition.
    long shardBytesBusiestNode = 0;
    for (WorkUnit u : plan.units()) {
      for (TensorSpec t : u.getTensorsList()) {
        if (share.tensors().contains(t.getName())) {
          shardBytesBusiestNode += valuesByName.get(t.getName()) * ShardCodec.VALUE_BYTES;
        }
      }
    }
    long mergerAccumulatorBytes = share.tensors().stream().mapToLong(valuesByName::get).sum() * MERGER_VALUE_BYTES;

    return new Result(request, model.config().family().name().toLowerCase(Locale.ROOT), parameters, modelBytes,
        candidates.size(), candidateWeights, statistics, plan.batches(), batchesPerUnit,
        units / plan.partitions().size(), units, plan.partitions().size(), plan.partitions().size(),
        unitsBusiestWorker, batchPassesBusiestWorker, bytesPerWeight, accumulatorMemory, workerAccumulatorBytes,
        modelBytes + workerAccumulatorBytes, fits, unitBytes.get(0), shardBytesTotal, shardBytesBusiestWorker,
        share.tensors().size(), share.weights(), shardBytesBusiestNode, mergerAccumulatorBytes, List.copyOf(warnings));
  }

  /** The tensors one merger owns and their weights. */
  public record MergerShare(List<String> tensors, long weights) {}

  /**
   * Assigns tensors to mergers, largest first, each to the merger with the fewest weights so far (the lowest
   * index on a tie): the longest-processing-time rule, which keeps the largest share within 4/3 of the best
   * possible. Tensors are never split, so one tensor larger than an even share sets the largest share.
   */
  public static List<MergerShare> mergerShares(List<TensorSpec> tensors, int mergers) {
    var order = new ArrayList<>(tensors);
    // stable sort: equal sizes keep model order, so the assignment is the same on every run
    order.sort(Comparator.comparingLong(Partitioner::elements).reversed());
    var names = new ArrayList<List<String>>();
    var weights = new long[mergers];
    for (int m = 0; m < mergers; m++) {
      names.add(new ArrayList<>());
    }
    for (var t : order) {
      int least = 0;
      for (int m = 1; m < mergers; m++) {
        if (weights[m] < weights[least]) {
          least = m;
        }
      }
      names.get(least).add(t.getName());
      weights[least] += Partitioner.elements(t);
    }
    var out = new ArrayList<MergerShare>();
    for (int m = 0; m < mergers; m++) {
      out.add(new MergerShare(List.copyOf(names.get(m)), weights[m]));
    }
    return out;
  }

  /**
   * A byte size as an option gives it: a plain number of bytes, or HOCON's units as the config files take them
   * ({@code 80GB} = 80·10⁹, {@code 80GiB} or {@code 80G} = 80·2³⁰).
   */
  public static long parseBytes(String option, String text) {
    try {
      long v = ConfigFactory.empty().withValue("v", ConfigValueFactory.fromAnyRef(text.trim())).getBytes("v");
      require(v > 0, option + " must be positive, got " + text);
      return v;
    } catch (ConfigException e) {
      throw new IllegalArgumentException(option + " \"" + text + "\" is not a byte size (e.g. 80000000000, 80GB, "
          + "40GiB)", e);
    }
  }

  /** Bytes with their decimal reading: {@code 5,284,823,040 B (5.28 GB)}. */
  static String bytes(long n) {
    String[] units = {"kB", "MB", "GB", "TB", "PB"};
    double v = n;
    int u = -1;
    while (v >= 1000 && u < units.length - 1) {
      v /= 1000;
      u++;
    }
    return String.format(Locale.ROOT, "%,d B", n) + (u < 0 ? "" : String.format(Locale.ROOT, " (%.2f %s)", v, units[u]));
  }

  private static String count(long n) {
    return String.format(Locale.ROOT, "%,d", n);
  }

  static long elements(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  private static void checkPositive(String source, String field, int value) throws IOException {
    if (value <= 0) {
      throw new IOException(source + ": \"" + field + "\" must be positive, got " + value);
    }
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
