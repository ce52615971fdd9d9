package io.gaprune.model;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * A text encoder written with DJL NDArray operations over named parameters.
 *
 * <p>Parameter names are the Hugging Face names (e.g. {@code encoder.layer.0.intermediate.dense.weight},
 * {@code layers.0.mlp.up_proj.weight}), so layer-type patterns select tensors on every family. Linear
 * weights keep the Hugging Face layout {@code [out, in]}. Implementations are dtype-agnostic: with float64
 * parameters every intermediate is float64 (finite-difference tests rely on it).
 */
public interface Encoder {

  ModelConfig config();

  /** The parameters in a fixed order (the checkpoint's), by Hugging Face name. */
  Map<String, NDArray> parameters();

  /** Last hidden states {@code [batch, seq, hidden]}. */
  NDArray hiddenStates(Batch batch);

  /** Pooled embeddings {@code [batch, hidden]}, L2-normalised when the config says so. */
  default NDArray embed(Batch batch) {
    return embed(batch, null);
  }

  /**
   * {@link #embed(Batch)}, showing the inputs of the linear layers to {@code recorder} on the way (null: none,
   * the same computation).
   */
  NDArray embed(Batch batch, LinearInputRecorder recorder);
}
