package io.gaprune.planner;

import io.gaprune.model.LayerType;
import io.gaprune.model.safetensors.DType;
import io.gaprune.model.safetensors.SafetensorsWriter;
import io.gaprune.model.safetensors.TensorSpec;
import io.gaprune.stats.InputSums;
import io.gaprune.stats.PackedSymmetric;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The methods that decide layer by layer from the layers' input statistics, not by one selection over scores:
 * Wanda (per output row), SparseGPT (its own mask and weight updates), and the OBS reconstruction of any mask
 * (the reconstructing DAI). Every candidate tensor gets the requested sparsity exactly (the budget is per layer,
 * as both papers prune), or under the OWL budget its layer's OWL budget split over the layer's tensors by size;
 * the masks file and the plan's counts have the {@link Planner}'s format, so the pipeline
 * applies, reports and retrains them the same way.
 */
public final class LayerwisePruner {

  private LayerwisePruner() {}

  /** The model as the layer-wise methods read and change it, one tensor at a time. */
  public interface Model {
    /** Every tensor, in the model's order. */
    List<TensorMeta> tensors();

    float[] weights(TensorMeta tensor) throws IOException;

    /** The tensor's input statistics, or {@link InputSums#NONE} when none were collected. */
    InputSums inputs(TensorMeta tensor) throws IOException;

    /** Replaces the tensor's weights (SparseGPT's and the reconstruction's updates). */
    void update(TensorMeta tensor, double[] weights) throws IOException;

    /** float64 values narrowed to float32, as a model runtime holds its weights. */
    static float[] narrow(double[] values) {
      var out = new float[values.length];
      for (int i = 0; i < out.length; i++) {
        out[i] = (float) values[i];
      }
      return out;
    }
  }

  /**
   * @param calibration which half's statistics Wanda and SparseGPT read
   * @param structure unstructured (the sparsity decides) or N:M (the sparsity is 1 − N/M)
   * @param layerBudgets the OWL budget's weights to prune per layer group ({@link OwlBudgets#measure}); empty:
   *     every tensor at the sparsity
   */
  public record Settings(Set<LayerType> layerTypes, double sparsity, Structure structure, Calibration calibration,
      int block, double dampening, Map<String, Long> layerBudgets) {
    public Settings {
      Budgets.checkSparsity(sparsity);
      layerBudgets = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(layerBudgets));
      if (!layerBudgets.isEmpty() && !structure.unstructured()) {
        throw OwlBudgets.structureRefused(structure);
      }
    }

    public static Settings of(Set<LayerType> layerTypes, double sparsity) {
      return new Settings(layerTypes, sparsity, Structure.UNSTRUCTURED, Calibration.DOMAIN, SparseGpt.DEFAULT_BLOCK,
          SparseGpt.DEFAULT_DAMPENING, Map.of());
    }

    public Settings withStructure(Structure s) {
      return new Settings(layerTypes, sparsity, s, calibration, block, dampening, layerBudgets);
    }

    public Settings withCalibration(Calibration c) {
      return new Settings(layerTypes, sparsity, structure, c, block, dampening, layerBudgets);
    }

