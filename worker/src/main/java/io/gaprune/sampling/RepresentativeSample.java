package io.gaprune.sampling;

import io.gaprune.data.Triplet;
import io.gaprune.eval.RetrievalEvaluator;
import io.gaprune.model.LoadedModel;
import io.gaprune.model.TextTokenizer;
import io.gaprune.progress.Progress;
import java.util.ArrayList;
import java.util.List;

/**
 * The paper's representative calibration set: embed every triplet's query with the model being pruned (with
 * its query instruction), cluster with k-means (k = the sample size) and keep the triplet nearest each centroid.
 */
public final class RepresentativeSample {

  private RepresentativeSample() {}

  /** The chosen triplets, in their original order, and how the clustering went. */
  public record Result(List<Triplet> triplets, DiversitySampler.Selection selection) {}

  /**
   * @param size how many to keep; all are kept (no clustering) when it is at least the data's size
   * @param progress where encoding progress goes
   */
  public static Result select(LoadedModel model, List<Triplet> triplets, int size, long seed, Progress progress) {
    if (size < 1) {
      throw new IllegalArgumentException("sample size must be at least 1, got " + size);
    }
    if (triplets.isEmpty()) {
      throw new IllegalArgumentException("no triplets to sample from");
    }
    if (size >= triplets.size()) {
      var all = new int[triplets.size()];
      java.util.Arrays.setAll(all, i -> i);
      return new Result(List.copyOf(triplets), new DiversitySampler.Selection(all, 0, true, 0));
    }
    var queries = TextTokenizer.withInstruction(triplets.stream().map(Triplet::query).toList(),
        model.config().queryInstruction());
    float[][] embeddings = new RetrievalEvaluator(32, progress).encode(model, queries, "sample");
    var selection = new DiversitySampler().select(embeddings, size, seed);
    var kept = new ArrayList<Triplet>(size);
    for (int index : selection.indices()) {
      kept.add(triplets.get(index));
    }
    return new Result(List.copyOf(kept), selection);
  }
}
