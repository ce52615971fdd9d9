package io.gaprune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.HashMap;
import java.util.Map;

/**
 * AdamW (Loshchilov &amp; Hutter: decoupled weight decay) that keeps pruned weights at exactly zero.
 *
 * <p>For a masked tensor the gradient is multiplied by the mask before it reaches the moments, so a pruned
 * weight's moments stay zero, and the updated value is multiplied by the mask again: {@code w · 0} is an exact
 * zero for every finite {@code w} (made +0 by adding zero), so a pruned weight never comes back, whatever the
 * learning rate or decay.
 * Moments live in the optimizer's own manager, in the parameter's dtype.
 */
public final class MaskedAdamW implements AutoCloseable {

  /** Hyperparameters; defaults are PyTorch's AdamW ones except the learning rate, chosen for short retraining. */
  public record Settings(double learningRate, double beta1, double beta2, double epsilon, double weightDecay) {
    public Settings {
      if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
        throw new IllegalArgumentException("learning rate must be a positive number, got " + learningRate);
      }
      if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
        throw new IllegalArgumentException("betas must lie in [0, 1), got " + beta1 + ", " + beta2);
      }
      if (!(epsilon > 0)) {
        throw new IllegalArgumentException("epsilon must be positive, got " + epsilon);
      }
      if (!(weightDecay >= 0)) {
        throw new IllegalArgumentException("weight decay must be non-negative, got " + weightDecay);
      }
    }

    public static Settings defaults() {
      return new Settings(2e-5, 0.9, 0.999, 1e-8, 0.01);
    }
  }

  private final Settings settings;
  private final NDManager state;
  private final Map<String, NDArray> firstMoments = new HashMap<>();
  private final Map<String, NDArray> secondMoments = new HashMap<>();
  private final Map<String, NDArray> masks;
  private int step;

  /**
   * @param masks per parameter name, a 0/1 array of the parameter's shape; parameters without a mask train freely
   */
  public MaskedAdamW(Settings settings, Map<String, NDArray> masks, NDManager parent) {
    this.settings = settings;
    this.state = parent.newSubManager();
    this.masks = masks;
  }

  public int step() {
    return step;
  }

  /**
   * One update of every parameter that has a gradient. Parameters and their gradients must have equal shapes;
   * the update is written into the parameter array in place so that encoders holding it see the new values.
   */
  public void update(Map<String, NDArray> parameters, Map<String, NDArray> gradients) {
    validate(parameters, gradients);

    step++;
    double b1 = settings.beta1();
    double b2 = settings.beta2();
    double correction1 = 1 - Math.pow(b1, step);
    double correction2 = 1 - Math.pow(b2, step);
    for (var entry : gradients.entrySet()) {
      String name = entry.getKey();
      NDArray weight = parameters.get(name);
      NDArray gradient = entry.getValue();
      NDArray mask = masks.get(name);
      NDArray m = firstMoments.computeIfAbsent(name, n -> state.zeros(weight.getShape(), weight.getDataType()));
      NDArray v = secondMoments.computeIfAbsent(name, n -> state.zeros(weight.getShape(), weight.getDataType()));
      try (NDManager scratch = state.newSubManager()) {
        // Borrowed arrays come back to their owners when scratch closes; every intermediate dies with it.
        scratch.tempAttachAll(weight, gradient, m, v);
        if (mask != null) {
          scratch.tempAttachAll(mask);
        }
        NDArray keep = mask == null ? null : mask.toType(weight.getDataType(), false);
        NDArray g = keep == null ? gradient : gradient.mul(keep);
        m.muli(b1).addi(g.mul(1 - b1));
        v.muli(b2).addi(g.square().muli(1 - b2));
        NDArray delta = m.div(correction1).divi(v.div(correction2).sqrt().addi(settings.epsilon()));
        weight.muli(1 - settings.learningRate() * settings.weightDecay()).subi(delta.muli(settings.learningRate()));
        if (keep != null) {
          // w·0 is −0 for a negative w; adding +0 makes every pruned weight the plain zero a checkpoint expects
          weight.muli(keep).addi(0.0);
        }
      }
    }
  }

  /** Checks every gradient before any weight changes, so a bad step leaves the model as it was. */
  private static void validate(Map<String, NDArray> parameters, Map<String, NDArray> gradients) {
    for (var entry : gradients.entrySet()) {
      String name = entry.getKey();
      NDArray weight = parameters.get(name);
      if (weight == null) {
        throw new IllegalArgumentException("gradient for unknown parameter " + name);
      }
      NDArray gradient = entry.getValue();
      if (!gradient.getShape().equals(weight.getShape())) {
        throw new IllegalArgumentException("gradient of " + name + " has shape " + gradient.getShape()
            + ", the parameter " + weight.getShape());
      }
      try (NDManager scratch = gradient.getManager().newSubManager()) {
        scratch.tempAttachAll(gradient);
        if (gradient.isNaN().any().getBoolean() || gradient.isInfinite().any().getBoolean()) {
          throw new IllegalArgumentException("gradient of " + name + " holds NaN or infinite values");
        }
      }
    }
  }

  @Override
  public void close() {
    state.close();
  }
}
