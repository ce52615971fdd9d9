package io.gaprune.model.qwen3;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import io.gaprune.model.Batch;
import io.gaprune.model.Encoder;
import io.gaprune.model.LinearInputRecorder;
import io.gaprune.model.ModelConfig;
import io.gaprune.model.ParameterCheck;
import io.gaprune.model.Scalars;
import io.gaprune.model.bert.BertEncoder;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The Qwen3 decoder as the Qwen3-Embedding models use it, over Hugging Face named parameters, written with
 * NDArray operations only so that DJL autograd differentiates it.
 *
 * <p>Per layer: RMSNorm, grouped-query self-attention (q/k/v/o projections without bias, per-head RMSNorm on
 * q and k before the rotary embedding, half-rotation RoPE as HF's {@code rotate_half}, causal mask combined
 * with the padding mask), residual; RMSNorm, SwiGLU MLP, residual. Then the final {@code norm}, last-token
 * pooling and L2 normalisation.
 *
 * <p>Position ids are {@code cumsum(attention_mask) − 1}, so a left-padded sequence sees the same positions
 * as it would alone. (RoPE scores depend only on position differences, so HF's plain {@code arange} gives the
 * same embedding up to rounding; counting from the first real token makes it the same computation.)
 *
 * <p>Every operation takes a batch-derived array as its first operand, so intermediates belong to the
 * manager of {@link Batch#inputIds()}: closing that (per-step) manager frees them and the parameters'
 * manager never grows. Constants are created in the parameters' dtype: float64 parameters give a float64
 * forward pass.
 */
public final class Qwen3Encoder implements Encoder {

  /**
   * The query prefix of Qwen3-Embedding as its model card writes it ({@code get_detailed_instruct}:
   * {@code f'Instruct: {task_description}\nQuery:{query}'}, no space after {@code Query:}) and as its
   * {@code config_sentence_transformers.json} prompt gives it; {@code {task}} and {@code {q}} are filled by the
   * tokenizer side. A query that already carries an instruction gets no second one
   * ({@code TextTokenizer.withInstruction}).
   */
  public static final String QUERY_INSTRUCTION = "Instruct: {task}\nQuery:{q}";

  /** The instruction template for one task, {@code {q}} left for the query (as {@code ModelConfig} holds it). */
  public static String queryInstruction(String task) {
    if (task == null || task.isBlank()) {
      throw new IllegalArgumentException("a Qwen3-Embedding instruction needs a task description");
    }
    return QUERY_INSTRUCTION.replace("{task}", task);
  }

  /** The checkpoint prefix of {@code Qwen3ForCausalLM}/{@code Qwen3Model} saves; stripped on input. */
  private static final String MODEL_PREFIX = "model.";

  /**
   * Added to the scores of masked keys. exp underflows to exactly 0 in float32 and float64 whenever the row
   * has one visible key (every real token sees itself), without the NaN gradients that −inf gives on the
   * fully masked rows of left padding.
   */
  private static final double MASK_BIAS = -1e9;

  private final ModelConfig config;
  private final Map<String, NDArray> parameters;
  private final DataType dtype;
  /** RoPE inverse frequencies {@code θ^(−2i/d)}, computed in double once and created per call in the dtype. */
  private final double[] inverseFrequencies;

  /**
   * @param config the shape; {@code family} must be QWEN3
   * @param parameters HF names, a leading {@code model.} stripped; linear weights {@code [out, in]}
   * @throws IllegalArgumentException naming the tensor when one is missing, unexpected, of the wrong shape or
   *     of another dtype than the rest, or when the config is inconsistent
   */
  public Qwen3Encoder(ModelConfig config, Map<String, NDArray> parameters) {
    this.config = Objects.requireNonNull(config, "config");
    validateConfig(config);
    var stripped = new LinkedHashMap<String, NDArray>();
    for (var e : parameters.entrySet()) {
      var name = e.getKey().startsWith(MODEL_PREFIX) ? e.getKey().substring(MODEL_PREFIX.length()) : e.getKey();
      if (stripped.put(name, e.getValue()) != null) {
        throw new IllegalArgumentException("Qwen3 parameter " + name + " given twice (with and without 'model.')");
      }
    }
    this.dtype = ParameterCheck.validate("Qwen3", config.numLayers() + "-layer Qwen3Model", stripped,
        expectedShapes(config), name -> false, "embed_tokens.weight");
    this.parameters = Collections.unmodifiableMap(stripped);
    int half = config.headDim() / 2;
    this.inverseFrequencies = new double[half];
    for (int i = 0; i < half; i++) {
      inverseFrequencies[i] = 1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / config.headDim());
    }
  }

  private static void validateConfig(ModelConfig c) {
    if (c.family() != ModelConfig.Family.QWEN3) {
      throw new IllegalArgumentException("Qwen3Encoder needs a QWEN3 config, got family " + c.family());
    }
    if (c.numHeads() <= 0 || c.numKvHeads() <= 0 || c.numHeads() % c.numKvHeads() != 0) {
      throw new IllegalArgumentException("Qwen3 config: num_attention_heads " + c.numHeads()
          + " must be a positive multiple of num_key_value_heads " + c.numKvHeads());
    }
    if (c.headDim() <= 0 || c.headDim() % 2 != 0) {
      throw new IllegalArgumentException("Qwen3 config: head_dim " + c.headDim() + " must be positive and even (RoPE)");
    }
    if (!(c.ropeTheta() > 0) || !(c.normEps() > 0)) {
      throw new IllegalArgumentException("Qwen3 config: rope_theta " + c.ropeTheta() + " and rms_norm_eps "
          + c.normEps() + " must be positive");
    }
    if (c.pooling() != ModelConfig.Pooling.LAST_TOKEN) {
      throw new IllegalArgumentException("Qwen3 embeddings pool the last token, config says " + c.pooling());
    }
  }

  /** Every tensor a {@code Qwen3Model} of this config has, with its shape, in checkpoint order. */
  public static Map<String, Shape> expectedShapes(ModelConfig c) {
    long h = c.hiddenSize();
    long qWidth = (long) c.numHeads() * c.headDim();
    long kvWidth = (long) c.numKvHeads() * c.headDim();
    long inter = c.intermediateSize();
    var m = new LinkedHashMap<String, Shape>();
    m.put("embed_tokens.weight", new Shape(c.vocabSize(), h));
    for (int i = 0; i < c.numLayers(); i++) {
      var p = "layers." + i + ".";
      m.put(p + "input_layernorm.weight", new Shape(h));
      m.put(p + "self_attn.q_proj.weight", new Shape(qWidth, h));
      m.put(p + "self_attn.k_proj.weight", new Shape(kvWidth, h));
      m.put(p + "self_attn.v_proj.weight", new Shape(kvWidth, h));
      m.put(p + "self_attn.o_proj.weight", new Shape(h, qWidth));
      m.put(p + "self_attn.q_norm.weight", new Shape(c.headDim()));
      m.put(p + "self_attn.k_norm.weight", new Shape(c.headDim()));
      m.put(p + "post_attention_layernorm.weight", new Shape(h));
      m.put(p + "mlp.gate_proj.weight", new Shape(inter, h));
      m.put(p + "mlp.up_proj.weight", new Shape(inter, h));
      m.put(p + "mlp.down_proj.weight", new Shape(h, inter));
    }
    m.put("norm.weight", new Shape(h));
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
    var mask = batch.attentionMask();
    if (ids.getShape().dimension() != 2 || !ids.getShape().equals(mask.getShape())) {
      throw new IllegalArgumentException("input ids and attention mask must both be [batch, seq], got "
          + ids.getShape() + " and " + mask.getShape());
    }
    long seq = ids.getShape().get(1);
    if (seq > config.maxPositions()) {
      throw new IllegalArgumentException("sequence length " + seq + " exceeds the model's " + config.maxPositions()
          + " positions");
    }
    var rope = rotary(mask);
    var maskBias = attentionBias(mask);
    var x = Embedding.embedding(ids, parameters.get("embed_tokens.weight"), SparseFormat.DENSE).singletonOrThrow();
    var tap = recorder == null ? null : new Tap(recorder, mask);
    for (int i = 0; i < config.numLayers(); i++) {
      var p = "layers." + i + ".";
      x = x.add(selfAttention(rmsNorm(x, p + "input_layernorm.weight"), rope, maskBias, p + "self_attn.", tap));
      x = x.add(mlp(rmsNorm(x, p + "post_attention_layernorm.weight"), p + "mlp.", tap));
    }
    return rmsNorm(x, "norm.weight");
  }

  @Override
  public NDArray embed(Batch batch, LinearInputRecorder recorder) {
    var pooled = lastTokenPool(hiddenStates(batch, recorder), batch.attentionMask());
    return config.normalize() ? BertEncoder.l2Normalize(pooled) : pooled;
  }

  /**
   * The state of each row's last real token: position S−1 under left padding, and also correct under right
   * padding. Selected by a one-hot weight so the gradient reaches only that token.
   */
  static NDArray lastTokenPool(NDArray hidden, NDArray attentionMask) {
    long seq = attentionMask.getShape().get(1);
    var positions = attentionMask.getManager().arange(0, (int) seq, 1, DataType.INT64).expandDims(0);
    var last = attentionMask.toType(DataType.INT64, false).mul(positions).max(new int[] {1}, true); // [B, 1]
    var select = positions.eq(last).toType(hidden.getDataType(), false).expandDims(-1); // [B, S, 1]
    return hidden.mul(select).sum(new int[] {1});
  }

  /** RMSNorm over the last axis: {@code w · x / sqrt(mean(x²) + eps)}. */
  private NDArray rmsNorm(NDArray x, String weight) {
    var meanSquare = x.square().mean(new int[] {-1}, true);
    var rms = meanSquare.add(Scalars.of(meanSquare, config.normEps())).sqrt();
    return x.div(rms).mul(parameters.get(weight));
  }

  /** cos and sin {@code [B, 1, S, D]} of positions {@code cumsum(mask) − 1} (padding clamped to 0). */
  private NDArray[] rotary(NDArray mask) {
    var manager = mask.getManager();
    var positions = mask.toType(DataType.INT64, false).cumSum(1).sub(1).maximum(0).toType(dtype, false);
    var inverse = manager.create(inverseFrequencies).toType(dtype, false);
    var freqs = positions.expandDims(-1).mul(inverse); // [B, S, D/2]
    var angles = freqs.concat(freqs, -1).expandDims(1); // [B, 1, S, D]: HF's cat((freqs, freqs))
    return new NDArray[] {angles.cos(), angles.sin()};
  }

  /** Additive bias {@code [B, 1, S, S]}: 0 where key j ≤ query i and j is a real token, MASK_BIAS elsewhere. */
  private NDArray attentionBias(NDArray mask) {
    long seq = mask.getShape().get(1);
    var keys = mask.toType(dtype, false).expandDims(1).expandDims(1); // [B, 1, 1, S]
    var index = mask.getManager().arange(0, (int) seq, 1, DataType.INT64);
    var causal = index.expandDims(1).gte(index.expandDims(0)).toType(dtype, false); // [S, S], 1 where j ≤ i
    return keys.mul(causal).sub(1).mul(-MASK_BIAS);
  }

  private NDArray selfAttention(NDArray x, NDArray[] rope, NDArray maskBias, String p, Tap tap) {
    long b = x.getShape().get(0);
    long s = x.getShape().get(1);
    int heads = config.numHeads();
    int kvHeads = config.numKvHeads();
    int d = config.headDim();
    var q = applyRope(rmsNorm(project(x, p + "q_proj.weight", tap).reshape(b, s, heads, d), p + "q_norm.weight")
        .transpose(0, 2, 1, 3), rope);
    var k = applyRope(rmsNorm(project(x, p + "k_proj.weight", tap).reshape(b, s, kvHeads, d), p + "k_norm.weight")
        .transpose(0, 2, 1, 3), rope);
    var v = project(x, p + "v_proj.weight", tap).reshape(b, s, kvHeads, d).transpose(0, 2, 1, 3);
    k = repeatKv(k, heads / kvHeads);
    v = repeatKv(v, heads / kvHeads);
    var products = q.matMul(k.transpose(0, 1, 3, 2));
    var scores = products.div(Scalars.of(products, Math.sqrt(d))).add(maskBias); // [B, H, S, S]
    var context = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(b, s, (long) heads * d);
    return project(context, p + "o_proj.weight", tap);
  }

  /** HF's {@code repeat_kv}: query head h reads key/value head h / n_rep. */
  private static NDArray repeatKv(NDArray kv, int nRep) {
    if (nRep == 1) {
      return kv;
    }
    var shape = kv.getShape(); // [B, kv, S, D]
    return kv.expandDims(2)
        .broadcast(new Shape(shape.get(0), shape.get(1), nRep, shape.get(2), shape.get(3)))
        .reshape(shape.get(0), shape.get(1) * nRep, shape.get(2), shape.get(3));
  }

  /** {@code x·cos + rotate_half(x)·sin}, rotate_half(x) = cat(−x[d/2:], x[:d/2]). */
  private static NDArray applyRope(NDArray x, NDArray[] rope) {
    long half = x.getShape().get(3) / 2;
    var first = x.get(new NDIndex("..., :{}", half));
    var second = x.get(new NDIndex("..., {}:", half));
    var rotated = second.neg().concat(first, -1);
    return x.mul(rope[0]).add(rotated.mul(rope[1]));
  }

  private NDArray mlp(NDArray x, String p, Tap tap) {
    var gate = project(x, p + "gate_proj.weight", tap);
    var up = project(x, p + "up_proj.weight", tap);
    return project(gate.mul(Activation.sigmoid(gate)).mul(up), p + "down_proj.weight", tap); // SiLU(gate) · up
  }

  /** A recorder and the batch's attention mask, for the linear layers of one forward pass. */
  private record Tap(LinearInputRecorder recorder, NDArray attentionMask) {}

  private NDArray project(NDArray x, String weight, Tap tap) {
    if (tap != null && tap.recorder().wants(weight)) {
      tap.recorder().record(weight, x, tap.attentionMask());
    }
    return Linear.linear(x, parameters.get(weight)).singletonOrThrow();
  }

  @Override
  public String toString() {
    return "Qwen3Encoder" + Arrays.asList(config.numLayers() + " layers", "hidden " + config.hiddenSize(),
        config.numHeads() + "/" + config.numKvHeads() + " heads", dtype);
  }
}
