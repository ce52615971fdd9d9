package io.gaprune.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gaprune.eval.RetrievalMetrics.Scored;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Metric values worked out by hand. */
class RetrievalMetricsTest {

  private static final double LOG2_3 = Math.log(3) / Math.log(2);

  @Test
  void gradedRelevanceUsesLinearGainAndIdealFromJudgements() {
    // ranks: x (not judged), b (rel 1), a (rel 2); judgements also hold c with 0
    var run = List.of(new Scored("x", 0.9), new Scored("b", 0.8), new Scored("a", 0.7));
    var m = RetrievalMetrics.evaluate(run, Map.of("a", 2, "b", 1, "c", 0));
    double dcg = 1 / LOG2_3 + 2 / 2.0; // rank 2 → log2(3), rank 3 → log2(4) = 2
    double idcg = 2 / 1.0 + 1 / LOG2_3;
    assertEquals(dcg / idcg, m.ndcg10(), 1e-12);
    assertEquals(0.6199, m.ndcg10(), 1e-4);
    assertEquals(0.5, m.mrr10(), 1e-12);
    assertEquals(1.0, m.recall10(), 1e-12);
    assertEquals(1.0, m.recall100(), 1e-12);
  }

  @Test
  void idealCountsRelevantDocumentsThatWereNotRetrieved() {
    var run = List.of(new Scored("a", 0.5));
    var m = RetrievalMetrics.evaluate(run, Map.of("a", 1, "b", 1));
    assertEquals(1 / (1 + 1 / LOG2_3), m.ndcg10(), 1e-12);
    assertEquals(1.0, m.mrr10());
    assertEquals(0.5, m.recall10());
  }

  @Test
  void tiesAreBrokenByDocumentIdDescendingAsTrecEval() {
    var run = List.of(new Scored("d1", 0.5), new Scored("d2", 0.5), new Scored("d0", 0.9));
    assertEquals(List.of("d0", "d2", "d1"), RetrievalMetrics.rank(run).stream().map(Scored::docId).toList());
    assertEquals(0.5, RetrievalMetrics.evaluate(run, Map.of("d2", 1)).mrr10());
    assertEquals(1.0 / 3, RetrievalMetrics.evaluate(run, Map.of("d1", 1)).mrr10(), 1e-12);
  }

  @Test
  void relevantDocumentBelowTenCountsOnlyForRecallAt100() {
    var run = new ArrayList<Scored>();
    for (int i = 0; i < 30; i++) {
      run.add(new Scored("n" + i, 1.0 - i / 100.0));
    }
    var m = RetrievalMetrics.evaluate(run, Map.of("n10", 1)); // rank 11
    assertEquals(0.0, m.ndcg10());
    assertEquals(0.0, m.mrr10());
    assertEquals(0.0, m.recall10());
    assertEquals(1.0, m.recall100());
  }

  @Test
  void queryWithoutRelevantDocumentsScoresZero() {
    var run = List.of(new Scored("a", 0.9), new Scored("b", 0.1));
    var m = RetrievalMetrics.evaluate(run, Map.of("a", 0));
    assertEquals(new RetrievalMetrics.QueryMetrics(0, 0, 0, 0), m);
  }

  @Test
  void topKKeepsTheHundredBestInOrder() {
    var docs = new float[150][];
    var ids = new ArrayList<String>();
    for (int i = 0; i < 150; i++) {
      double angle = i / 150.0;
      docs[i] = new float[] {(float) Math.cos(angle), (float) Math.sin(angle)};
      ids.add(String.format("d%03d", i));
    }
    var top = RetrievalEvaluator.topK(new float[] {1, 0}, docs, ids);
    assertEquals(100, top.size());
    assertEquals("d000", top.get(0).docId());
    assertEquals("d099", top.get(99).docId());
  }
}
