package io.gaprune.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Scalar operands for code that autograd differentiates, as tensors that own their memory.
 *
 * <p>Why not {@code x.div(2.0)}: DJL's {@code Number} overloads ({@code div}, {@code mul}, {@code maximum}, ...)
 * wrap the number in a 0-d tensor made with {@code from_blob} over a Java direct buffer (no copy on the CPU)
 * and close it right after the op. Autograd saves that tensor for the backward pass of {@code div},
 * {@code mul} and {@code maximum}, but the memory belongs to the buffer: once the garbage collector frees it,
 * which can happen between the forward and the backward pass, the backward reads freed memory and every
 * gradient below the op is garbage, NaN when the bytes happen to decode so and silently wrong otherwise. A
 * constant from here is computed into a fresh native tensor ({@code ones} scaled in place, no autograd node
 * since nothing requires a gradient), so the reference autograd keeps is a reference to its own memory.
 * {@code StatisticsStepTest.gradientsDoNotDependOnTheGarbageCollector} guards it.
 */
public final class Scalars {

  private Scalars() {}

  /** {@code value} as a 0-d tensor of {@code like}'s dtype, in {@code like}'s manager and device. */
  public static NDArray of(NDArray like, double value) {
    return like.getManager().ones(new Shape(), like.getDataType()).muli(value);
  }
}
