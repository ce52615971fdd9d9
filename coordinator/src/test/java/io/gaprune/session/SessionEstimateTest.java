package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.gaprune.cli.Main;
import io.gaprune.model.onnx.OnnxModelLoader;
import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.protocol.TensorSpec;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code gaprune session estimate}: the layout equals the session partitioner's for the same inputs, the counts
 * and bytes of a Qwen3-Embedding-0.6B-sized config are those computed by hand, and the command's output and
 * errors are what an operator reads.
 */
class SessionEstimateTest {

  /** Qwen3-Embedding-0.6B's dimensions (the published config.json's fields the loader reads). */
  static final String QWEN3_0_6B = """
      {"architectures": ["Qwen3Model"], "model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072,
       "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
       "vocab_size": 151669, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000}""";

  /** ../shared/golden/qwen3-tiny's dimensions. */
  static final String QWEN3_TINY = """
      {"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
       "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 512,
       "max_position_embeddings": 256}""";

  /** sentence-transformers/all-MiniLM-L6-v2's config.json (the fields the loader reads). */
  static final String MINILM = """
      {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 384,
       "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536, "hidden_act": "gelu",
       "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
       "position_embedding_type": "absolute"}""";

  static final long MLP_0_6B = 28L * 3 * 3072 * 1024;

  static Path folder(Path parent, String name, String configJson) throws Exception {
    var dir = Files.createDirectories(parent.resolve(name));
    Files.writeString(dir.resolve("config.json"), configJson);
    return dir;
  }

  static SessionEstimate.Request request(Path model, int workers, int samples, int batchSize, long accumulatorMemory,
      String... scorings) {
    return new SessionEstimate.Request(model.toString(), workers, "mlp", samples, batchSize, 0,
        scorings.length == 0 ? List.of("dai-calibrated") : List.of(scorings), SessionEstimate.DEFAULT_DEVICE_MEMORY,
        accumulatorMemory, 1);
  }

  /** What the session's partitioner makes of the same tensors and data: the reference for the estimate. */
  static Partitioner.Plan sessionPlan(List<TensorSpec> candidates, int samples, int batchSize, int batchesPerUnit,
      long budget, StatisticSet statistics) {
    var cfg = SessionConfig.newBuilder().setSessionId("reference").setModel("m").setBatchSize(batchSize)
        .setBatchesPerUnit(batchesPerUnit).setPartitionBudgetBytes(budget).setStatistics(statistics)
        .setCandidates("mlp").build();
    return Partitioner.plan(cfg, candidates, samples, samples);
  }

  static TensorSpec tensor(String name, long... shape) {
    return TensorSpec.newBuilder().setName(name).addAllShape(Arrays.stream(shape).boxed().toList()).build();
  }

  @Test
  void tinyQwen3LayoutIsThePartitionersAndNamesAreTheLoaders(@TempDir Path tmp) throws Exception {
    var dir = folder(tmp, "tiny", QWEN3_TINY);
    // names and shapes as the Qwen3 loader (and make_random_qwen3.py) name them, in model order
    var expected = new ArrayList<TensorSpec>();
    for (int layer = 0; layer < 2; layer++) {
      expected.add(tensor("layers." + layer + ".mlp.gate_proj.weight", 128, 64));
      expected.add(tensor("layers." + layer + ".mlp.up_proj.weight", 128, 64));
      expected.add(tensor("layers." + layer + ".mlp.down_proj.weight", 64, 128));
    }
    var architecture = SessionEstimate.architecture(dir.toString());
    assertEquals(expected, architecture.candidates("mlp"));
    // every parameter, norms and embeddings too: 512·64 + 2·(64+64 + 64·64 + 2·32·64 + 64·64 + 16+16 + 3·128·64) + 64
    assertEquals(512 * 64 + 2 * (128 + 4096 + 4096 + 4096 + 32 + 3 * 8192) + 64, architecture.weights());

    // a budget of two tensors' sums (20 bytes per weight for a Fisher-only scoring): 3 partitions
    long budget = 2 * 8192 * 20;
    var estimate = SessionEstimate.estimate(request(dir, 3, 64, 4, budget));
    var plan = sessionPlan(expected, 64, 4, 2, budget, StatisticSet.FISHER);
    assertEquals(16, estimate.batches());
    assertEquals(2, estimate.batchesPerUnit(), "run's rule: ceil(16 / 8)");
    assertEquals(plan.partitions().size(), estimate.partitions());
    assertEquals(3, estimate.partitions());
    assertEquals(3, estimate.passesPerBatch());
    assertEquals(plan.units().size(), estimate.units());
    assertEquals(24, estimate.units());
    assertEquals(8, estimate.unitsPerPartition());
    assertEquals(8, estimate.unitsBusiestWorker(), "24 units over 3 workers");
    assertEquals(16, estimate.batchPassesBusiestWorker());
    assertEquals(2 * 8192 * 20, estimate.workerAccumulatorBytes());
    assertTrue(estimate.fits());
    assertEquals(2 * 8192 * 2 * 4, estimate.shardBytesPerUnit(), "2 tensors × 2 statistics × float32");
    assertEquals(24L * 2 * 8192 * 2 * 4, estimate.shardBytesTotal());
  }

