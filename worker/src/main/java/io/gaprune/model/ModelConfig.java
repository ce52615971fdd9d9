package io.gaprune.model;

/**
 * The shape of an encoder, read from a Hugging Face {@code config.json} (or known for the short names).
 *
 * @param family architecture family
 * @param vocabSize token embedding rows
 * @param hiddenSize model width
 * @param numLayers transformer blocks
 * @param numHeads attention (query) heads
 * @param numKvHeads key/value heads (= numHeads for BERT; fewer for grouped-query attention)
 * @param headDim width of one head (hiddenSize / numHeads for BERT; explicit for Qwen3)
 * @param intermediateSize MLP inner width
 * @param maxPositions longest sequence the position embeddings or the model support
 * @param normEps epsilon of LayerNorm (BERT) or RMSNorm (Qwen3)
 * @param ropeTheta rotary base (Qwen3; unused by BERT)
 * @param typeVocabSize token-type embedding rows (BERT; 0 when absent)
 * @param pooling how token states become one embedding
 * @param normalize whether embeddings are L2-normalised after pooling
 * @param queryInstruction prefix template for queries, {@code {q}} replaced by the query; empty for none
 */
public record ModelConfig(
    Family family,
    int vocabSize,
    int hiddenSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    int intermediateSize,
    int maxPositions,
    double normEps,
    double ropeTheta,
    int typeVocabSize,
    Pooling pooling,
    boolean normalize,
    String queryInstruction) {

  public enum Family {
    BERT,
    QWEN3
  }

  public enum Pooling {
    MEAN,
    CLS,
    LAST_TOKEN
  }
}
