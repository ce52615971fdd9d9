package io.gaprune.stats;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.gaprune.data.Triplet;
import io.gaprune.model.Batch;
import io.gaprune.model.LoadedModel;
import io.gaprune.model.TextTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A tokenized batch of triplets: row i of each part belongs to triplet i.
 *
 * @param queries the queries (with their instruction prefix, when the model has one)
 * @param positives the passages that answer them
 * @param negatives the hard negatives
 */
public record TripletBatch(Batch queries, Batch positives, Batch negatives) {

  public TripletBatch {
    Objects.requireNonNull(queries, "queries");
    Objects.requireNonNull(positives, "positives");
    Objects.requireNonNull(negatives, "negatives");
    long q = rows(queries);
    if (rows(positives) != q || rows(negatives) != q) {
      throw new IllegalArgumentException("triplet batch parts differ in size: " + q + " queries, "
          + rows(positives) + " positives, " + rows(negatives) + " negatives");
    }
  }

  /**
   * Tokenizes triplets for {@code model}: queries get the model's instruction prefix, each part is padded on
   * the model's side; the arrays belong to {@code manager}.
   */
  public static TripletBatch encode(List<Triplet> triplets, LoadedModel model, NDManager manager) {
    var tokenizer = model.tokenizer();
    var queries = TextTokenizer.withInstruction(triplets.stream().map(Triplet::query).toList(),
        model.config().queryInstruction());
    return new TripletBatch(tokenizer.encode(queries, manager),
        tokenizer.encode(triplets.stream().map(Triplet::positive).toList(), manager),
        tokenizer.encode(triplets.stream().map(Triplet::negative).toList(), manager));
  }

  /** Number of triplets. */
  public int size() {
    return Math.toIntExact(rows(queries));
  }

  /** Every array of the batch, to attach to a step's manager. */
  public NDArray[] arrays() {
    var all = new ArrayList<NDArray>();
    for (var b : new Batch[] {queries, positives, negatives}) {
      all.add(b.inputIds());
      all.add(b.attentionMask());
      if (b.tokenTypeIds() != null) {
        all.add(b.tokenTypeIds());
      }
    }
    return all.toArray(NDArray[]::new);
  }

  private static long rows(Batch b) {
    return b.inputIds().getShape().get(0);
  }
}