  @Test
  void miniLmLayoutIsThePartitionersAndTheShortNameReadsTheSame(@TempDir Path tmp) throws Exception {
    var dir = folder(tmp, "minilm-folder", MINILM);
    var architecture = SessionEstimate.architecture(dir.toString());
    var candidates = architecture.candidates("mlp");
    assertEquals(12, candidates.size());
    assertEquals(tensor("encoder.layer.0.intermediate.dense.weight", 1536, 384), candidates.get(0));
    assertEquals(tensor("encoder.layer.0.output.dense.weight", 384, 1536), candidates.get(1));
    // 80 MiB of sums with Σg (36 bytes per weight): 3 tensors of 589,824 weights per partition
    long budget = 80L << 20;
    var estimate = SessionEstimate.estimate(request(dir, 2, 96, 8, budget, "dai"));
    var plan = sessionPlan(candidates, 96, 8, 2, budget, StatisticSet.FISHER_AND_GRADIENTS);
    assertEquals(7_077_888, estimate.candidateWeights());
    assertEquals(List.of(Statistic.SUM_SQ_GENERAL, Statistic.SUM_GENERAL, Statistic.SUM_SQ_DOMAIN,
        Statistic.SUM_DOMAIN), estimate.statistics());
    assertEquals(36, estimate.bytesPerWeight());
    assertEquals(plan.partitions().size(), estimate.partitions());
    assertEquals(4, estimate.partitions(), "ceil(12 / 3)");
    assertEquals(plan.units().size(), estimate.units());
    assertEquals(24, estimate.units(), "12 batches in units of 2, per partition");
    assertEquals(plan.batches(), estimate.batches());

    // the short name is the published config: the same tensors
    assertEquals(candidates, SessionEstimate.architecture("minilm").candidates("mlp"));
    assertEquals(architecture.parameters().keySet(), SessionEstimate.architecture("MiniLM").parameters().keySet());
  }

  /** The published configs of the short names have the dimensions of the class-path ONNX exports run loads. */
  @Test
  void shortNamesMatchTheBundledExports() throws Exception {
    for (var known : io.gaprune.model.KnownModel.values()) {
      Map<String, long[]> onnx;
      try (var in = getClass().getResourceAsStream("/" + known.onnxResource)) {
        if (in == null) {
          throw new AssertionError("class-path resource " + known.onnxResource + " missing");
        }
        onnx = new LinkedHashMap<>();
        for (var e : OnnxModelLoader.readParameters(in, known.onnxResource).entrySet()) {
          if (!e.getKey().startsWith("pooler.")) {
            onnx.put(e.getKey(), e.getValue().shape());
          }
        }
      }
      var estimated = SessionEstimate.architecture(known.shortName).parameters();
      assertEquals(shapes(onnx), shapes(estimated), known.shortName);
    }
  }

  private static Map<String, List<Long>> shapes(Map<String, long[]> m) {
    var out = new TreeMap<String, List<Long>>();
    m.forEach((k, v) -> out.put(k, Arrays.stream(v).boxed().toList()));
    return out;
  }

