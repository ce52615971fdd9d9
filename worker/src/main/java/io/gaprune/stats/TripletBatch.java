package io.gaprune.stats;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.gaprune.data.Triplet;
import io.gaprune.model.Batch;
import io.gaprune.model.ModelConfig;
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
   * Tokenizes triplets for a model: queries get the model's instruction template
   * ({@link ModelConfig#queryInstruction()}, {@code {q}} replaced by the query), passages are taken as they
   * are; padding is the tokenizer's (left for decoder families). Queries that already carry an instruction
   * (the reference's examples do) are taken as they are ({@link TextTokenizer#withInstruction}).
   *
   * @param manager owns the batch arrays
   */
  public static TripletBatch tokenize(List<Triplet> triplets, TextTokenizer tokenizer, ModelConfig config,
      NDManager manager) {
    if (triplets.isEmpty()) {
      throw new IllegalArgumentException("cannot tokenize an empty list of triplets");
    }
    var queries = TextTokenizer.withInstruction(triplets.stream().map(Triplet::query).toList(),
        config.queryInstruction());
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
