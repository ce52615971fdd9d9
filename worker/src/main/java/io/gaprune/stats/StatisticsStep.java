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
import java.util.TreeSet;
import java.util.function.BiConsumer;

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
  private final boolean gradientSums;
  private final Inputs inputs;

  /** The input statistics of the partition's linear layers a step collects beside the gradients. */
  public enum Inputs {
    NONE,
    /** Σx² per input channel (Wanda). */
    NORMS,
    /** Σx² and the Gram matrix Σx·xᵀ (SparseGPT, the OBS reconstruction). */
    GRAMS
  }

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
    this.gradientSums = true;
    this.inputs = Inputs.NONE;
  }

  public List<String> partition() {
    return partition;
  }

  /**
   * Without the gradient sums Σg (the Fisher sums and the cosines only): for scorings that do not read the
   * gradient alignment, half the memory and half the bytes per unit.
   */
  public StatisticsStep fisherOnly() {
    return new StatisticsStep(encoder, partition, false, inputs);
  }

  /**
   * Also the input statistics of the partition's tensors, which must all be linear layers' weights: summed over
   * the non-padding tokens of the queries, positives and negatives of each half ({@link InputSums}).
   */
  public StatisticsStep withInputs(Inputs inputs) {
    return new StatisticsStep(encoder, partition, gradientSums, inputs);
  }

  private StatisticsStep(Encoder encoder, List<String> partition, boolean gradientSums, Inputs inputs) {
    this.encoder = encoder;
    this.partition = partition;
    this.gradientSums = gradientSums;
    this.inputs = inputs;
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
    return step(general, domain, collectStatistics ? UnitStatistics.empty() : null);
  }

  /**
   * Runs both halves and adds this batch's contribution into {@code sums} (its tensor arrays change in place,
   * missing tensors are added): a unit's running sum costs no per-batch copy of the statistics, and the sums
   * are the same bits as {@code sums.plus(run(general, domain))}.
   *
   * @return the sums with this batch counted
   */
  public UnitStatistics accumulate(TripletBatch general, TripletBatch domain, UnitStatistics sums) {
    return step(general, domain, sums);
  }

  private UnitStatistics step(TripletBatch general, TripletBatch domain, UnitStatistics sums) {
    var first = encoder.parameters().values().iterator().next();
    try (NDManager step = NDManager.newBaseManager(first.getDevice());
        var recording = ProcessAutograd.open()) {
      markRequiresGradient(); // under the recording's lock: another thread's step may use another partition
      step.tempAttachAll(general.arrays());
      step.tempAttachAll(domain.arrays());
      var tensors = sums == null ? new LinkedHashMap<String, TensorStats>() : new LinkedHashMap<>(sums.tensors());
      // The general half's gradients wait (float32, as computed) for the domain half: the cosine needs both.
      var generalGradients = new LinkedHashMap<String, Gradient>();
      var generalInputs = recorder(sums);
      var domainInputs = recorder(sums);
      double generalLoss = half(recording.collector(), general, step, generalInputs, sums == null ? null : (name, g) -> {
        var t = tensors.computeIfAbsent(name, n -> TensorStats.zeros(n, shape(n), gradientSums));
        addSquares(t.sumSqGeneral(), g);
        if (gradientSums) {
          add(t.sumGeneral(), g);
        }
        generalGradients.put(name, g);
      });
      double domainLoss = half(recording.collector(), domain, step, domainInputs, sums == null ? null : (name, d) -> {
        var t = tensors.get(name);
        addSquares(t.sumSqDomain(), d);
        if (gradientSums) {
          add(t.sumDomain(), d);
        }
        double cosine = cosine(generalGradients.remove(name), d);
        tensors.put(name, new TensorStats(t.name(), t.shape(), t.sumSqGeneral(), t.sumGeneral(), t.sumSqDomain(),
            t.sumDomain(), t.cosineSum() + cosine, t.negativeCosines() + (cosine < 0 ? 1 : 0), t.inputs()));
      });
      if (generalInputs != null) {
        for (var name : partition) {
          tensors.put(name, tensors.get(name).withInputs(addInputs(name, tensors.get(name).inputs(), generalInputs,
              domainInputs)));
        }
      }
      var base = sums == null ? UnitStatistics.empty() : sums;
      return new UnitStatistics(tensors, base.generalSamples() + general.size(),
          base.domainSamples() + domain.size(), base.batches() + 1,
          base.generalLossSum() + generalLoss * general.size(), base.domainLossSum() + domainLoss * domain.size());
    }
  }

  private InputRecorder recorder(UnitStatistics sums) {
    return sums == null || inputs == Inputs.NONE ? null
        : new InputRecorder(new HashSet<>(partition), inputs == Inputs.GRAMS);
  }

  /** {@code sums} (zeros at the first batch) plus this step's inputs of both halves. */
  private InputSums addInputs(String name, InputSums sums, InputRecorder general, InputRecorder domain) {
    var g = general.sums(name);
    var d = domain.sums(name);
    if (g == null || d == null) {
      throw new IllegalArgumentException("input statistics were asked for " + name + ", which is not the weight of "
          + "a linear layer the encoder computes (input statistics need linear candidates: mlp, attention, linear)");
    }
    var out = sums.hasSquares() ? sums : InputSums.zeros(g.squares().length, inputs == Inputs.GRAMS);
    addInto(out.squaresGeneral(), g.squares());
    addInto(out.squaresDomain(), d.squares());
    addInto(out.gramGeneral(), g.gram());
    addInto(out.gramDomain(), d.gram());
    return out.withTokens(false, g.tokens()[0]).withTokens(true, d.tokens()[0]);
  }

  private static void addInto(double[] target, double[] add) {
    for (int i = 0; i < target.length; i++) {
      target[i] += add[i];
    }
  }

  private long[] shape(String name) {
    return encoder.parameters().get(name).getShape().getShape();
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

  /**
   * Runs one half's forward and backward, hands each tensor's gradient to {@code sink} (null: forward and
   * backward only, nothing copied); returns the loss.
   */
  private double half(GradientCollector collector, TripletBatch batch, NDManager step, InputRecorder inputs,
      BiConsumer<String, Gradient> sink) {
    var loss = InfoNceLoss.loss(encoder.embed(batch.queries(), inputs), encoder.embed(batch.positives(), inputs),
        encoder.embed(batch.negatives(), inputs));
    collector.backward(loss);
    for (var name : partition) {
      var parameter = encoder.parameters().get(name);
      var gradient = parameter.getGradient();
      step.attachAll(gradient); // a new handle in the parameter's manager otherwise: it would leak every step
      if (sink != null) {
        sink.accept(name, Gradient.of(gradient));
      }
      // backward adds into .grad: clear it for the next half and the next step
      JniUtils.zeroGrad((PtNDArray) parameter);
    }
    return loss.toType(DataType.FLOAT64, false).getDouble();
  }

  /**
   * One tensor's gradient as the model computed it: float32 values stay float32 in memory (half the bytes of a
   * copy in float64; widening is exact, so the sums are the same), float64 models keep float64.
   */
  private record Gradient(float[] f32, double[] f64) {
    static Gradient of(NDArray gradient) {
      return gradient.getDataType() == DataType.FLOAT64 ? new Gradient(null, gradient.toDoubleArray())
          : new Gradient(gradient.toType(DataType.FLOAT32, false).toFloatArray(), null);
    }

    int length() {
      return f32 != null ? f32.length : f64.length;
    }

    double get(int i) {
      return f32 != null ? f32[i] : f64[i];
    }
  }

  /** {@code target[i] += g[i]²}, squared in float64. */
  private static void addSquares(double[] target, Gradient g) {
    for (int i = 0; i < target.length; i++) {
      double v = g.get(i);
      target[i] += v * v;
    }
  }

  private static void add(double[] target, Gradient g) {
    for (int i = 0; i < target.length; i++) {
      target[i] += g.get(i);
    }
  }

  /** The cosine between the two halves' gradients of one tensor (0 when either is zero). */
  static double cosine(Gradient general, Gradient domain) {
    double dot = 0;
    double normGeneral = 0;
    double normDomain = 0;
    for (int i = 0; i < general.length(); i++) {
      double g = general.get(i);
      double d = domain.get(i);
      dot += g * d;
      normGeneral += g * g;
      normDomain += d * d;
    }
    normGeneral = Math.sqrt(normGeneral);
    normDomain = Math.sqrt(normDomain);
    return normGeneral > 0 && normDomain > 0 ? dot / (normGeneral * normDomain) : 0;
  }
}