  @Test
  void qwen3_0_6bCountsAndBytes(@TempDir Path tmp) throws Exception {
    var dir = folder(tmp, "qwen3-0.6b", QWEN3_0_6B);
    var e = SessionEstimate.estimate(SessionEstimate.Request.of(dir.toString(), 8));
    assertEquals(264_241_152L, MLP_0_6B);
    assertEquals(MLP_0_6B, e.candidateWeights());
    assertEquals(84, e.candidateTensors());
    // 151669·1024 + 28·(2·1024 + 2·128 + 2·2048·1024 + 2·1024·1024 + 3·3072·1024) + 1024
    long parameters = 151_669L * 1024 + 28L * (2048 + 256 + 2L * 2048 * 1024 + 2L * 1024 * 1024 + MLP_0_6B / 28) + 1024;
    assertEquals(595_776_512L, parameters);
    assertEquals(parameters, e.parameters());
    assertEquals(4 * parameters, e.modelBytes());
    assertEquals(List.of(Statistic.SUM_SQ_GENERAL, Statistic.SUM_SQ_DOMAIN), e.statistics(),
        "dai-calibrated reads no Σg");
    assertEquals(32, e.batches(), "512 samples / 16");
    assertEquals(4, e.batchesPerUnit());
    assertEquals(8, e.units());
    assertEquals(1, e.partitions(), "80 GB hold the 0.6B model's MLP sums");
    assertEquals(1, e.passesPerBatch());
    assertEquals((long) ((80_000_000_000L - 4 * parameters) * 0.6), e.accumulatorMemory());
    assertEquals(5_284_823_040L, e.workerAccumulatorBytes(), "20 bytes per weight");
    assertEquals(4 * parameters + 5_284_823_040L, e.workerMemoryBytes());
    assertTrue(e.fits());
    assertEquals(MLP_0_6B * 2 * 4, e.shardBytesPerUnit());
    assertEquals(8 * MLP_0_6B * 2 * 4, e.shardBytesTotal());
    assertEquals(MLP_0_6B * 2 * 4, e.shardBytesBusiestWorker(), "one unit each");
    assertEquals(e.shardBytesTotal(), e.shardBytesBusiestNode(), "one merger receives everything");
    assertEquals(MLP_0_6B * 2 * 8, e.mergerAccumulatorBytes());
    assertTrue(e.warnings().isEmpty(), e.warnings().toString());

    // 32 workers: 8 units, 24 idle, said so
    var wide = SessionEstimate.estimate(SessionEstimate.Request.of(dir.toString(), 32));
    assertEquals(1, wide.unitsBusiestWorker());
    assertTrue(wide.warnings().stream().anyMatch(w -> w.contains("24 worker(s) stay idle")), wide.warnings().toString());

    // 4 mergers share 84 equal tensors evenly; 5 cannot: the largest share is 17 tensors
    var four = SessionEstimate.estimate(SessionEstimate.Request.of(dir.toString(), 8).withMergers(4));
    assertEquals(21, four.mergerTensorsMax());
    assertEquals(e.shardBytesTotal() / 4, four.shardBytesBusiestNode());
    assertEquals(MLP_0_6B / 4 * 2 * 8, four.mergerAccumulatorBytes());
    var five = SessionEstimate.estimate(SessionEstimate.Request.of(dir.toString(), 8).withMergers(5));
    assertEquals(17, five.mergerTensorsMax());
    assertEquals(e.shardBytesTotal() / 84 * 17, five.shardBytesBusiestNode());

    // the alignment scorings ship Σg as well
    var dai = SessionEstimate.estimate(new SessionEstimate.Request(dir.toString(), 8, "mlp", 512, 16, 0,
        List.of("magnitude", "dai"), SessionEstimate.DEFAULT_DEVICE_MEMORY, 0, 1));
    assertEquals(4, dai.statistics().size());
    assertEquals(StatisticSet.FISHER_AND_GRADIENTS, dai.statisticSet());
    assertEquals(MLP_0_6B * 36, dai.workerAccumulatorBytes());
    assertEquals(2 * e.shardBytesTotal(), dai.shardBytesTotal());

    // SparseGPT and the reconstructions ship the input statistics too: Σx² (in values) and the packed Gram
    // matrix (in·(in+1)/2) of each half, per tensor; Qwen3-0.6B's MLP: gate, up [3072, 1024], down [1024, 3072]
    var adaptive = SessionEstimate.estimate(new SessionEstimate.Request(dir.toString(), 8, "mlp", 512, 16, 0,
        List.of("dai-calibrated:adaptive=1"), SessionEstimate.DEFAULT_DEVICE_MEMORY, 0, 1));
    assertTrue(adaptive.statistics().contains(io.gaprune.protocol.Statistic.INPUT_GRAM_DOMAIN),
        adaptive.statistics().toString());
    assertEquals(StatisticSet.FISHER, adaptive.statisticSet());
    long perLayer = 3 * 3072L * 1024 * 2 // the Fisher of both halves
        + 2 * (2 * 1024 + 3072) // Σx² of both halves: gate and up read 1024 inputs, down 3072
        + 2 * (2 * (1024L * 1025 / 2) + 3072L * 3073 / 2); // the Gram matrices of both halves
    assertEquals(28 * perLayer * 4 * adaptive.units(), adaptive.shardBytesTotal());
    assertEquals(28 * perLayer * 8, adaptive.mergerAccumulatorBytes());
    // a worker holds the Fisher sums and the general half's gradient (20 B/weight), the input statistics twice
    // (the unit's sums and the batch's) and, while it packs one, down_proj's batch Gram matrix in full
    long inputValues = perLayer - 3 * 3072L * 1024 * 2;
    assertEquals(20, adaptive.bytesPerWeight());
    assertEquals(1, adaptive.partitions());
    assertEquals(28 * (3 * 3072L * 1024 * 20 + 2 * 8 * inputValues) + 3072L * 3072 * 8,
        adaptive.workerAccumulatorBytes());
  }

