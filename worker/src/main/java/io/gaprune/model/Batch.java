package io.gaprune.model;

import ai.djl.ndarray.NDArray;

/**
 * Token ids of a padded batch, all {@code [batch, seq]} int64: what a tokenizer produces and an encoder reads.
 *
 * @param inputIds token ids
 * @param attentionMask 1 for real tokens, 0 for padding (left padding for decoder families)
 * @param tokenTypeIds segment ids (BERT), or {@code null}
 */
public record Batch(NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds) {}
