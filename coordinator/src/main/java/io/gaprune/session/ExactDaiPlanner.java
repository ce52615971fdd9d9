package io.gaprune.session;

import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.MaskPlan;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.stats.TensorStats;
import io.gaprune.worker.ModelRuntime;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The paper's DAI score with one global budget, selected exactly:
 * {@code DAI = [(F_dom − β·F_gen)·|θ| + γ·sqrt|θ|]·(1 + α·s)}, with {@code F = Σg²/batches} and {@code s} the
 * cosine between the tensor's mean general and mean domain gradients. The {@code k = floor(sparsity·N)}
 * lowest scores are pruned; ties at the threshold are broken by (tensor order, index), so the mask is a
 * function of the statistics alone.
 *
 * <p>Holds all candidate scores in memory (fine for MiniLM/BGE-sized MLPs). The streaming radix-select
 * planner of {@code io.gaprune.planner} replaces it for large models once merged.
 */
public final class ExactDaiPlanner implements MaskPlanner {

  @Override
  public MaskPlan plan(SessionConfig s, List<LayerPartition> partitions, AccumulatorStore store, ModelRuntime model,
      Path outDir) throws Exception {
    if (!s.getBudget().isEmpty() && !s.getBudget().equals("global")) {
      throw new IllegalArgumentException("budget \"" + s.getBudget() + "\" is not supported by the built-in planner; use \"global\"");
    }
    if (s.getSparsity() < 0 || s.getSparsity() > 1) {
      throw new IllegalArgumentException("sparsity must be within [0, 1], got " + s.getSparsity());
    }
    List<TensorSpec> specs = new ArrayList<>();
    List<double[]> scores = new ArrayList<>();
    long total = 0;
    for (LayerPartition p : partitions) {
      long batches = store.readMeta(p.getIndex()).getBatches();
      for (TensorSpec spec : p.getTensorsList()) {
        TensorStats t = store.readTensor(p.getIndex(), spec.getName());
        double[] w = model.weights(spec.getName());
        if (w.length != t.size()) {
          throw new IllegalStateException("tensor " + spec.getName() + ": " + w.length + " weights, " + t.size() + " statistics");
        }
        double dot = 0, ng = 0, nd = 0;
        for (int i = 0; i < w.length; i++) {
          dot += t.sumGeneral()[i] * t.sumDomain()[i];
          ng += t.sumGeneral()[i] * t.sumGeneral()[i];
          nd += t.sumDomain()[i] * t.sumDomain()[i];
        }
        // cosine of the means equals the cosine of the sums (the 1/batches factors cancel)
        double align = dot / (Math.sqrt(ng) * Math.sqrt(nd) + 1e-12);
        double factor = 1 + s.getAlpha() * align;
        double[] sc = new double[w.length];
        for (int i = 0; i < w.length; i++) {
          double a = Math.abs(w[i]);
          double fd = t.sumSqDomain()[i] / batches;
          double fg = t.sumSqGeneral()[i] / batches;
          sc[i] = ((fd - s.getBeta() * fg) * a + s.getGamma() * Math.sqrt(a)) * factor;
        }
        specs.add(spec);
        scores.add(sc);
        total += sc.length;
      }
    }
    long k = (long) Math.floor(s.getSparsity() * total);
    double threshold = Double.NEGATIVE_INFINITY;
    long below = 0;
    if (k > 0) {
      double[] all = new double[Math.toIntExact(total)];
      int at = 0;
      for (double[] sc : scores) {
        System.arraycopy(sc, 0, all, at, sc.length);
        at += sc.length;
      }
      Arrays.sort(all);
      threshold = all[(int) k - 1];
      for (double v : all) {
        if (v < threshold) {
          below++;
        } else {
          break;
        }
      }
    }
    long tiesToPrune = k - below; // weights scoring exactly the threshold, pruned in (tensor, index) order
    Map<String, byte[]> masks = new LinkedHashMap<>();
    long pruned = 0;
    for (int t = 0; t < specs.size(); t++) {
      double[] sc = scores.get(t);
      byte[] bits = new byte[(sc.length + 7) / 8];
      for (int i = 0; i < sc.length; i++) {
        boolean prune = k > 0 && (sc[i] < threshold || (sc[i] == threshold && tiesToPrune-- > 0));
        if (prune) {
          pruned++;
        } else {
          bits[i >>> 3] |= (byte) (1 << (i & 7));
        }
      }
      masks.put(specs.get(t).getName(), bits);
    }
    if (pruned != k) {
      throw new IllegalStateException("selected " + pruned + " weights, budget is " + k);
    }
    Path file = outDir.resolve("masks.bin");
    String sha = MaskFile.write(file, masks);
    return MaskPlan.newBuilder().setSessionId(s.getSessionId()).setSparsity(s.getSparsity())
        .setCandidateWeights(total).setPrunedWeights(pruned).addAllTensors(specs)
        .setMasksPath(file.toString()).setMasksSha256(sha).setThreshold(threshold).build();
  }
}