  @Test
  void smallDevicesSplitTheMlpIntoPartitions(@TempDir Path tmp) throws Exception {
    var dir = folder(tmp, "qwen3-0.6b", QWEN3_0_6B);
    long perTensor = 3072L * 1024 * 20;
    // 10 GB: 0.6 × (10 GB − 2.38 GB) = 4.57 GB of sums, 72 tensors of 62.9 MB: 72 + 12
    var ten = SessionEstimate.estimate(SessionEstimate.Request.of(dir.toString(), 8).withDeviceMemory(10_000_000_000L));
    assertEquals(2, ten.partitions());
    assertEquals(2, ten.passesPerBatch());
    assertEquals(16, ten.units());
    assertEquals(72 * perTensor, ten.workerAccumulatorBytes());
    assertTrue(ten.fits());
    assertEquals(72 * 3072L * 1024 * 2 * 4, ten.shardBytesPerUnit(), "the larger partition's unit");
    assertEquals(16 * 3072L * 1024 * 2 * 4 * 84 / 2, ten.shardBytesTotal(), "every tensor once per batch range");
    assertEquals(2 * 72 * 3072L * 1024 * 2 * 4, ten.shardBytesBusiestWorker(), "2 of the 16 units, the larger");

    // 1 GiB of sums (a worker's accumulator-memory set so): 17 tensors per partition, 5 partitions
    var gib = SessionEstimate.estimate(request(dir, 8, 512, 16, 1L << 30));
    var plan = sessionPlan(SessionEstimate.architecture(dir.toString()).candidates("mlp"), 512, 16, 4, 1L << 30,
        StatisticSet.FISHER);
    assertEquals(5, gib.partitions());
    assertEquals(plan.partitions().size(), gib.partitions());
    assertEquals(plan.partitions().stream().map(LayerPartition::getTensorsCount).toList(), List.of(17, 17, 17, 17, 16));
    assertEquals(40, gib.units());

    // a budget below one tensor's sums: each tensor alone, and the estimate says it will not fit
    var tiny = SessionEstimate.estimate(request(dir, 8, 512, 16, 50_000_000));
    assertEquals(84, tiny.partitions());
    assertFalse(tiny.fits());
    assertTrue(tiny.warnings().stream().anyMatch(w -> w.startsWith("84 tensor(s) exceed")
        && w.contains("layers.0.mlp.gate_proj.weight needs 62,914,560 B")),
        tiny.warnings().toString());

    // a device smaller than the weights
    var error = assertThrows(IllegalArgumentException.class, () -> SessionEstimate.estimate(
        SessionEstimate.Request.of(dir.toString(), 1).withDeviceMemory(2_000_000_000L)));
    assertTrue(error.getMessage().contains("do not fit the device memory"), error.getMessage());
  }

