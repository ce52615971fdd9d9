package io.gaprune.stats;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Sums batch contributions of one layer partition in a fixed order, the same whatever the grouping of batches
 * into work units and whatever the order in which units arrive, so that the result is bit-identical for one
 * worker or eight, with or without retries.
 *
 * <p>Float64 addition is not associative, so "sum in any grouping" is only exact with a fixed summation
 * tree. This one is the canonical binary tree over batch indices: an aligned block is {@code [k·2^j,
 * (k+1)·2^j)}; a block's sum is defined as (sum of its left half) + (sum of its right half), and a leaf is one
 * batch's contribution. The accumulator holds the blocks it has, merging two siblings as soon as both are
 * present (a binary counter); the sum of a contiguous range is the left fold of its maximal aligned blocks.
 * Every grouping that hands over aligned blocks (single batches included) therefore performs exactly the same
 * additions on exactly the same operands. A unit whose range is not aligned ships its {@link #blocks()}
 * (at most 2·log₂ of its size); with power-of-two unit sizes that is one block per unit.
 *
 * <p>Memory: at most one block per level plus blocks that arrived ahead of a gap. Adding a block that
 * overlaps batches already held fails, which guards against folding a unit twice.
 */
public final class StatisticsAccumulator {

  private record Block(long start, long size, UnitStatistics sums) {
    long end() {
      return start + size;
    }
  }

  /** Disjoint aligned blocks by first batch. */
  private final TreeMap<Long, Block> blocks = new TreeMap<>();

  /**
   * Adds one batch's contribution ({@code contribution.batches() == 1}) and takes ownership of it: its arrays
   * become sums that later additions change in place (a step's fresh contribution needs no copy; pass
   * {@code contribution.copy()} to keep using it).
   */
  public void add(long batch, UnitStatistics contribution) {
    if (contribution.batches() != 1) {
      throw new IllegalArgumentException("a batch contribution must count 1 batch, batch " + batch + " counts "
          + contribution.batches());
    }
    insert(batch, contribution);
  }

  /**
   * Adds an aligned block of {@code sums.batches()} batches starting at {@code start}, as produced by another
   * accumulator's {@link #blocks()}. The block is copied; the caller keeps its arrays.
   */
  public void addBlock(long start, UnitStatistics sums) {
    insert(start, sums.copy());
  }

  private void insert(long start, UnitStatistics owned) {
    long size = owned.batches();
    if (start < 0 || size <= 0 || Long.bitCount(size) != 1 || start % size != 0) {
      throw new IllegalArgumentException("batches [" + start + ", " + (start + size) + ") are not an aligned block"
          + " (a power-of-two count starting at a multiple of it): add the blocks() of the unit's accumulator");
    }
    var before = blocks.floorEntry(start + size - 1);
    if (before != null && before.getValue().end() > start) {
      var held = before.getValue();
      throw new IllegalArgumentException("batches [" + start + ", " + (start + size) + ") overlap batches ["
          + held.start() + ", " + held.end() + ") already accumulated");
    }
    var block = new Block(start, size, owned);
    while (true) {
      boolean left = (block.start() / block.size()) % 2 == 0;
      long siblingStart = left ? block.end() : block.start() - block.size();
      var sibling = blocks.get(siblingStart);
      if (sibling == null || sibling.size() != block.size()) {
        break;
      }
      blocks.remove(siblingStart);
      // left + right, the left operand's arrays reused: the canonical order of the tree
      block = left
          ? new Block(block.start(), 2 * block.size(), block.sums().plus(sibling.sums()))
          : new Block(sibling.start(), 2 * block.size(), sibling.sums().plus(block.sums()));
    }
    blocks.put(block.start(), block);
  }

  /** Adds every block of {@code other} (another unit's accumulator of the same partition). */
  public void addAll(StatisticsAccumulator other) {
    other.blocks.values().forEach(b -> addBlock(b.start(), b.sums()));
  }

  /** The held blocks in batch order, each {@code (first batch, sums)}: what a unit ships. Not copies. */
  public List<Map.Entry<Long, UnitStatistics>> blocks() {
    var out = new ArrayList<Map.Entry<Long, UnitStatistics>>();
    blocks.values().forEach(b -> out.add(Map.entry(b.start(), b.sums())));
    return out;
  }

  /** Number of batches held. */
  public long batches() {
    return blocks.values().stream().mapToLong(Block::size).sum();
  }

  /**
   * The sum over the held batches, which must be contiguous: the left fold of the maximal aligned blocks.
   * A new object; the accumulator can go on.
   */
  public UnitStatistics total() {
    UnitStatistics total = null;
    long next = -1;
    for (var b : blocks.values()) {
      if (total == null) {
        total = b.sums().copy();
      } else if (b.start() != next) {
        throw new IllegalStateException("batches [" + next + ", " + b.start() + ") are missing");
      } else {
        total = total.plus(b.sums().copy()); // plus may adopt arrays: keep the blocks untouched
      }
      next = b.end();
    }
    return total == null ? UnitStatistics.empty() : total;
  }
}