    /** The OWL budget: these weights to prune per layer group, in place of the sparsity per tensor. */
    public Settings withLayerBudgets(Map<String, Long> budgets) {
      return new Settings(layerTypes, sparsity, structure, calibration, block, dampening, budgets);
    }
  }

  /** Wanda's masks: {@code |W|·sqrt(Σx²)} compared within each output row. */
  public static PlanResult wanda(Model model, Settings settings, Path masks, Path stats) throws IOException {
    return run("wanda", model, settings, masks, stats, (t, rows, cols, w, inputs, k) -> {
      var scores = Wanda.scores(t.name(), w, rows, cols, settings.calibration().squares(inputs));
      return new SparseGpt.Result(null, Wanda.mask(scores, rows, cols, k, settings.structure()), 0);
    });
  }

  /** SparseGPT's masks and updated weights (written into the model through {@link Model#update}). */
  public static PlanResult sparseGpt(Model model, Settings settings, Path masks, Path stats) throws IOException {
    return run("sparsegpt", model, settings, masks, stats, (t, rows, cols, w, inputs, k) -> {
      if (!inputs.hasGrams()) {
        throw new IllegalArgumentException("tensor " + t.name() + " has no input Gram matrix Σx·xᵀ, which SparseGPT "
            + "needs: collect the statistics with sparsegpt among the methods");
      }
      var h = PackedSymmetric.unpack(settings.calibration().gram(inputs), cols);
      return SparseGpt.prune(t.name(), widen(w), rows, cols, h, k, settings.structure(), settings.block(),
          settings.dampening());
    });
  }

  /**
   * The reconstructing step after any mask: per candidate of {@code masks}, SparseGPT's updates with that mask
   * fixed on {@code H = H_dom + λ·c·H_gen}, {@code c = tr H_dom / tr H_gen}, the general Hessian put on the
   * domain's scale and weighted as the calibrated DAI weights the general Fisher ({@code λ} = its general
   * weight). The kept weights change, the mask does not.
   *
   * @return per tensor the reconstruction error {@code tr(ΔW·H·ΔWᵀ)} of the mask before and after the update,
   *     relative to {@code tr(W·H·Wᵀ)} (the layer's output energy on the calibration inputs)
   */
  public static List<Reconstruction> reconstruct(Model model, Map<String, byte[]> masks, double generalWeight,
      int block, double dampening) throws IOException {
    return reconstructEach(model, masks, generalWeight, "the reconstruction needs: collect the statistics with "
        + "reconstruct=1 among the methods", (t, w, rows, cols, h, mask) ->
        SparseGpt.reconstruct(t.name(), w, rows, cols, h, mask, block, dampening)).errors();
  }

  /** A tensor's scores turned into the adaptive mask's log-prior ({@link #adaptive}). */
  @FunctionalInterface
  public interface LogPriors {
    /** Per weight, row-major; read before the tensor's weights change. */
    double[] of(TensorMeta tensor) throws IOException;
  }

  /**
   * The adaptive reconstruction's prior of a scored method: per weight {@code p·(score − 2·log|θ|)}, the score less
   * its magnitude term (what the method adds to magnitude) to the power p; 0 for a weight already 0 or a score
   * that is not finite.
   */
  public static LogPriors scorePriors(TensorSource source, Scorer scorer, double p) {
    return t -> {
      var input = source.load(t);
      var scores = scorer.score(input);
      var w = input.weights();
      var prior = new double[scores.length];
      for (int i = 0; i < prior.length; i++) {
        prior[i] = w[i] == 0 || !Double.isFinite(scores[i]) ? 0 : p * (scores[i] - 2 * Math.log(Math.abs(w[i])));
      }
      return prior;
    };
  }

  /**
   * The adaptive reconstruction after any mask: per candidate of {@code masks}, as many weights as the mask prunes
   * (or its N:M structure), re-chosen block by block as SparseGPT chooses them while it updates the kept weights
   * ({@link SparseGpt#pruneWithPrior}), each saliency {@code w²/U_jj²} weighted by {@code e^prior} (the method's
   * own score less its magnitude term, raised to a power), on the reconstruction's Hessian
   * {@code H_dom + λ·c·H_gen}. The plan's budget per tensor stays; which weights carry it may change.
   *
   * @return the new masks (by tensor, in the model's order) and per tensor the reconstruction error of the plan's
   *     mask without updates ({@code before}) and of the new mask with them ({@code after}), relative as in
   *     {@link #reconstruct}
   */
  public static Adaptive adaptive(Model model, Map<String, byte[]> masks, LogPriors priors, Structure structure,
      double generalWeight, int block, double dampening) throws IOException {
    return reconstructEach(model, masks, generalWeight, "the adaptive reconstruction needs: collect the statistics "
        + "with it among the methods", (t, w, rows, cols, h, mask) -> SparseGpt.pruneWithPrior(t.name(), w, rows,
        cols, h, PlanResult.pruned(mask), priors.of(t), structure, block, dampening));
  }

  /** One layer's OBS step on the reconstruction's Hessian, given the plan's mask of the layer. */
  @FunctionalInterface
  private interface ObsStep {
    SparseGpt.Result apply(TensorMeta t, double[] weights, int rows, int cols, double[] hessian, byte[] mask)
        throws IOException;
  }

  /**
   * Per candidate of {@code masks}: the step on {@code H_dom + λ·c·H_gen}, its weights written into the model,
   * its mask kept, and the relative errors of the plan's mask before and of the step's result after.
   */
  private static Adaptive reconstructEach(Model model, Map<String, byte[]> masks, double generalWeight,
      String needsGrams, ObsStep step) throws IOException {
    var newMasks = new LinkedHashMap<String, byte[]>();
    var errors = new ArrayList<Reconstruction>();
    for (var t : model.tensors()) {
      var mask = masks.get(t.name());
      if (mask == null) {
        continue;
      }
      int rows = (int) t.shape()[0];
      int cols = Math.toIntExact(t.size() / rows);
      var inputs = model.inputs(t);
      if (!inputs.hasGrams()) {
        throw new IllegalArgumentException("tensor " + t.name() + " has no input Gram matrix Σx·xᵀ, which "
            + needsGrams);
      }
      var h = weightedHessian(t.name(), inputs, generalWeight, cols);
      var w = widen(model.weights(t));
      var result = step.apply(t, w, rows, cols, h, mask);
      double before = error(w, masked(w, mask), h, rows, cols);
      double after = error(w, result.weights(), h, rows, cols);
      double energy = error(w, new double[w.length], h, rows, cols);
      model.update(t, result.weights());
      newMasks.put(t.name(), result.mask());
      errors.add(new Reconstruction(t.name(), energy > 0 ? before / energy : 0, energy > 0 ? after / energy : 0));
    }
    return new Adaptive(newMasks, errors);
  }

  /** The adaptive reconstruction's masks and errors. */
  public record Adaptive(Map<String, byte[]> masks, List<Reconstruction> errors) {}

  /** A tensor's relative reconstruction error of its mask before and after the update. */
  public record Reconstruction(String tensor, double before, double after) {

    /** The mean of the tensors' errors before and after (what the notes report), named {@code mean}. */
    public static Reconstruction mean(List<Reconstruction> errors) {
      return new Reconstruction("mean", errors.stream().mapToDouble(Reconstruction::before).average().orElse(0),
          errors.stream().mapToDouble(Reconstruction::after).average().orElse(0));
    }
  }

  /** {@code H_dom + λ·c·H_gen}, {@code c = tr H_dom / tr H_gen} (0 when the general half saw nothing), full. */
  static double[] weightedHessian(String name, InputSums inputs, double generalWeight, int cols) {
    double traceDomain = 0;
    double traceGeneral = 0;
    for (int j = 0; j < cols; j++) {
      traceDomain += inputs.gramDomain()[PackedSymmetric.index(j, j, cols)];
      traceGeneral += inputs.gramGeneral()[PackedSymmetric.index(j, j, cols)];
    }
    double scale = traceGeneral > 0 ? generalWeight * traceDomain / traceGeneral : 0;
    var packed = inputs.gramDomain().clone();
    for (int i = 0; i < packed.length; i++) {
      packed[i] += scale * inputs.gramGeneral()[i];
    }
    return PackedSymmetric.unpack(packed, cols);
  }

  /**
   * {@code tr((W − V)·H·(W − V)ᵀ)} = {@code ‖W·X − V·X‖²} on the inputs whose Gram matrix is H: rows in parallel,
   * their sums added in row order (the same value at any thread count).
   */
  static double error(double[] w, double[] v, double[] h, int rows, int cols) {
    var perRow = new double[rows];
    ParallelRows.shared().forEach(0, rows, (long) cols * cols, r -> {
      var d = new double[cols];
      boolean any = false;
      for (int j = 0; j < cols; j++) {
        d[j] = w[r * cols + j] - v[r * cols + j];
        any |= d[j] != 0;
      }
      if (!any) {
        return;
      }
      double total = 0;
      for (int i = 0; i < cols; i++) {
        if (d[i] == 0) {
          continue;
        }
        double s = 0;
        int hi = i * cols;
        for (int j = 0; j < cols; j++) {
          s += h[hi + j] * d[j];
        }
        total += d[i] * s;
      }
      perRow[r] = total;
    });
    double total = 0;
    for (double e : perRow) {
      total += e;
    }
    return total;
  }

  private static double[] masked(double[] w, byte[] mask) {
    var out = w.clone();
    for (int i = 0; i < out.length; i++) {
      if (mask[i] == 0) {
        out[i] = 0;
      }
    }
    return out;
  }

  private static double[] widen(float[] w) {
    var out = new double[w.length];
    for (int i = 0; i < w.length; i++) {
      out[i] = w[i];
    }
    return out;
  }

  @FunctionalInterface
  private interface LayerMethod {
    /** @param k the weights to prune in this tensor when unstructured */
    SparseGpt.Result prune(TensorMeta t, int rows, int cols, float[] weights, InputSums inputs, long k)
        throws IOException;
  }

  /**
   * Each candidate's unstructured budget: {@code floor(sparsity × size)}, or under the OWL budget its layer's
   * budget apportioned over the layer's tensors by size ({@link Budgets#apportion}).
   */
  static Map<String, Long> tensorBudgets(List<TensorMeta> candidates, Settings settings) {
    var out = new LinkedHashMap<String, Long>();
    if (settings.layerBudgets().isEmpty()) {
      candidates.forEach(t -> out.put(t.name(), Budgets.global(settings.sparsity(), t.size())));
      return out;
    }
    var layers = new LinkedHashMap<String, List<TensorMeta>>();
    candidates.forEach(t -> layers.computeIfAbsent(LayerType.group(t.name()), g -> new ArrayList<>()).add(t));
    var sizes = new LinkedHashMap<String, Long>();
    layers.forEach((g, ts) -> sizes.put(g, ts.stream().mapToLong(TensorMeta::size).sum()));
    var k = OwlBudgets.checkLayerBudgets(settings.layerBudgets(), sizes, settings.sparsity());
    int l = 0;
    for (var ts : layers.values()) {
      var parts = Budgets.apportion(k[l++], ts.stream().mapToLong(TensorMeta::size).toArray());
      for (int i = 0; i < parts.length; i++) {
        out.put(ts.get(i).name(), parts[i]);
      }
    }
    return out;
  }

  /**
   * The plan of a layer-wise method: the counts per tensor and per layer group of what its masks prune (no
   * selections, no score summary: there is no global score).
   *
   * @param pruned per candidate, the weights its mask prunes
   */
  public static PlanResult result(double sparsity, Structure structure, List<TensorMeta> candidates,
      Map<String, Long> pruned) {
    var tensorCounts = new ArrayList<PlanResult.TensorCount>();
    var groups = new LinkedHashMap<String, long[]>();
    long total = 0;
    long prunedAll = 0;
    for (var t : candidates) {
      long p = pruned.get(t.name());
      String g = LayerType.group(t.name());
      var counts = groups.computeIfAbsent(g, k -> new long[2]);
      counts[0] += t.size();
      counts[1] += p;
      total += t.size();
      prunedAll += p;
      boolean entire = p == t.size() && t.size() > 0;
      tensorCounts.add(new PlanResult.TensorCount(t.name(), t.shape(), g, t.size(), p, entire, entire));
    }
    var layers = new ArrayList<PlanResult.GroupCount>();
    groups.forEach((g, c) -> layers.add(new PlanResult.GroupCount(g, c[0], c[1])));
    return new PlanResult(structure.unstructured() ? sparsity : structure.sparsity(),
        total == 0 ? 0 : (double) prunedAll / total, total, prunedAll, List.of(), layers, tensorCounts,
        new PlanResult.ScoreSummary(0, 0, 0, 0, List.of()), 1, List.of(), structure);
  }

  private static PlanResult run(String method, Model model, Settings settings, Path masksOut, Path statsOut,
      LayerMethod layer) throws IOException {
    var candidates = model.tensors().stream()
        .filter(t -> LayerType.isCandidate(settings.layerTypes(), t.name(), t.shape()))
        .toList();
    if (candidates.isEmpty()) {
      throw new IllegalArgumentException("no candidate tensors for layer types "
          + LayerType.describe(settings.layerTypes()));
    }
    var specs = candidates.stream().map(t -> new TensorSpec(t.name(), DType.U8, t.shape())).toList();
    var md = new LinkedHashMap<String, String>();
    md.put("format", "pt");
    md.put("gaprune.kind", "masks");
    md.put("gaprune.method", method);
    md.put("gaprune.sparsity", Double.toString(settings.sparsity()));
    String budget = settings.layerBudgets().isEmpty() ? "per layer" : "owl";
    md.put("gaprune.budget", budget);
    md.put("gaprune.structure", settings.structure().toString());
    md.put("gaprune.calibration", settings.calibration().toString());
    md.put("gaprune.layer_types", LayerType.describe(settings.layerTypes()));
    var prunedOf = new LinkedHashMap<String, Long>();
    var budgets = tensorBudgets(candidates, settings);
    var writer = SafetensorsWriter.create(masksOut, specs, md);
    try {
      for (var t : candidates) {
        if (t.shape().length != 2) {
          throw new IllegalArgumentException(method + " prunes linear weights [out, in]; " + t.name() + " has shape "
              + java.util.Arrays.toString(t.shape()));
        }
        int rows = (int) t.shape()[0];
        int cols = (int) t.shape()[1];
        var inputs = model.inputs(t);
        if (!inputs.hasSquares()) {
          throw new IllegalArgumentException("tensor " + t.name() + " has no input statistics, which " + method
              + " needs: collect the statistics with " + method + " among the methods");
        }
        var result = layer.prune(t, rows, cols, model.weights(t), inputs, budgets.get(t.name()));
        if (result.weights() != null) {
          model.update(t, result.weights());
        }
        writer.writeBytes(t.name(), result.mask());
        prunedOf.put(t.name(), PlanResult.pruned(result.mask()));
      }
      writer.close();
      writer = null;
    } finally {
      if (writer != null) {
        writer.abort();
      }
    }
    var result = result(settings.sparsity(), settings.structure(), candidates, prunedOf);
    long total = result.candidates();
    long pruned = result.pruned();
    if (statsOut != null) {
      Files.writeString(statsOut, String.format(Locale.ROOT,
          "{\n  \"method\": \"%s\",\n  \"structure\": \"%s\",\n  \"calibration\": \"%s\",\n  \"budget\": \"%s\","
              + "\n  \"requested_sparsity\": %s,\n  \"actual_sparsity\": %s,\n  \"candidates\": %d,\n  \"pruned\": %d\n}\n",
          method, settings.structure(), settings.calibration(), budget, result.requestedSparsity(),
          result.actualSparsity(), total, pruned));
    }
    return result;
  }
}
