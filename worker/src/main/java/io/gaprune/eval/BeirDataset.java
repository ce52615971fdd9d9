package io.gaprune.eval;

import java.nio.file.Path;
import java.util.Map;

/**
 * A BEIR retrieval set in memory.
 *
 * @param dir where it was read from
 * @param corpus document id → text (title and text joined as MTEB does), in file order
 * @param queries query id → text, in file order
 * @param qrels query id → (document id → graded relevance), only pairs whose ids both exist
 * @param droppedQrels qrels lines naming an unknown query or document (reported as a warning when read)
 * @param droppedQueries queries of the qrels file that lost every judgement to those lines (unknown in
 *     {@code queries.jsonl}, or every document they name unknown): not evaluated, so the metrics are means over
 *     {@code qrels.size()} of {@code qrels.size() + droppedQueries} judged queries
 */
public record BeirDataset(
    Path dir,
    Map<String, String> corpus,
    Map<String, String> queries,
    Map<String, Map<String, Integer>> qrels,
    int droppedQrels,
    int droppedQueries) {}
