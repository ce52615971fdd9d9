package io.gaprune.model;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sections of native PyTorch work (a batch's forward pass, a training step) that the JVM's shutdown waits
 * for. On SIGTERM or Ctrl-C the JVM runs its shutdown hooks and then libtorch's static destructors; a forward or
 * backward pass still running, or started, after those destructors crashes the process (SIGSEGV in
 * {@code at::accelerator::getAccelerator}, seen when a retraining run was stopped). So long loops run each step
 * inside {@link #enter()}, and the shutdown hook waits for the step in flight to end and lets no new one begin.
 * Sections nest and run concurrently; a thread that tries to begin one after the stop waits until the process
 * is gone.
 */
public final class TorchWork {

  /** How long the shutdown waits for the step in flight: a training step of a 4B model on a CPU takes minutes. */
  static final Duration STOP_WAIT = Duration.ofMinutes(3);

  private static final Logger log = LoggerFactory.getLogger(TorchWork.class);
  private static final TorchWork PROCESS = new TorchWork();

  static {
    try {
      Runtime.getRuntime().addShutdownHook(new Thread(() -> PROCESS.stop(STOP_WAIT), "gaprune-stop-torch-work"));
    } catch (IllegalStateException shutdownInProgress) {
      // first used while the JVM already exits: there is no teardown left to protect
    }
  }

  // readers: sections of work; the writer: the stop, which never lets go. Non-fair mode still queues a new
  // reader behind a waiting writer, so a stream of steps cannot keep the stop out.
  private final ReentrantReadWriteLock gate = new ReentrantReadWriteLock();

  TorchWork() {}

  /** Begins a section of native work in this process; close it when the work is done. */
  public static Section enter() {
    return PROCESS.begin();
  }

  Section begin() {
    gate.readLock().lock();
    return new Section(this);
  }

  /**
   * Waits at most {@code wait} for the sections in flight to end and keeps new ones from beginning; true if
   * none was left running.
   */
  boolean stop(Duration wait) {
    if (sectionsInFlight() > 0) {
      System.err.println("stopping: waiting for the PyTorch step in flight to finish (at most "
          + wait.toSeconds() + " s)");
    }
    try {
      if (gate.writeLock().tryLock(wait.toMillis(), TimeUnit.MILLISECONDS)) {
        return true;
      }
      log.warn("a PyTorch step still runs after {} s; exiting anyway, which may crash in libtorch's teardown",
          wait.toSeconds());
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  int sectionsInFlight() {
    return gate.getReadLockCount();
  }

  /** One section of native work; closing it lets a waiting stop proceed. */
  public static final class Section implements AutoCloseable {
    private final TorchWork owner;
    private boolean closed;

    private Section(TorchWork owner) {
      this.owner = owner;
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        owner.gate.readLock().unlock();
      }
    }
  }
}
