package io.gaprune.eval;

import ai.djl.ndarray.NDManager;
import io.gaprune.model.LoadedModel;
import io.gaprune.model.TextTokenizer;
import io.gaprune.model.TorchWork;
import io.gaprune.progress.Progress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.stream.IntStream;

/**
 * Exact dense retrieval on a BEIR set: every query against every document by cosine similarity, the top
 * 100 kept, scored with {@link RetrievalMetrics} and averaged over the queries that have judgements.
 *
 * <p>Texts are encoded longest first in batches of similar length (less padding, same embeddings), each batch
 * in its own NDManager that is closed before the next. Queries get the model's instruction prefix.
 */
public final class RetrievalEvaluator {

  /** Documents kept per query: enough for Recall@100. */
  public static final int TOP_K = 100;

  private final int batchSize;
  private final Progress progress;

  /** @param progress where encoding progress goes ({@link Progress#SILENT} for none) */
  public RetrievalEvaluator(int batchSize, Progress progress) {
    if (batchSize < 1) {
      throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
    }
    this.batchSize = batchSize;
    this.progress = progress;
  }

  /**
   * Mean metrics over the evaluated queries.
   *
   * @param queries queries with at least one judgement (the ones averaged over)
   * @param truncatedQueries queries longer than the tokenizer's max length
   * @param truncatedDocuments documents longer than the tokenizer's max length
   */
  public record Result(
      double ndcg10,
      double mrr10,
      double recall10,
      double recall100,
      int queries,
      int corpus,
      long truncatedQueries,
      long truncatedDocuments,
      int maxLength,
      double seconds) {}

  public Result evaluate(LoadedModel model, BeirDataset data) {
    long start = System.nanoTime();
    var docIds = new ArrayList<>(data.corpus().keySet());
    var queryIds = data.queries().keySet().stream().filter(data.qrels()::containsKey).toList();
    var tokenizer = model.tokenizer();

    long before = tokenizer.truncatedCount();
    var docs = encode(model, docIds.stream().map(data.corpus()::get).toList(), "corpus");
    long truncatedDocs = tokenizer.truncatedCount() - before;
    var queryTexts = TextTokenizer.withInstruction(queryIds.stream().map(data.queries()::get).toList(),
        model.config().queryInstruction());
    before = tokenizer.truncatedCount();
    var queries = encode(model, queryTexts, "queries");
    long truncatedQueries = tokenizer.truncatedCount() - before;

    double ndcg = 0;
    double mrr = 0;
    double r10 = 0;
    double r100 = 0;
    for (int q = 0; q < queries.length; q++) {
      var run = topK(queries[q], docs, docIds);
      var m = RetrievalMetrics.evaluate(run, data.qrels().get(queryIds.get(q)));
      ndcg += m.ndcg10();
      mrr += m.mrr10();
      r10 += m.recall10();
      r100 += m.recall100();
    }
    int n = queries.length;
    double seconds = (System.nanoTime() - start) / 1e9;
    return new Result(ndcg / n, mrr / n, r10 / n, r100 / n, n, docIds.size(), truncatedQueries, truncatedDocs,
        tokenizer.maxLength(), seconds);
  }

  /** L2-normalised embeddings of {@code texts}, in their order. */
  public float[][] encode(LoadedModel model, List<String> texts, String label) {
    var tokenizer = model.tokenizer();
    // Longest first: similar lengths share a batch, so little padding; the first batch shows peak memory.
    var lengths = texts.stream().mapToInt(t -> tokenizer.ids(t).length).toArray();
    var order = IntStream.range(0, texts.size()).boxed()
        .sorted(Comparator.<Integer>comparingInt(i -> -lengths[i]).thenComparingInt(i -> i)).toList();
    var out = new float[texts.size()][];
    progress.begin("encode " + label, order.size(), "texts");
    for (int from = 0; from < order.size(); from += batchSize) {
      var idx = order.subList(from, Math.min(order.size(), from + batchSize));
      try (var section = TorchWork.enter();
          var manager = NDManager.newBaseManager()) {
        var batch = tokenizer.encode(idx.stream().map(texts::get).toList(), manager);
        var flat = model.encoder().embed(batch).toFloatArray();
        int h = flat.length / idx.size();
        for (int j = 0; j < idx.size(); j++) {
          var row = new float[h];
          System.arraycopy(flat, j * h, row, 0, h);
          out[idx.get(j)] = normalize(row);
        }
      }
      progress.update(Math.min(order.size(), from + batchSize));
    }
    progress.end();
    return out;
  }

  /** The {@link #TOP_K} best documents by cosine (dot product of unit vectors), in trec_eval order. */
  static List<RetrievalMetrics.Scored> topK(float[] query, float[][] docs, List<String> docIds) {
    var worstFirst = new PriorityQueue<>(RetrievalMetrics.TREC_ORDER.reversed());
    for (int d = 0; d < docs.length; d++) {
      double s = 0;
      var doc = docs[d];
      for (int k = 0; k < doc.length; k++) {
        s += query[k] * doc[k];
      }
      worstFirst.add(new RetrievalMetrics.Scored(docIds.get(d), s));
      if (worstFirst.size() > TOP_K) {
        worstFirst.poll();
      }
    }
    return RetrievalMetrics.rank(new ArrayList<>(worstFirst));
  }

  private static float[] normalize(float[] v) {
    double norm = 0;
    for (float x : v) {
      norm += (double) x * x;
    }
    norm = Math.max(Math.sqrt(norm), 1e-12);
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (v[i] / norm);
    }
    return v;
  }
}
