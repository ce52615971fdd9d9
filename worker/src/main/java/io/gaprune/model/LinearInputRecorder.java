package io.gaprune.model;

import ai.djl.ndarray.NDArray;

/**
 * Sees the input of each linear layer an {@link Encoder}'s forward pass computes: how the workers collect the
 * input statistics of Wanda and SparseGPT (Σx², Σx·xᵀ) in the same forward the gradient statistics use.
 * Passing none ({@code null}) leaves the forward exactly as it is.
 */
public interface LinearInputRecorder {

  /** Whether the inputs of this weight (the encoder's parameter name) are wanted; others cost nothing. */
  boolean wants(String weight);

  /**
   * @param weight the linear layer's weight, by the encoder's parameter name
   * @param input the layer's input {@code [batch, seq, in]} as the forward computed it (under a gradient
   *     recording: a recorder must not let it into the graph, e.g. work on {@code stopGradient()})
   * @param attentionMask {@code [batch, seq]}, 1 for real tokens, 0 for padding
   */
  void record(String weight, NDArray input, NDArray attentionMask);
}
