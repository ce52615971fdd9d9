package io.gaprune.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import io.gaprune.model.Batch;
import io.gaprune.model.Encoder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;

/**
 * Central finite differences of the full loss (encoder → pooled embeddings → InfoNCE) in float64, compared
 * with the gradients a {@link StatisticsStep} reports.
 */
final class FiniteDifferences {

  static final double STEP = 1e-5;
  static final double RELATIVE_TOLERANCE = 1e-6;
  /** Below this a gradient is "zero": the truncation error of the difference quotient is about 1e-10. */
  static final double ABSOLUTE_TOLERANCE = 1e-9;

  private FiniteDifferences() {}

  /** The loss of a batch, computed without gradient recording in a throw-away manager. */
  static double loss(Encoder encoder, TripletBatch batch) {
    try (var scope = NDManager.newBaseManager()) {
      scope.tempAttachAll(batch.arrays());
      var loss = InfoNceLoss.loss(encoder.embed(batch.queries()), encoder.embed(batch.positives()),
          encoder.embed(batch.negatives()));
      return loss.toType(DataType.FLOAT64, false).getDouble();
    }
  }

  /** (L(θ + h·e_i) − L(θ − h·e_i)) / 2h for the weight at flat index {@code flat} of {@code parameter}. */
  static double derivative(Encoder encoder, TripletBatch batch, NDArray parameter, long flat) {
    var index = index(parameter, flat);
    double original = parameter.getDouble(index);
    try {
      parameter.set(new NDIndex(index), original + STEP);
      double plus = loss(encoder, batch);
      parameter.set(new NDIndex(index), original - STEP);
      double minus = loss(encoder, batch);
      return (plus - minus) / (2 * STEP);
    } finally {
      parameter.set(new NDIndex(index), original);
    }
  }

  static long[] index(NDArray array, long flat) {
    var shape = array.getShape().getShape();
    var index = new long[shape.length];
    for (int d = shape.length - 1; d >= 0; d--) {
      index[d] = flat % shape[d];
      flat /= shape[d];
    }
    return index;
  }

  /**
   * Probes {@code probes} random weights of each parameter in {@code names}; for the embedding table only rows
   * of tokens that occur ({@code usedRows}), as other rows have a zero gradient. Asserts the agreement and
   * returns how many probes had a gradient clearly away from zero.
   */
  static int check(Encoder encoder, TripletBatch batch, UnitStatistics contribution, boolean general,
      List<String> names, String embeddingName, long[] usedRows, int probes, Random random) {
    int nonTrivial = 0;
    var failures = new ArrayList<String>();
    for (var name : names) {
      var parameter = encoder.parameters().get(name);
      var stats = contribution.tensors().get(name);
      var gradient = general ? stats.sumGeneral() : stats.sumDomain();
      var squares = general ? stats.sumSqGeneral() : stats.sumSqDomain();
      long size = parameter.getShape().size();
      for (int k = 0; k < probes; k++) {
        long flat;
        if (name.equals(embeddingName)) {
          long width = parameter.getShape().get(1);
          flat = usedRows[random.nextInt(usedRows.length)] * width + random.nextInt((int) width);
        } else {
          flat = (long) (random.nextDouble() * size);
        }
        double analytic = gradient[(int) flat];
        assertEquals(analytic * analytic, squares[(int) flat], 0.0, name + ": g² is not the square of g");
        double numeric = derivative(encoder, batch, parameter, flat);
        double error = Math.abs(analytic - numeric);
        if (error > RELATIVE_TOLERANCE * Math.max(Math.abs(analytic), Math.abs(numeric)) + ABSOLUTE_TOLERANCE) {
          failures.add(name + "[" + flat + "]: autograd " + analytic + ", finite difference " + numeric);
        }
        if (Math.abs(analytic) > 1e-5) {
          nonTrivial++;
        }
      }
    }
    assertTrue(failures.isEmpty(), () -> failures.size() + " gradients disagree:\n" + String.join("\n", failures));
    return nonTrivial;
  }

  static long[] tokens(TripletBatch batch) {
    var ids = new TreeSet<Long>();
    for (var b : new Batch[] {batch.queries(), batch.positives(), batch.negatives()}) {
      var values = b.inputIds().toLongArray();
      var mask = b.attentionMask().toLongArray();
      for (int i = 0; i < values.length; i++) {
        if (mask[i] == 1) {
          ids.add(values[i]);
        }
      }
    }
    return ids.stream().mapToLong(Long::longValue).toArray();
  }
}
