package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.UnitResult;
import io.gaprune.stats.TensorStats;
import io.gaprune.stats.UnitStatistics;
import io.gaprune.worker.ShardCodec;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AccumulatorStoreTest {
  @TempDir Path tmp;

  static final List<TensorSpec> TENSORS = List.of(
      TensorSpec.newBuilder().setName("a").addShape(3).addShape(5).build(),
      TensorSpec.newBuilder().setName("b").addShape(7).build());

  static UnitStatistics unit(double base) {
    Map<String, TensorStats> m = new LinkedHashMap<>();
    for (TensorSpec t : TENSORS) {
      int n = (int) Partitioner.elements(t);
      TensorStats s = TensorStats.zeros(t.getName(), t.getShapeList().stream().mapToLong(Long::longValue).toArray());
      for (int i = 0; i < n; i++) {
        s.sumSqGeneral()[i] = base + i;
        s.sumGeneral()[i] = base - i;
        s.sumSqDomain()[i] = base * i;
        s.sumDomain()[i] = base / (i + 1);
      }
      m.put(t.getName(), new TensorStats(s.name(), s.shape(), s.sumSqGeneral(), s.sumGeneral(), s.sumSqDomain(),
          s.sumDomain(), base, 1));
    }
    return new UnitStatistics(m, 4, 4, 1, base, base);
  }

  static final List<Statistic> ALL = ShardCodec.statistics(StatisticSet.FISHER_AND_GRADIENTS);
  static final List<Statistic> FISHER = ShardCodec.statistics(StatisticSet.FISHER);

  static void stage(AccumulatorStore store, String id, UnitStatistics u) throws Exception {
    stage(store, id, u, ALL);
  }

  static void stage(AccumulatorStore store, String id, UnitStatistics u, List<Statistic> statistics)
      throws Exception {
    var digest = ShardCodec.digest(u, TENSORS, statistics, 16);
    try (var staging = store.openStaging(id, 0)) {
      for (Iterator<ShardChunk> it = ShardCodec.chunks(u, TENSORS, statistics, 16); it.hasNext(); ) {
        staging.write(it.next());
      }
      staging.commit(UnitResult.newBuilder().setUnitId(id).addAllTensors(ShardCodec.metas(u, TENSORS))
          .setGeneralSamples(4).setDomainSamples(4).setBatches(1).setGeneralLossSum(u.generalLossSum())
          .setDomainLossSum(u.domainLossSum()).setChunkCount(digest.chunks()).setTotalBytes(digest.bytes())
          .setCrc32C(digest.crc32c()).build());
    }
  }

  AccumulatorStore store() {
    return store(ALL);
  }

  AccumulatorStore store(List<Statistic> statistics) {
    return new AccumulatorStore(tmp.resolve("s"), "s", List.of(LayerPartition.newBuilder().setIndex(0)
        .addAllTensors(TENSORS).build()), statistics);
  }

  /** What the accumulator must hold: each unit's values rounded once to float32 (the wire), summed in float64. */
  static double[] expected(double[] a, double[] b) {
    var out = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = (double) (float) a[i] + (double) (float) b[i];
    }
    return out;
  }

  @Test
  void foldsInOrderExactlyOnce() throws Exception {
    AccumulatorStore store = store();
    stage(store, "p000-b000001", unit(2.5));
    List<String> order = List.of("p000-b000000", "p000-b000001");
    assertEquals(List.of(), store.foldReady(0, order), "unit 1 waits for unit 0");
    stage(store, "p000-b000000", unit(1.25));
    assertEquals(order, store.foldReady(0, order));
    assertEquals(List.of(), store.foldReady(0, order), "a repeated fold applies nothing");
    // a retried unit staged again after it was folded is skipped, not counted twice
    stage(store, "p000-b000000", unit(1.25));
    assertEquals(List.of(), store.foldReady(0, order));
    assertEquals(Set.copyOf(order), Set.copyOf(store.applied(0)));
    UnitStatistics merged = store.readAll();
    assertEquals(2, merged.batches());
    for (TensorSpec t : TENSORS) {
      var a = unit(1.25).tensors().get(t.getName());
      var b = unit(2.5).tensors().get(t.getName());
      var m = merged.tensors().get(t.getName());
      assertArrayEquals(expected(a.sumSqGeneral(), b.sumSqGeneral()), m.sumSqGeneral());
      assertArrayEquals(expected(a.sumGeneral(), b.sumGeneral()), m.sumGeneral());
      assertArrayEquals(expected(a.sumSqDomain(), b.sumSqDomain()), m.sumSqDomain());
      assertArrayEquals(expected(a.sumDomain(), b.sumDomain()), m.sumDomain());
      assertEquals(3.75, m.cosineSum());
      // the float32 wire's bound: within 2^-24 of the float64 sums, relative to the terms' magnitudes
      for (int i = 0; i < m.size(); i++) {
        double exact = a.sumDomain()[i] + b.sumDomain()[i];
        double scale = Math.abs(a.sumDomain()[i]) + Math.abs(b.sumDomain()[i]);
        assertTrue(Math.abs(m.sumDomain()[i] - exact) <= 0x1p-24 * scale, t.getName() + "[" + i + "]");
      }
    }
  }

  /** Linear layers whose input statistics ride beside the Fisher: arrays of their own lengths. */
  static final List<TensorSpec> LINEAR = List.of(
      TensorSpec.newBuilder().setName("up").addShape(3).addShape(5).build(),
      TensorSpec.newBuilder().setName("down").addShape(5).addShape(3).build());

  static UnitStatistics linearUnit(double base) {
    Map<String, TensorStats> m = new LinkedHashMap<>();
    for (TensorSpec t : LINEAR) {
      long[] shape = t.getShapeList().stream().mapToLong(Long::longValue).toArray();
      var s = TensorStats.zeros(t.getName(), shape, false);
      for (int i = 0; i < s.size(); i++) {
        s.sumSqGeneral()[i] = base + i;
        s.sumSqDomain()[i] = base * i;
      }
      var inputs = io.gaprune.stats.InputSums.zeros((int) shape[1], true);
      for (int i = 0; i < shape[1]; i++) {
        inputs.squaresGeneral()[i] = base + 0.1 * i;
        inputs.squaresDomain()[i] = base * 3 + i;
      }
      for (int i = 0; i < inputs.gramGeneral().length; i++) {
        inputs.gramGeneral()[i] = base - i;
        inputs.gramDomain()[i] = base / (i + 1);
      }
      m.put(t.getName(), new TensorStats(t.getName(), shape, s.sumSqGeneral(), s.sumGeneral(), s.sumSqDomain(),
          s.sumDomain(), base, 0, new io.gaprune.stats.InputSums(inputs.squaresGeneral(), inputs.squaresDomain(),
              inputs.gramGeneral(), inputs.gramDomain(), 10, 20)));
    }
    return new UnitStatistics(m, 4, 4, 1, base, base);
  }

  @Test
  void inputStatisticsStageAndFoldExactlyOnceWithTheirOwnLengths() throws Exception {
    var statistics = ShardCodec.statistics(StatisticSet.FISHER, io.gaprune.protocol.InputStatistics.INPUT_GRAMS);
    assertEquals(List.of(Statistic.SUM_SQ_GENERAL, Statistic.SUM_SQ_DOMAIN, Statistic.INPUT_SQ_GENERAL,
        Statistic.INPUT_SQ_DOMAIN, Statistic.INPUT_GRAM_GENERAL, Statistic.INPUT_GRAM_DOMAIN), statistics);
    var store = new AccumulatorStore(tmp.resolve("inputs"), "s", List.of(LayerPartition.newBuilder().setIndex(0)
        .addAllTensors(LINEAR).build()), statistics);
    List<String> order = List.of("p000-b000000", "p000-b000001");
    for (int u = 0; u < 2; u++) {
      var unit = linearUnit(u == 0 ? 1.25 : 2.5);
      ShardCodec.checkCovers(unit, LINEAR, statistics);
      var digest = ShardCodec.digest(unit, LINEAR, statistics, 16);
      try (var staging = store.openStaging(order.get(u), 0)) {
        for (Iterator<ShardChunk> it = ShardCodec.chunks(unit, LINEAR, statistics, 16); it.hasNext(); ) {
          staging.write(it.next());
        }
        staging.commit(UnitResult.newBuilder().setUnitId(order.get(u)).addAllTensors(ShardCodec.metas(unit, LINEAR))
            .setGeneralSamples(4).setDomainSamples(4).setBatches(1).setChunkCount(digest.chunks())
            .setTotalBytes(digest.bytes()).setCrc32C(digest.crc32c()).build());
      }
    }
    assertEquals(order, store.foldReady(0, order));
    assertEquals(List.of(), store.foldReady(0, order), "a repeated fold applies nothing");
    // 3×5 up: 15 + 15 Fisher, 5 + 5 Σx², 15 + 15 packed Gram; 5×3 down: 15 + 15, 3 + 3, 6 + 6
    assertEquals(30 + 10 + 30 + 30 + 6 + 12, store.values(store.partition(0)));
    var merged = store.readAll();
    for (TensorSpec t : LINEAR) {
      var a = linearUnit(1.25).tensors().get(t.getName()).inputs();
      var b = linearUnit(2.5).tensors().get(t.getName()).inputs();
      var m = merged.tensors().get(t.getName());
      assertArrayEquals(expected(a.squaresGeneral(), b.squaresGeneral()), m.inputs().squaresGeneral());
      assertArrayEquals(expected(a.squaresDomain(), b.squaresDomain()), m.inputs().squaresDomain());
      assertArrayEquals(expected(a.gramGeneral(), b.gramGeneral()), m.inputs().gramGeneral());
      assertArrayEquals(expected(a.gramDomain(), b.gramDomain()), m.inputs().gramDomain());
      assertEquals(20, m.inputs().tokensGeneral());
      assertEquals(40, m.inputs().tokensDomain());
      assertArrayEquals(expected(linearUnit(1.25).tensors().get(t.getName()).sumSqDomain(),
          linearUnit(2.5).tensors().get(t.getName()).sumSqDomain()), m.sumSqDomain());
      assertArrayEquals(m.inputs().gramDomain(), store.merged().tensor(t.getName()).inputs().gramDomain());
    }
  }

  @Test
  void fisherOnlySessionsStageAndFoldTheFisherAlone() throws Exception {
    AccumulatorStore store = store(FISHER);
    stage(store, "p000-b000000", unit(1.25), FISHER);
    stage(store, "p000-b000001", unit(2.5), FISHER);
    List<String> order = List.of("p000-b000000", "p000-b000001");
    assertEquals(order, store.foldReady(0, order));
    long values = TENSORS.stream().mapToLong(Partitioner::elements).sum();
    assertEquals(values * 2 * Float.BYTES, ShardCodec.digest(unit(1), TENSORS, FISHER, 16).bytes(),
        "a Fisher-only unit ships two float32 arrays per tensor");
    for (TensorSpec t : TENSORS) {
      var m = store.readAll().tensors().get(t.getName());
      assertFalse(m.hasGradientSums());
      assertArrayEquals(expected(unit(1.25).tensors().get(t.getName()).sumSqDomain(),
          unit(2.5).tensors().get(t.getName()).sumSqDomain()), m.sumSqDomain());
    }
    // a unit streamed with all four statistics does not fit a Fisher-only session's layout
    var all = ShardCodec.chunks(unit(1), TENSORS, ALL, 16);
    try (var staging = store.openStaging("z", 0)) {
      for (int i = 0; i < 4; i++) { // tensor a's Σg²_gen: 15 floats in chunks of 4
        staging.write(all.next());
      }
      var e = assertThrows(IllegalStateException.class, () -> staging.write(all.next()));
      assertTrue(e.getMessage().contains("SUM_GENERAL"), e.getMessage());
    }
  }

  @Test
  void corruptAccumulatorIsDetectedNeverUsed() throws Exception {
    AccumulatorStore store = store();
    stage(store, "p000-b000000", unit(1));
    store.foldReady(0, List.of("p000-b000000"));
    Path acc = store.accumulatorPath(0);
    try (RandomAccessFile f = new RandomAccessFile(acc.toFile(), "rw")) {
      f.seek(40);
      int b = f.read();
      f.seek(40);
      f.write(b ^ 0x10); // one flipped bit in the float64 data
    }
    var e = assertThrows(CorruptFileException.class, () -> store.readAll());
    assertTrue(e.getMessage().contains("CRC32C mismatch"), e.getMessage());
    assertTrue(e.getMessage().contains(acc.getFileName().toString()), e.getMessage());
    assertThrows(CorruptFileException.class, () -> store.foldReady(0, List.of("p000-b000000", "p000-b000001")));
    // a truncated file too
    Files.write(acc, new byte[] {1, 2, 3});
    assertThrows(CorruptFileException.class, () -> store.applied(0));
  }

  @Test
  void streamOutOfOrderOrShortIsRefused() throws Exception {
    AccumulatorStore store = store();
    UnitStatistics u = unit(1);
    var it = ShardCodec.chunks(u, TENSORS, ALL, 16);
    it.next();
    try (var staging = store.openStaging("x", 0)) {
      assertThrows(IllegalStateException.class, () -> staging.write(it.next()));
    }
    try (var staging = store.openStaging("y", 0)) {
      staging.write(ShardCodec.chunks(u, TENSORS, ALL, 16).next());
      assertThrows(IllegalStateException.class, () -> staging.commit(UnitResult.getDefaultInstance()));
    }
    assertEquals(null, store.readStaged("x"));
    assertEquals(null, store.readStaged("y"));
  }
}
