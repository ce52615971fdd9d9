package io.gaprune.worker;

import com.typesafe.config.Config;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.WorkUnit;
import io.gaprune.stats.UnitStatistics;
import java.lang.reflect.InvocationTargetException;
import java.util.List;

/**
 * What the cluster needs from the model runtime: the model's identity, the tensors that get statistics, the
 * weights for scoring, and the computation of one work unit. The cluster code depends on this seam only, so
 * the distributed machinery is the same whatever runs the model. The implementation is chosen by
 * {@code gaprune.worker.unit-computer} (a class with a public constructor taking the node's {@link Config}).
 */
public interface ModelRuntime extends AutoCloseable {

  /** A stable digest of the model (architecture and weights): workers with another model are refused. */
  String modelHash();

  /** The tensors that receive statistics for a candidate selection ("mlp", ...), in the model's order. */
  List<TensorSpec> candidateTensors(String candidates);

  /** The weights of one tensor, row-major, as float64 (the planner scores |θ|). */
  double[] weights(String tensor);

  /**
   * Computes one unit: for each batch of the unit, in order, the general and domain gradients, summed into
   * float64 statistics for the unit's tensors only. Must be deterministic: the same unit gives the same
   * bits on any worker (the cluster's equality guarantees rest on it).
   *
   * @param progress called after each batch with the number of batches done
   */
  UnitStatistics compute(WorkUnit unit, SessionConfig session, BatchProgress progress) throws Exception;

  /**
   * The intra-op threads this runtime computes a unit with, or 0 when it has no such setting. An embedded
   * session starts its child workers with the same count: the engine's kernels add in another order with
   * another thread count, and a unit must give the same bits on every worker.
   */
  default int intraOpThreads() {
    return 0;
  }

  @Override
  default void close() {}

  @FunctionalInterface
  interface BatchProgress {
    void batchesDone(int done);
  }

  /** Instantiates the configured runtime. */
  static ModelRuntime create(Config config) {
    String cls = config.getString("gaprune.worker.unit-computer");
    try {
      Class<?> c = Class.forName(cls);
      if (!ModelRuntime.class.isAssignableFrom(c)) {
        throw new IllegalArgumentException(cls + " (gaprune.worker.unit-computer) does not implement ModelRuntime");
      }
      return (ModelRuntime) c.getConstructor(Config.class).newInstance(config);
    } catch (ClassNotFoundException e) {
      throw new IllegalArgumentException("gaprune.worker.unit-computer names a class that is not on the class path: " + cls, e);
    } catch (NoSuchMethodException e) {
      throw new IllegalArgumentException(cls + " needs a public constructor taking a com.typesafe.config.Config", e);
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      throw new IllegalStateException("cannot start the model runtime " + cls + ": " + cause.getMessage(), cause);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot start the model runtime " + cls + ": " + e, e);
    }
  }
}