  static int cli(StringWriter out, StringWriter err, String... args) {
    var cli = new CommandLine(new Main());
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  @Test
  void jsonOutputHoldsTheKeys(@TempDir Path tmp) throws Exception {
    var dir = folder(tmp, "qwen3-0.6b", QWEN3_0_6B);
    var out = new StringWriter();
    var err = new StringWriter();
    assertEquals(0, cli(out, err, "session", "estimate", "--model", dir.toString(), "--workers", "8", "--mergers",
        "4", "--json"), err.toString());
    var lines = out.toString().strip().split("\n");
    assertEquals(1, lines.length, "one JSON object on one line");
    JsonObject o = JsonParser.parseString(lines[0]).getAsJsonObject();
    for (var key : List.of("model", "architecture", "layers", "scoring", "statistics", "workers", "mergers",
        "samples", "batch_size", "parameters", "model_bytes", "candidate_tensors", "candidate_weights", "batches",
        "batches_per_unit", "units", "partitions", "passes_per_batch", "device_memory", "bytes_per_weight",
        "accumulator_memory", "worker_accumulator_bytes", "worker_memory_bytes", "fits", "shard_bytes_per_unit",
        "shard_bytes_total", "shard_bytes_busiest_worker", "shard_bytes_busiest_node", "merger_accumulator_bytes",
        "warnings")) {
      assertTrue(o.has(key), "missing key " + key + " in " + o);
    }
    assertEquals(MLP_0_6B, o.get("candidate_weights").getAsLong());
    assertEquals(8, o.get("units").getAsInt());
    assertEquals(1, o.get("partitions").getAsInt());
    assertEquals(80_000_000_000L, o.get("device_memory").getAsLong(), "default 80GB");
    assertEquals(8 * MLP_0_6B * 2 * 4 / 4, o.get("shard_bytes_busiest_node").getAsLong());
    assertEquals("fisher", o.get("statistic_set").getAsString());

    // the table, and byte sizes with units
    var table = new StringWriter();
    assertEquals(0, cli(table, err, "session", "estimate", "--model", dir.toString(), "--workers", "1",
        "--device-memory", "10GB", "--batches-per-unit", "2"), err.toString());
    assertTrue(table.toString().contains("layer partitions"), table.toString());
    assertTrue(table.toString().contains(" 32 (2 partition(s) × 16)"), table.toString());
  }

  @Test
  void badInputIsNamed(@TempDir Path tmp) throws Exception {
    var missing = tmp.resolve("nowhere");
    assertError(1, "nowhere: no such folder", "--model", missing.toString(), "--workers", "1");
    var empty = Files.createDirectories(tmp.resolve("empty"));
    assertError(1, empty.resolve("config.json") + ": file not found", "--model", empty.toString(), "--workers", "1");
    var broken = folder(tmp, "broken", "{\"model_type\": \"qwen3\", ");
    assertError(1, "config.json: malformed JSON", "--model", broken.toString(), "--workers", "1");
    var llama = folder(tmp, "llama", QWEN3_0_6B.replace("\"qwen3\"", "\"llama\""));
    assertError(1, "unsupported model_type 'llama' (supported: bert, qwen3)", "--model", llama.toString(),
        "--workers", "1");
    var noHidden = folder(tmp, "no-hidden", QWEN3_0_6B.replace("\"hidden_size\": 1024,", ""));
    assertError(1, "missing or non-numeric field \"hidden_size\"", "--model", noHidden.toString(), "--workers", "1");
    var zeroLayers = folder(tmp, "zero", QWEN3_0_6B.replace("\"num_hidden_layers\": 28", "\"num_hidden_layers\": 0"));
    assertError(1, "\"num_hidden_layers\" must be positive, got 0", "--model", zeroLayers.toString(), "--workers",
        "1");
    var gqa = folder(tmp, "gqa", QWEN3_0_6B.replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 3"));
    assertError(1, "must be a positive multiple of num_key_value_heads 3", "--model", gqa.toString(), "--workers",
        "1");
    var good = folder(tmp, "good", QWEN3_0_6B);
    assertError(1, "do not fit the device memory", "--model", good.toString(), "--workers", "1", "--device-memory",
        "1GB");
    assertError(2, "unknown layer type \"mlpp\"", "--model", good.toString(), "--workers", "1", "--layers", "mlpp");
    assertError(1, "unknown scoring method \"daii\"", "--model", good.toString(), "--workers", "1", "--scoring", "daii");
    assertError(2, "--workers must be at least 1, got 0", "--model", good.toString(), "--workers", "0");
    assertError(2, "'many' is not an int", "--model", good.toString(), "--workers", "many");
    assertError(2, "--device-memory \"lots\" is not a byte size", "--model", good.toString(), "--workers", "1",
        "--device-memory", "lots");
    assertError(2, "--samples 8 is less than one batch of 16", "--model", good.toString(), "--workers", "1",
        "--samples", "8");
    assertError(2, "--batches-per-unit must be at least 1, got 0", "--model", good.toString(), "--workers", "1",
        "--batches-per-unit", "0");
    assertError(2, "--mergers must be at least 1, got 0", "--model", good.toString(), "--workers", "1",
        "--mergers", "0");
    assertError(2, "Missing required option: '--model=PATH'", "--workers", "1");
  }

  private static void assertError(int code, String message, String... args) {
    var out = new StringWriter();
    var err = new StringWriter();
    var all = new ArrayList<String>(List.of("session", "estimate"));
    all.addAll(List.of(args));
    assertEquals(code, cli(out, err, all.toArray(String[]::new)), "exit code; stderr: " + err);
    assertTrue(err.toString().contains(message), "expected \"" + message + "\" in: " + err);
    if (code == 1) {
      assertTrue(err.toString().startsWith("gaprune session estimate: "), err.toString());
    }
  }
}
