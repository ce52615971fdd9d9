package io.gaprune.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.gaprune.data.Triplet;
import io.gaprune.model.LoadedModel;
import io.gaprune.model.TorchWork;
import io.gaprune.progress.Progress;
import io.gaprune.stats.InfoNceLoss;
import io.gaprune.stats.ProcessAutograd;
import io.gaprune.stats.TripletBatch;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Short InfoNCE fine-tuning on domain triplets with the pruning masks held fixed: every parameter trains,
 * the pruned weights stay exactly zero ({@link MaskedAdamW}). Batches are drawn in a seeded shuffled order,
 * epoch after epoch, so a run is reproducible.
 */
public final class Retrainer {

  /**
   * @param steps optimizer steps (the paper retrains for 100)
   * @param batchSize triplets per step; each query sees the batch's positives and negatives as candidates
   * @param seed order of the batches
   * @param optimizer AdamW settings
   */
  public record Settings(int steps, int batchSize, long seed, MaskedAdamW.Settings optimizer) {
    public Settings {
      if (steps < 0) {
        throw new IllegalArgumentException("retraining steps must be ≥ 0, got " + steps);
      }
      if (batchSize < 2) {
        throw new IllegalArgumentException("retraining batch size must be ≥ 2 (in-batch negatives), got " + batchSize);
      }
    }

    public static Settings defaults(int steps, long seed) {
      return new Settings(steps, 16, seed, MaskedAdamW.Settings.defaults());
    }
  }

  /** The loss of each step, in order, and the wall-clock time. */
  public record Result(List<Double> losses, double seconds) {}

  private Retrainer() {}

  /**
   * Trains {@code model}'s parameters in place.
   *
   * @param masks per parameter name, a 0/1 (U8) array of its shape; those weights that are 0 stay exactly 0
   */
  public static Result retrain(LoadedModel model, Map<String, NDArray> masks, List<Triplet> triplets,
      Settings settings, Progress progress) {
    if (settings.steps() > 0 && triplets.size() < settings.batchSize()) {
      throw new IllegalArgumentException("retraining needs at least " + settings.batchSize()
          + " domain triplets (the batch size), got " + triplets.size());
    }
    var parameters = model.encoder().parameters();
    for (var mask : masks.entrySet()) {
      var weight = parameters.get(mask.getKey());
      if (weight == null) {
        throw new IllegalArgumentException("mask for unknown parameter " + mask.getKey());
      }
      if (!weight.getShape().equals(mask.getValue().getShape())) {
        throw new IllegalArgumentException("mask of " + mask.getKey() + " has shape " + mask.getValue().getShape()
            + ", the parameter " + weight.getShape());
      }
    }
    long start = System.nanoTime();
    var losses = new ArrayList<Double>();
    var order = new ArrayList<Integer>();
    var random = new Random(settings.seed());
    var device = parameters.values().iterator().next().getDevice();
    progress.begin("retrain", settings.steps(), "steps");
    try (NDManager state = NDManager.newBaseManager(device);
        var optimizer = new MaskedAdamW(settings.optimizer(), masks, state)) {
      for (var weight : parameters.values()) {
        if (!weight.hasGradient()) {
          weight.setRequiresGradient(true);
        }
      }
      for (int step = 0; step < settings.steps(); step++) {
        var batch = new ArrayList<Triplet>(settings.batchSize());
        while (batch.size() < settings.batchSize()) {
          if (order.isEmpty()) {
            for (int i = 0; i < triplets.size(); i++) {
              order.add(i);
            }
            Collections.shuffle(order, random);
          }
          batch.add(triplets.get(order.remove(order.size() - 1)));
        }
        try (var section = TorchWork.enter();
            NDManager stepManager = NDManager.newBaseManager(device)) {
          var tokens = TripletBatch.tokenize(batch, model.tokenizer(), model.config(), stepManager);
          var gradients = new LinkedHashMap<String, NDArray>();
          double loss;
          try (var recording = ProcessAutograd.open()) {
            var encoder = model.encoder();
            var value = InfoNceLoss.loss(encoder.embed(tokens.queries()), encoder.embed(tokens.positives()),
                encoder.embed(tokens.negatives()));
            recording.collector().backward(value);
            loss = value.toType(DataType.FLOAT64, false).getDouble();
          }
          if (!Double.isFinite(loss)) {
            throw new IllegalStateException("retraining loss became " + loss + " at step " + (step + 1)
                + "; lower the learning rate");
          }
          for (var entry : parameters.entrySet()) {
            var gradient = entry.getValue().getGradient();
            stepManager.attachAll(gradient); // a fresh handle each call: it would leak in the weights' manager
            gradients.put(entry.getKey(), gradient);
          }
          optimizer.update(parameters, gradients);
          for (var weight : parameters.values()) {
            JniUtils.zeroGrad((PtNDArray) weight); // backward adds into .grad
          }
          losses.add(loss);
        }
        progress.update(step + 1);
      }
    } finally {
      for (var weight : parameters.values()) {
        if (weight.hasGradient()) {
          weight.setRequiresGradient(false);
        }
      }
      progress.end();
    }
    return new Result(List.copyOf(losses), (System.nanoTime() - start) / 1e9);
  }
}
