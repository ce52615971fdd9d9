package io.gaprune.planner;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@link PlanParticipant} that scores tensors in this process: the whole model for a single-node plan, or
 * the tensors a merger owns. It holds one tensor's scores at a time.
 */
public final class PlanShare implements PlanParticipant {

  /** Where the masks of a mask pass go, one tensor at a time in the fixed order (1 kept, 0 pruned). */
  @FunctionalInterface
  public interface MaskSink {
    void write(TensorMeta tensor, byte[] mask) throws IOException;
  }

  private final Scorer scorer;
  private final PlanLayout layout;
  private final TensorSource source;
  private final List<TensorMeta> tensors;
  private final MaskSink sink;

  /**
   * @param tensors this share's candidates, a contiguous run of {@code layout.candidates()} in its order
   * @param sink where the masks go (null: counted, not written)
   */
  public PlanShare(Scorer scorer, PlanLayout layout, TensorSource source, List<TensorMeta> tensors, MaskSink sink) {
    this.scorer = scorer;
    this.layout = layout;
    this.source = source;
    this.tensors = List.copyOf(tensors);
    this.sink = sink;
    tensors.forEach(layout::groupOf); // refuses a tensor that is not a candidate
  }

  @Override
  public List<TensorMeta> tensors() {
    return tensors;
  }

  @Override
  public PassAccumulator[] pass(PassAccumulator[] fresh) throws IOException {
    for (var t : tensors) {
      var acc = fresh[layout.selectionOf(t)];
      if (acc != null) { // a resolved selection needs no more keys
        var keys = ScoreKeys.keys(score(t));
        acc.acceptAll(keys, 0, keys.length);
      }
    }
    return fresh;
  }

  @Override
  public long[] ties(long[] thresholdKeys) throws IOException {
    var ties = new long[thresholdKeys.length];
    for (var t : tensors) {
      int sel = layout.selectionOf(t);
      for (long k : ScoreKeys.keys(score(t))) {
        if (k == thresholdKeys[sel]) {
          ties[sel]++;
        }
      }
    }
    return ties;
  }

  @Override
  public Outcome masks(long[] thresholdKeys, long[] tieQuotas) throws IOException {
    var cuts = new Threshold.Cut[thresholdKeys.length];
    for (int i = 0; i < cuts.length; i++) {
      cuts[i] = new Threshold(thresholdKeys[i], 0, tieQuotas[i], tieQuotas[i]).cut();
    }
    var histogram = new KeyHistogram(16, 0, 0);
    double min = Double.POSITIVE_INFINITY;
    double max = Double.NEGATIVE_INFINITY;
    double sum = 0;
    long count = 0;
    var counts = new ArrayList<Pruned>();
    boolean local = layout.local();
    for (var t : tensors) {
      var cut = local ? null : cuts[layout.selectionOf(t)];
      var scores = score(t);
      var keys = ScoreKeys.keys(scores);
      histogram.acceptAll(keys, 0, keys.length);
      var mask = layout.structured() ? NmSelection.mask(keys, layout.structure())
          : layout.rowBudgets() ? RowSelection.mask(keys, (int) NmSelection.lastDimension(t), layout.rowBudget(t))
          : new byte[scores.length];
      long pruned = 0;
      for (int j = 0; j < scores.length; j++) {
        double v = scores[j];
        min = Math.min(min, v);
        max = Math.max(max, v);
        sum += v;
        if (local) {
          pruned += 1 - mask[j];
        } else if (cut.prune(keys[j])) {
          pruned++;
        } else {
          mask[j] = 1;
        }
      }
      count += scores.length;
      if (sink != null) {
        sink.write(t, mask);
      }
      counts.add(new Pruned(t.name(), pruned));
    }
    var tiesLeft = new long[cuts.length];
    for (int i = 0; i < cuts.length; i++) {
      tiesLeft[i] = cuts[i].tiesLeft();
    }
    return new Outcome(counts, count, min, max, sum, histogram, tiesLeft);
  }

  private double[] score(TensorMeta t) throws IOException {
    var input = source.load(t);
    if (!input.meta().equals(t)) {
      throw new IllegalArgumentException("tensor " + t.name() + ": source listed it as " + t + " but loaded "
          + input.meta());
    }
    return scorer.score(input);
  }
}
