package io.gaprune.stats;

import ai.djl.engine.Engine;
import ai.djl.training.GradientCollector;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one gradient recording a process may have. PyTorch's DJL engine refuses a second open
 * {@link GradientCollector} in the same process (autograd mode is per thread, the collector flag global), so
 * everything that records gradients (statistics, retraining) opens it here: a second caller waits instead of
 * failing.
 */
public final class ProcessAutograd {

  private static final ReentrantLock LOCK = new ReentrantLock();

  private ProcessAutograd() {}

  /** Opens the process's collector, waiting while another thread holds it; close it to release. */
  public static Recording open() {
    LOCK.lock();
    try {
      return new Recording(Engine.getInstance().newGradientCollector());
    } catch (RuntimeException e) {
      LOCK.unlock();
      throw e;
    }
  }

  /** An open collector; closing it ends the recording and lets the next caller in. */
  public static final class Recording implements AutoCloseable {
    private final GradientCollector collector;

    private Recording(GradientCollector collector) {
      this.collector = collector;
    }

    public GradientCollector collector() {
      return collector;
    }

    @Override
    public void close() {
      try {
        collector.close();
      } finally {
        LOCK.unlock();
      }
    }
  }
}
