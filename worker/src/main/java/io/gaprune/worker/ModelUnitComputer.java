package io.gaprune.worker;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import com.typesafe.config.Config;
import io.gaprune.data.Triplet;
import io.gaprune.data.TripletReader;
import io.gaprune.model.LayerType;
import io.gaprune.model.LoadedModel;
import io.gaprune.model.ModelLoader;
import io.gaprune.protocol.BatchIndices;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.WorkUnit;
import io.gaprune.stats.StatisticsStep;
import io.gaprune.stats.TripletBatch;
import io.gaprune.stats.UnitStatistics;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The real model runtime behind a worker: the model loaded with DJL on PyTorch ({@link ModelLoader}), the
 * calibration triplets read once per file ({@link TripletReader}), and for each batch of a unit one
 * {@link StatisticsStep} over the unit's layer partition, summed in batch order in float64, in place (the
 * unit's sums are the only statistics held: no per-batch copy).
 *
 * <p>The model hash is a SHA-256 of every parameter's name, shape and float32 bits, so two workers agree
 * only if they hold the same weights, whatever the file they came from.
 */
public final class ModelUnitComputer implements ModelRuntime {
  private final String spec;
  private final NDManager manager;
  private LoadedModel model;
  private int maxLength;
  private final String hash;
  private final Map<String, List<Triplet>> triplets = new HashMap<>();
  /** The caller's model (the embedded pipeline's): never reloaded or closed here. */
  private final boolean borrowed;

  public ModelUnitComputer(Config config) throws IOException {
    int threads = config.getInt("gaprune.worker.threads");
    if (System.getProperty("ai.djl.pytorch.num_threads") == null && threads > 0) {
      // read by the engine when it starts: one worker per device, a fixed number of threads each
      System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
    }
    this.spec = config.getString("gaprune.model");
    this.maxLength = config.getInt("gaprune.session.max-seq-len");
    this.manager = NDManager.newBaseManager();
    this.model = ModelLoader.load(spec, manager, DataType.FLOAT32, maxLength);
    this.hash = hash(model);
    this.borrowed = false;
  }

  /**
   * A runtime over a model the caller loaded and keeps (the embedded pipeline's: one copy of the weights per
   * JVM); sessions must ask for the length it was loaded with.
   *
   * @param spec the model as the session names it ({@code minilm}, a folder)
   */
  public ModelUnitComputer(LoadedModel model, String spec, int maxLength) {
    this.spec = spec;
    this.maxLength = maxLength;
    this.manager = NDManager.newBaseManager();
    this.model = model;
    this.hash = hash(model);
    this.borrowed = true;
  }

  @Override
  public String modelHash() {
    return hash;
  }

  /** PyTorch's intra-op threads in this process (set once, when the engine starts: {@code gaprune.worker.threads}). */
  @Override
  public int intraOpThreads() {
    return JniUtils.getNumThreads();
  }

  @Override
  public List<TensorSpec> candidateTensors(String candidates) {
    Set<LayerType> types = LayerType.parse(candidates.isEmpty() ? "mlp" : candidates);
    List<TensorSpec> out = new ArrayList<>();
    for (var e : model.encoder().parameters().entrySet()) {
      long[] shape = e.getValue().getShape().getShape();
      if (LayerType.isCandidate(types, e.getKey(), shape)) {
        TensorSpec.Builder b = TensorSpec.newBuilder().setName(e.getKey());
        for (long d : shape) {
          b.addShape(d);
        }
        out.add(b.build());
      }
    }
    return out;
  }

  @Override
  public double[] weights(String tensor) {
    NDArray p = model.encoder().parameters().get(tensor);
    if (p == null) {
      throw new IllegalArgumentException("model " + spec + " has no parameter " + tensor);
    }
    try (var scratch = manager.newSubManager()) {
      // toType makes a float64 copy in the parameter's manager; borrow the parameter so the copy dies here
      scratch.tempAttachAll(p);
      return p.toType(DataType.FLOAT64, false).toDoubleArray();
    }
  }

  @Override
  public synchronized UnitStatistics compute(WorkUnit unit, SessionConfig session, BatchProgress progress) throws IOException {
    if (session.getMaxSeqLen() > 0 && session.getMaxSeqLen() != maxLength) {
      if (borrowed) {
        throw new IllegalArgumentException("the session asks max length " + session.getMaxSeqLen()
            + ", the shared model was loaded with " + maxLength);
      }
      // the tokenizer's truncation is fixed at load: reload for a session that asks another length
      model.close();
      maxLength = session.getMaxSeqLen();
      model = ModelLoader.load(spec, manager, DataType.FLOAT32, maxLength);
    }
    List<Triplet> general = triplets(session.getGeneralPath());
    List<Triplet> domain = triplets(session.getDomainPath());
    List<String> names = unit.getTensorsList().stream().map(TensorSpec::getName).toList();
    StatisticsStep step = new StatisticsStep(model.encoder(), names);
    if (!ShardCodec.gradientSums(session)) {
      step = step.fisherOnly();
    }
    step = step.withInputs(ShardCodec.inputs(session));
    UnitStatistics sum = UnitStatistics.empty();
    int done = 0;
    for (BatchIndices b : unit.getBatchesList()) {
      if (Thread.currentThread().isInterrupted()) {
        // the process is stopping (SIGTERM): end between batches, never inside PyTorch's forward or backward
        throw new java.io.InterruptedIOException("worker stopping: unit " + unit.getUnitId() + " stopped after "
            + done + " of " + unit.getBatchesCount() + " batches");
      }
      try (NDManager batchManager = manager.newSubManager()) {
        var g = TripletBatch.tokenize(pick(general, b.getGeneralList(), session.getGeneralPath()), model.tokenizer(),
            model.config(), batchManager);
        var d = TripletBatch.tokenize(pick(domain, b.getDomainList(), session.getDomainPath()), model.tokenizer(),
            model.config(), batchManager);
        sum = step.accumulate(g, d, sum); // batch order: the same float64 sums on every worker
      }
      progress.batchesDone(++done);
    }
    return sum;
  }

  private List<Triplet> triplets(String path) {
    return triplets.computeIfAbsent(path, p -> TripletReader.readAll(Path.of(p)));
  }

  private static List<Triplet> pick(List<Triplet> all, List<Integer> indices, String file) {
    List<Triplet> out = new ArrayList<>(indices.size());
    for (int i : indices) {
      if (i < 0 || i >= all.size()) {
        throw new IllegalArgumentException("unit asks for triplet " + i + " of " + file + ", which has " + all.size()
            + " (did the file change since the session started?)");
      }
      out.add(all.get(i));
    }
    return out;
  }

  private static String hash(LoadedModel model) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (var e : model.encoder().parameters().entrySet()) {
        md.update(e.getKey().getBytes(StandardCharsets.UTF_8));
        ByteBuffer shape = ByteBuffer.allocate(8 * e.getValue().getShape().dimension()).order(ByteOrder.LITTLE_ENDIAN);
        for (long d : e.getValue().getShape().getShape()) {
          shape.putLong(d);
        }
        md.update(shape.array());
        md.update(e.getValue().toType(DataType.FLOAT32, false).toByteArray());
      }
      return HexFormat.of().formatHex(md.digest()).substring(0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    if (!borrowed) {
      model.close();
    }
    manager.close();
  }

}
