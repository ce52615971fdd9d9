package io.gaprune.stats;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.gaprune.model.Encoder;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * One batch's contribution to the gradient statistics: the InfoNCE loss of a general and of a domain triplet
 * batch, their gradients for the tensors of a layer partition, and from those {@code g²}, {@code g} per weight
 * and half, the per-tensor cosine between the halves and the counters, as a {@link UnitStatistics} of one
 * batch.
 *
 * <p>{@code g} is the gradient of the batch's mean loss (the reference's micro-batch gradient, not
 * per-sample gradients). Only the partition's tensors require gradients: the others are marked not to, so
 * autograd neither computes nor stores their gradients. Both halves run under the process's single
 * {@link ProcessAutograd} recording; the partition's gradients are zeroed after each half because PyTorch
 * adds every backward into them.
 *
 * <p>All arrays of a step live in a step manager that is closed when the step ends: the batches are attached
 * to it temporarily (returned to their owner afterwards), so the encoder's intermediates, the loss and the
 * gradient copies are freed every step.
 */
public final class StatisticsStep {

  private final Encoder encoder;
  private final List<String> partition;

  /**
   * @param encoder the model
   * @param partition names of the parameters that need statistics (the encoder's names); may be empty (then
   *     only losses and counts are produced)
   * @throws IllegalArgumentException naming the parameters that the encoder does not have
   */
  public StatisticsStep(Encoder encoder, Collection<String> partition) {
    this.encoder = encoder;
    var unknown = new TreeSet<String>();
    for (var name : partition) {
      if (!encoder.parameters().containsKey(name)) {
        unknown.add(name);
      }
    }
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("partition names parameters the encoder does not have: " + unknown);
    }
    var wanted = new TreeSet<>(partition);
    // the encoder's (checkpoint) order, so contributions list tensors the same way on every worker
    this.partition = encoder.parameters().keySet().stream().filter(wanted::contains).toList();
  }

  public List<String> partition() {
    return partition;
  }

  /** Runs both halves and returns the contribution of this one batch. */
  public UnitStatistics run(TripletBatch general, TripletBatch domain) {
    return run(general, domain, true);
  }

  /**
   * @param collectStatistics false runs forward and backward only (losses and counts, no tensor statistics):
   *     the benchmark's "accumulation off"
   */
  public UnitStatistics run(TripletBatch general, TripletBatch domain, boolean collectStatistics) {
    var first = encoder.parameters().values().iterator().next();
    try (NDManager step = NDManager.newBaseManager(first.getDevice());
        var recording = ProcessAutograd.open()) {
      markRequiresGradient(); // under the recording's lock: another thread's step may use another partition
      step.tempAttachAll(general.arrays());
      step.tempAttachAll(domain.arrays());
      var gen = half(recording.collector(), general, step, collectStatistics);
      var dom = half(recording.collector(), domain, step, collectStatistics);
      var tensors = new LinkedHashMap<String, TensorStats>();
      if (collectStatistics) {
        for (var name : partition) {
          tensors.put(name, tensorStats(name, encoder.parameters().get(name).getShape().getShape(),
              gen.gradients.get(name), dom.gradients.get(name)));
        }
      }
      return new UnitStatistics(tensors, general.size(), domain.size(), 1,
          gen.loss * general.size(), dom.loss * domain.size());
    }
  }

  private void markRequiresGradient() {
    var wanted = new HashSet<>(partition);
    for (var e : encoder.parameters().entrySet()) {
      boolean needs = wanted.contains(e.getKey());
      if (e.getValue().hasGradient() != needs) {
        e.getValue().setRequiresGradient(needs);
      }
    }
  }

  private record Half(double loss, Map<String, double[]> gradients) {}

  private Half half(GradientCollector collector, TripletBatch batch, NDManager step, boolean collect) {
    var loss = InfoNceLoss.loss(encoder.embed(batch.queries()), encoder.embed(batch.positives()),
        encoder.embed(batch.negatives()));
    collector.backward(loss);
    var gradients = new LinkedHashMap<String, double[]>();
    for (var name : partition) {
      var parameter = encoder.parameters().get(name);
      var gradient = parameter.getGradient();
      step.attachAll(gradient); // a new handle in the parameter's manager otherwise: it would leak every step
      if (collect) {
        gradients.put(name, toDoubles(gradient));
      }
      // backward adds into .grad: clear it for the next half and the next step
      JniUtils.zeroGrad((PtNDArray) parameter);
    }
    return new Half(loss.toType(DataType.FLOAT64, false).getDouble(), gradients);
  }

  /** float32 widened in Java (exact) rather than through a float64 copy on the device. */
  private static double[] toDoubles(NDArray gradient) {
    if (gradient.getDataType() == DataType.FLOAT64) {
      return gradient.toDoubleArray();
    }
    var floats = gradient.toType(DataType.FLOAT32, false).toFloatArray();
    var doubles = new double[floats.length];
    for (int i = 0; i < floats.length; i++) {
      doubles[i] = floats[i];
    }
    return doubles;
  }

  /** g², g of both halves and the cosine between them (0 when either gradient is zero). */
  static TensorStats tensorStats(String name, long[] shape, double[] general, double[] domain) {
    var sqGeneral = new double[general.length];
    var sqDomain = new double[domain.length];
    double dot = 0;
    for (int i = 0; i < general.length; i++) {
      sqGeneral[i] = general[i] * general[i];
      sqDomain[i] = domain[i] * domain[i];
      dot += general[i] * domain[i];
    }
    double normGeneral = Math.sqrt(sum(sqGeneral));
    double normDomain = Math.sqrt(sum(sqDomain));
    double cosine = normGeneral > 0 && normDomain > 0 ? dot / (normGeneral * normDomain) : 0;
    return new TensorStats(name, shape, sqGeneral, general, sqDomain, domain, cosine, cosine < 0 ? 1 : 0);
  }

  private static double sum(double[] values) {
    double s = 0;
    for (double v : values) {
      s += v;
    }
    return s;
  }
}
