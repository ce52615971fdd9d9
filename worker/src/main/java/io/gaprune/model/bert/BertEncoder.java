package io.gaprune.model.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import io.gaprune.model.Batch;
import io.gaprune.model.Encoder;
import io.gaprune.model.LinearInputRecorder;
import io.gaprune.model.ModelConfig;
import io.gaprune.model.ParameterCheck;
import io.gaprune.model.Scalars;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A BERT encoder (post-LayerNorm, erf GELU) over Hugging Face named parameters, written with NDArray
 * operations only so that DJL autograd differentiates it.
 *
 * <p>Every operation takes a batch array as its first operand, so all intermediates and results belong to
 * the manager of {@link Batch#inputIds()}: closing that (per-step) manager frees them; the parameters'
 * manager never grows. Constants are created in the parameters' dtype, so float64 parameters give a float64
 * forward pass.
 */
public final class BertEncoder implements Encoder {

  /** The prefix {@code BertModel} checkpoints saved from {@code BertFor*} heads carry; stripped on input. */
  private static final String BERT_PREFIX = "bert.";

  /**
   * Added to the attention scores of padding keys. Large enough that exp underflows to exactly 0 in
   * float32 and float64, as HF's dtype-min bias does, without producing -inf (which would give NaN
   * gradients through a fully masked row).
   */
  private static final double MASK_BIAS = -1e9;

  private final ModelConfig config;
  private final Map<String, NDArray> parameters;
  private final DataType dtype;

  /**
   * @param config the shape; {@code family} must be BERT
   * @param parameters HF names (a leading {@code bert.} is stripped), linear weights {@code [out, in]}; the
   *     {@code pooler.*} tensors are kept (a writer saves them) but not used; the {@code position_ids}
   *     buffer is dropped
   * @throws IllegalArgumentException naming the tensor when one is missing, unexpected, of the wrong shape
   *     or of another dtype than the rest
   */
  public BertEncoder(ModelConfig config, Map<String, NDArray> parameters) {
    this.config = Objects.requireNonNull(config, "config");
    if (config.family() != ModelConfig.Family.BERT) {
      throw new IllegalArgumentException("BertEncoder needs a BERT config, got family " + config.family());
    }
    if (config.numHeads() <= 0 || config.hiddenSize() % config.numHeads() != 0
        || config.headDim() * config.numHeads() != config.hiddenSize()) {
      throw new IllegalArgumentException("BERT config: hidden size " + config.hiddenSize()
          + " is not num_heads " + config.numHeads() + " × head_dim " + config.headDim());
    }
    var stripped = new LinkedHashMap<String, NDArray>();
    for (var e : parameters.entrySet()) {
      var name = e.getKey().startsWith(BERT_PREFIX) ? e.getKey().substring(BERT_PREFIX.length()) : e.getKey();
      if (name.equals("embeddings.position_ids")) {
        continue; // an int64 buffer in older checkpoints, not a parameter
      }
      if (stripped.put(name, e.getValue()) != null) {
        throw new IllegalArgumentException("BERT parameter " + name + " given twice (with and without 'bert.')");
      }
    }
    this.dtype = ParameterCheck.validate("BERT", config.numLayers() + "-layer BertModel", stripped,
        expectedShapes(config), name -> name.startsWith("pooler."), "embeddings.word_embeddings.weight");
    this.parameters = Collections.unmodifiableMap(stripped);
  }

  /** Every tensor a {@code BertModel} of this config needs (without the pooler), with its shape. */
  public static Map<String, Shape> expectedShapes(ModelConfig c) {
    long h = c.hiddenSize();
    long inter = c.intermediateSize();
    var m = new LinkedHashMap<String, Shape>();
    m.put("embeddings.word_embeddings.weight", new Shape(c.vocabSize(), h));
    m.put("embeddings.position_embeddings.weight", new Shape(c.maxPositions(), h));
    if (c.typeVocabSize() > 0) {
      m.put("embeddings.token_type_embeddings.weight", new Shape(c.typeVocabSize(), h));
    }
    m.put("embeddings.LayerNorm.weight", new Shape(h));
    m.put("embeddings.LayerNorm.bias", new Shape(h));
    for (int i = 0; i < c.numLayers(); i++) {
      var p = "encoder.layer." + i + ".";
      for (var proj : List.of("query", "key", "value")) {
        m.put(p + "attention.self." + proj + ".weight", new Shape(h, h));
        m.put(p + "attention.self." + proj + ".bias", new Shape(h));
      }
      m.put(p + "attention.output.dense.weight", new Shape(h, h));
      m.put(p + "attention.output.dense.bias", new Shape(h));
      m.put(p + "attention.output.LayerNorm.weight", new Shape(h));
      m.put(p + "attention.output.LayerNorm.bias", new Shape(h));
      m.put(p + "intermediate.dense.weight", new Shape(inter, h));
      m.put(p + "intermediate.dense.bias", new Shape(inter));
      m.put(p + "output.dense.weight", new Shape(h, inter));
      m.put(p + "output.dense.bias", new Shape(h));
      m.put(p + "output.LayerNorm.weight", new Shape(h));
      m.put(p + "output.LayerNorm.bias", new Shape(h));
    }
    return m;
  }

  @Override
  public ModelConfig config() {
    return config;
  }

  @Override
  public Map<String, NDArray> parameters() {
    return parameters;
  }

  @Override
  public NDArray hiddenStates(Batch batch) {
    return hiddenStates(batch, null);
  }

  private NDArray hiddenStates(Batch batch, LinearInputRecorder recorder) {
    var ids = batch.inputIds();
    if (ids.getShape().dimension() != 2) {
      throw new IllegalArgumentException("input ids must be [batch, seq], got " + ids.getShape());
    }
    if (!batch.attentionMask().getShape().equals(ids.getShape())
        || batch.tokenTypeIds() != null && !batch.tokenTypeIds().getShape().equals(ids.getShape())) {
      throw new IllegalArgumentException("attention mask " + batch.attentionMask().getShape() + " and token types "
          + (batch.tokenTypeIds() == null ? "(none)" : batch.tokenTypeIds().getShape())
          + " must have the input ids' shape " + ids.getShape());
    }
    long seq = ids.getShape().get(1);
    if (seq > config.maxPositions()) {
      throw new IllegalArgumentException("sequence length " + seq + " exceeds the model's " + config.maxPositions()
          + " positions");
    }
    var x = embeddings(batch, seq);
    var maskBias = batch.attentionMask().toType(dtype, false).sub(1).mul(-MASK_BIAS)
        .reshape(ids.getShape().get(0), 1, 1, seq); // [B, 1, 1, S]: 0 for tokens, MASK_BIAS for padding
    var tap = recorder == null ? null : new Tap(recorder, batch.attentionMask());
    for (int i = 0; i < config.numLayers(); i++) {
      x = layer(x, maskBias, "encoder.layer." + i + ".", tap);
    }
    return x;
  }

  @Override
  public NDArray embed(Batch batch, LinearInputRecorder recorder) {
    var h = hiddenStates(batch, recorder);
    NDArray pooled = switch (config.pooling()) {
      case CLS -> h.get(new NDIndex(":, 0, :"));
      case MEAN -> meanPool(h, batch.attentionMask());
      case LAST_TOKEN -> throw new IllegalStateException("LAST_TOKEN pooling is for decoder models, not BERT");
    };
    return config.normalize() ? l2Normalize(pooled) : pooled;
  }

  /** Mean of the unmasked token states, as sentence-transformers' Pooling (the count clamped at 1e-9). */
  static NDArray meanPool(NDArray hidden, NDArray attentionMask) {
    var m = attentionMask.toType(hidden.getDataType(), false).expandDims(-1); // [B, S, 1]
    var sum = hidden.mul(m).sum(new int[] {1});
    var count = m.sum(new int[] {1});
    count = count.maximum(Scalars.of(count, 1e-9));
    return sum.div(count);
  }

  /** x / max(‖x‖₂, 1e-12) per row, as torch.nn.functional.normalize. */
  public static NDArray l2Normalize(NDArray x) {
    var norm = x.norm(new int[] {-1}, true);
    return x.div(norm.maximum(Scalars.of(norm, 1e-12)));
  }

  private NDArray embeddings(Batch batch, long seq) {
    var ids = batch.inputIds();
    var positions = ids.getManager().arange(0, (int) seq, 1, DataType.INT64).expandDims(0); // [1, S]
    var types = batch.tokenTypeIds() != null ? batch.tokenTypeIds() : ids.zerosLike();
    var x = lookup(ids, "embeddings.word_embeddings.weight")
        .add(lookup(positions, "embeddings.position_embeddings.weight"));
    if (config.typeVocabSize() > 0) {
      x = x.add(lookup(types, "embeddings.token_type_embeddings.weight"));
    }
    return layerNorm(x, "embeddings.LayerNorm.");
  }

  /**
   * One block, computed in a scope that is closed when the block is done: only the block's output moves to
   * the caller's manager. Without it a batch's manager holds every intermediate of every layer until it is
   * closed (for 32 × 256 tokens that is 6 layers × four [B, heads, S, S] attention tensors, about 2.4 GB);
   * with it, one layer's. Closing the Java handles is safe under autograd: the graph keeps its own
   * references to the tensors backward needs.
   */
  private NDArray layer(NDArray input, NDArray maskBias, String p, Tap tap) {
    var parent = input.getManager();
    try (var scope = parent.newSubManager()) {
      scope.tempAttachAll(input); // results of ops on input now land in scope; input goes back on close
      var attention = linear(selfAttention(input, maskBias, p + "attention.self.", tap), p + "attention.output.dense.",
          tap);
      var x = layerNorm(attention.add(input), p + "attention.output.LayerNorm.");
      // torch's gelu without approximation is the erf form BERT uses (checked against ONNX's Erf graph).
      var inner = linear(x, p + "intermediate.dense.", tap).getNDArrayInternal().gelu();
      var out = layerNorm(linear(inner, p + "output.dense.", tap).add(x), p + "output.LayerNorm.");
      out.attach(parent);
      return out;
    }
  }

  private NDArray selfAttention(NDArray x, NDArray maskBias, String p, Tap tap) {
    long b = x.getShape().get(0);
    long s = x.getShape().get(1);
    int heads = config.numHeads();
    int d = config.headDim();
    var q = heads(linear(x, p + "query.", tap), b, s, heads, d);
    var k = heads(linear(x, p + "key.", tap), b, s, heads, d);
    var v = heads(linear(x, p + "value.", tap), b, s, heads, d);
    var products = q.matMul(k.transpose(0, 1, 3, 2));
    var scores = products.div(Scalars.of(products, Math.sqrt(d))).add(maskBias); // [B, H, S, S]
    var context = scores.softmax(-1).matMul(v); // [B, H, S, d]
    return context.transpose(0, 2, 1, 3).reshape(b, s, (long) heads * d);
  }

  private static NDArray heads(NDArray x, long b, long s, int heads, int d) {
    return x.reshape(b, s, heads, d).transpose(0, 2, 1, 3);
  }

  /** A recorder and the batch's attention mask, for the linear layers of one forward pass. */
  private record Tap(LinearInputRecorder recorder, NDArray attentionMask) {}

  private NDArray linear(NDArray x, String prefix, Tap tap) {
    if (tap != null && tap.recorder().wants(prefix + "weight")) {
      tap.recorder().record(prefix + "weight", x, tap.attentionMask());
    }
    return Linear.linear(x, parameters.get(prefix + "weight"), parameters.get(prefix + "bias")).singletonOrThrow();
  }

  private NDArray layerNorm(NDArray x, String prefix) {
    NDList out = LayerNorm.layerNorm(x, new Shape(config.hiddenSize()), parameters.get(prefix + "weight"),
        parameters.get(prefix + "bias"), (float) config.normEps());
    return out.singletonOrThrow();
  }

  private NDArray lookup(NDArray ids, String name) {
    return Embedding.embedding(ids, parameters.get(name), SparseFormat.DENSE).singletonOrThrow();
  }

  @Override
  public String toString() {
    return "BertEncoder" + Arrays.asList(config.numLayers() + " layers", "hidden " + config.hiddenSize(), dtype);
  }
}
