package io.gaprune.stats;

import java.io.IOException;

/**
 * A session's merged statistics as a planner reads them: the counters, and one tensor's sums at a time, so
 * that whoever plans holds one tensor's statistics, not all of them (a Qwen3-0.6B MLP's Fisher sums alone are
 * 4.2 GB). Backed by a session's accumulator files ({@code AccumulatorStore.merged()}) or by statistics already
 * in memory ({@link #of}).
 */
public interface MergedStatistics {

  long batches();

  long generalSamples();

  long domainSamples();

  /** The sums of one tensor, or null when the session collected none for it. */
  TensorStats tensor(String name) throws IOException;

  /** Where a view finds one tensor's sums by name (null when there are none). */
  @FunctionalInterface
  interface Lookup {
    TensorStats tensor(String name) throws IOException;
  }

  /** Counters as they are, tensors from {@code lookup}: what every source of merged statistics amounts to. */
  record View(long batches, long generalSamples, long domainSamples, Lookup lookup) implements MergedStatistics {
    @Override
    public TensorStats tensor(String name) throws IOException {
      return lookup.tensor(name);
    }
  }

  /** Statistics held in memory (read from a statistics file, or made by a test). */
  static MergedStatistics of(UnitStatistics statistics) {
    return new View(statistics.batches(), statistics.generalSamples(), statistics.domainSamples(),
        statistics.tensors()::get);
  }
}
