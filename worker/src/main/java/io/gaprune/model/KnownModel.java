package io.gaprune.model;

import io.gaprune.model.ModelConfig.Pooling;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * The two exported encoders that ship as class-path resources (the langchain4j model jars): ONNX graph plus
 * {@code tokenizer.json}, no {@code config.json}. Shapes (layers, widths, vocabulary, positions) are read
 * from the initializers; what the weights cannot tell is fixed here from each model's published
 * {@code config.json} and sentence-transformers configuration.
 */
public enum KnownModel {
  /** sentence-transformers/all-MiniLM-L6-v2: 12 heads, mean pooling, normalised. */
  MINILM("minilm", "sentence-transformers/all-MiniLM-L6-v2", "all-minilm-l6-v2.onnx",
      "all-minilm-l6-v2-tokenizer.json", 12, 1e-12, Pooling.MEAN, true, ""),
  /**
   * BAAI/bge-small-en-v1.5: 12 heads, CLS pooling, normalised; queries carry the model card's retrieval
   * instruction (as MTEB evaluates it).
   */
  BGE_SMALL("bge-small", "BAAI/bge-small-en-v1.5", "bge-small-en-v1.5.onnx", "bge-small-en-v1.5-tokenizer.json",
      12, 1e-12, Pooling.CLS, true, "Represent this sentence for searching relevant passages: {q}");

  public final String shortName;
  public final String hubName;
  public final String onnxResource;
  public final String tokenizerResource;
  public final int numHeads;
  public final double layerNormEps;
  public final Pooling pooling;
  public final boolean normalize;
  public final String queryInstruction;

  KnownModel(String shortName, String hubName, String onnxResource, String tokenizerResource, int numHeads,
      double layerNormEps, Pooling pooling, boolean normalize, String queryInstruction) {
    this.shortName = shortName;
    this.hubName = hubName;
    this.onnxResource = onnxResource;
    this.tokenizerResource = tokenizerResource;
    this.numHeads = numHeads;
    this.layerNormEps = layerNormEps;
    this.pooling = pooling;
    this.normalize = normalize;
    this.queryInstruction = queryInstruction;
  }

  /** The model of a short name, or null when {@code spec} is not one. */
  public static KnownModel byShortName(String spec) {
    var s = spec.toLowerCase(Locale.ROOT);
    return Arrays.stream(values()).filter(m -> m.shortName.equals(s)).findFirst().orElse(null);
  }

  /** The BERT config these weights and this model's fixed settings give. */
  public ModelConfig config(Map<String, long[]> shapes) {
    return BertShapes.config(shapes, numHeads, layerNormEps, pooling, normalize, queryInstruction, onnxResource);
  }
}
