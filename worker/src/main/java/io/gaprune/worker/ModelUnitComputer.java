package io.gaprune.worker;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.typesafe.config.Config;
import io.gaprune.data.Triplet;
import io.gaprune.data.TripletReader;
import io.gaprune.model.LayerType;
import io.gaprune.model.LoadedModel;
import io.gaprune.model.ModelLoader;
import io.gaprune.model.TextTokenizer;
import io.gaprune.protocol.BatchIndices;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.WorkUnit;
import io.gaprune.stats.StatisticsStep;
import io.gaprune.stats.TripletBatch;
import io.gaprune.stats.UnitStatistics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The model runtime behind a worker: the configured model ({@code gaprune.model}) loaded once with DJL, and
 * each work unit computed with {@link StatisticsStep}, batch after batch in the unit's order, summed in
 * float64. Calibration files are read once per path and kept.
 */
public final class ModelUnitComputer implements ModelRuntime {

  private final NDManager manager;
  private final LoadedModel model;
  private final String hash;
  private final Map<String, List<Triplet>> triplets = new ConcurrentHashMap<>();
  private final Map<Integer, TextTokenizer> tokenizers = new ConcurrentHashMap<>();

  public ModelUnitComputer(Config config) throws IOException {
    this(config.getString("gaprune.model"));
  }

  public ModelUnitComputer(String modelSpec) throws IOException {
    this.manager = NDManager.newBaseManager();
    try {
      this.model = ModelLoader.load(modelSpec, manager, DataType.FLOAT32);
    } catch (IOException | RuntimeException e) {
      manager.close();
      throw e;
    }
    this.hash = digest(model);
  }

  public LoadedModel model() {
    return model;
  }

  @Override
  public String modelHash() {
    return hash;
  }

  @Override
  public List<TensorSpec> candidateTensors(String candidates) {
    var types = LayerType.parse(candidates);
    var specs = new ArrayList<TensorSpec>();
    for (var e : model.encoder().parameters().entrySet()) {
      long[] shape = e.getValue().getShape().getShape();
      if (LayerType.isCandidate(types, e.getKey(), shape)) {
        var spec = TensorSpec.newBuilder().setName(e.getKey());
        for (long d : shape) {
          spec.addShape(d);
        }
        specs.add(spec.build());
      }
    }
    return specs;
  }

  @Override
  public double[] weights(String tensor) {
    var parameter = model.encoder().parameters().get(tensor);
    if (parameter == null) {
      throw new IllegalArgumentException("model " + model.source() + " has no tensor " + tensor);
    }
    try (var scratch = manager.newSubManager()) {
      scratch.tempAttachAll(parameter);
      return parameter.toType(DataType.FLOAT64, false).toDoubleArray();
    }
  }

  @Override
  public UnitStatistics compute(WorkUnit unit, SessionConfig session, Progress progress) {
    var general = triplets(session.getGeneralPath());
    var domain = triplets(session.getDomainPath());
    var tokenizer = tokenizer(session.getMaxSeqLen());
    var step = new StatisticsStep(model.encoder(), unit.getTensorsList().stream().map(TensorSpec::getName).toList());
    UnitStatistics sum = null;
    int done = 0;
    for (BatchIndices batch : unit.getBatchesList()) {
      try (var batchManager = NDManager.newBaseManager()) {
        var g = TripletBatch.tokenize(pick(general, batch.getGeneralList(), session.getGeneralPath()), tokenizer,
            model.config(), batchManager);
        var d = TripletBatch.tokenize(pick(domain, batch.getDomainList(), session.getDomainPath()), tokenizer,
            model.config(), batchManager);
        var contribution = step.run(g, d);
        sum = sum == null ? contribution : sum.plus(contribution);
      }
      progress.batchesDone(++done);
    }
    return sum == null ? UnitStatistics.empty() : sum;
  }

  private List<Triplet> triplets(String path) {
    return triplets.computeIfAbsent(path, p -> TripletReader.readAll(Path.of(p)));
  }

  private TextTokenizer tokenizer(int maxLength) {
    if (maxLength <= 0 || maxLength == model.tokenizer().maxLength()) {
      return model.tokenizer();
    }
    return tokenizers.computeIfAbsent(maxLength, n -> {
      try {
        return model.tokenizer().withMaxLength(n);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  private static List<Triplet> pick(List<Triplet> all, List<Integer> indices, String path) {
    var picked = new ArrayList<Triplet>(indices.size());
    for (int i : indices) {
      if (i < 0 || i >= all.size()) {
        throw new IllegalArgumentException("work unit names triplet " + i + " of " + path + ", which holds "
            + all.size());
      }
      picked.add(all.get(i));
    }
    return picked;
  }

  /** SHA-256 over the architecture and every parameter's name, shape and float32 bytes. */
  static String digest(LoadedModel model) {
    try {
      var sha = MessageDigest.getInstance("SHA-256");
      sha.update(model.config().toString().getBytes(StandardCharsets.UTF_8));
      for (var e : model.encoder().parameters().entrySet()) {
        sha.update(e.getKey().getBytes(StandardCharsets.UTF_8));
        sha.update(e.getValue().getShape().toString().getBytes(StandardCharsets.UTF_8));
        float[] values = e.getValue().toFloatArray();
        var bytes = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(values);
        sha.update(bytes.array());
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  @Override
  public void close() {
    tokenizers.values().forEach(TextTokenizer::close);
    model.close();
    manager.close();
  }
}
