package io.gaprune.eval;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Per-query retrieval metrics as MTEB computes them through pytrec_eval (trec_eval's definitions).
 *
 * <ul>
 *   <li>Ranking: by score descending; equal scores ordered by document id descending, as trec_eval
 *       orders ties.
 *   <li>nDCG@k ({@code ndcg_cut_k}): gain = the graded relevance (linear; ≤ 0 counts as 0), discount
 *       {@code log2(rank + 1)}; the ideal DCG sorts all judged relevances of the query, cut at k. 0 when the
 *       query has no relevant document.
 *   <li>MRR@k: 1 / rank of the first document with relevance &gt; 0 within the top k, else 0.
 *   <li>Recall@k: relevant (&gt; 0) documents in the top k / all relevant documents of the query.
 * </ul>
 */
public final class RetrievalMetrics {

  private RetrievalMetrics() {}

  /** A scored document. */
  public record Scored(String docId, double score) {}

  /** Metrics of one query. */
  public record QueryMetrics(double ndcg10, double mrr10, double recall10, double recall100) {}

  public static final Comparator<Scored> TREC_ORDER =
      Comparator.comparingDouble(Scored::score).reversed().thenComparing(Scored::docId, Comparator.reverseOrder());

  /** Sorts into trec_eval's ranking order (a copy). */
  public static List<Scored> rank(List<Scored> run) {
    var sorted = new ArrayList<>(run);
    sorted.sort(TREC_ORDER);
    return sorted;
  }

  public static QueryMetrics evaluate(List<Scored> run, Map<String, Integer> judgements) {
    var ranked = rank(run);
    return new QueryMetrics(ndcg(ranked, judgements, 10), mrr(ranked, judgements, 10),
        recall(ranked, judgements, 10), recall(ranked, judgements, 100));
  }

  public static double ndcg(List<Scored> ranked, Map<String, Integer> judgements, int k) {
    double dcg = 0;
    for (int i = 0; i < Math.min(k, ranked.size()); i++) {
      int rel = Math.max(0, judgements.getOrDefault(ranked.get(i).docId(), 0));
      dcg += rel / log2(i + 2);
    }
    var ideal = judgements.values().stream().map(r -> Math.max(0, r)).sorted(Comparator.reverseOrder()).toList();
    double idcg = 0;
    for (int i = 0; i < Math.min(k, ideal.size()); i++) {
      idcg += ideal.get(i) / log2(i + 2);
    }
    return idcg == 0 ? 0 : dcg / idcg;
  }

  public static double mrr(List<Scored> ranked, Map<String, Integer> judgements, int k) {
    for (int i = 0; i < Math.min(k, ranked.size()); i++) {
      if (judgements.getOrDefault(ranked.get(i).docId(), 0) > 0) {
        return 1.0 / (i + 1);
      }
    }
    return 0;
  }

  public static double recall(List<Scored> ranked, Map<String, Integer> judgements, int k) {
    long relevant = judgements.values().stream().filter(r -> r > 0).count();
    if (relevant == 0) {
      return 0;
    }
    int found = 0;
    for (int i = 0; i < Math.min(k, ranked.size()); i++) {
      if (judgements.getOrDefault(ranked.get(i).docId(), 0) > 0) {
        found++;
      }
    }
    return (double) found / relevant;
  }

  private static double log2(double x) {
    return Math.log(x) / Math.log(2);
  }
}
