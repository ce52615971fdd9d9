package io.gaprune.stats;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything one work unit (a batch range × a layer partition) contributes to a session's accumulators:
 * per-tensor gradient statistics plus the scalar counters of the two halves. Sums, never means, so that
 * contributions add up exactly whatever the grouping.
 */
public record UnitStatistics(
    Map<String, TensorStats> tensors,
    long generalSamples,
    long domainSamples,
    long batches,
    double generalLossSum,
    double domainLossSum) {

  public static UnitStatistics empty() {
    return new UnitStatistics(new LinkedHashMap<>(), 0, 0, 0, 0, 0);
  }

  /** Bytes of heap its tensors' arrays take. */
  public long heapBytes() {
    return tensors.values().stream().mapToLong(TensorStats::heapBytes).sum();
  }

  /** A deep copy (tensor arrays included): {@link #plus} mutates this one's arrays and adopts the other's. */
  public UnitStatistics copy() {
    var copied = new LinkedHashMap<String, TensorStats>();
    tensors.forEach((name, stats) -> copied.put(name, stats.copy()));
    return new UnitStatistics(copied, generalSamples, domainSamples, batches, generalLossSum, domainLossSum);
  }

  /** Adds {@code other} into this one; tensor arrays are added in place, new tensors are adopted. */
  public UnitStatistics plus(UnitStatistics other) {
    var merged = new LinkedHashMap<>(tensors);
    for (var e : other.tensors.entrySet()) {
      merged.merge(e.getKey(), e.getValue(), TensorStats::plusInPlace);
    }
    return new UnitStatistics(merged,
        generalSamples + other.generalSamples,
        domainSamples + other.domainSamples,
        batches + other.batches,
        generalLossSum + other.generalLossSum,
        domainLossSum + other.domainLossSum);
  }
}
