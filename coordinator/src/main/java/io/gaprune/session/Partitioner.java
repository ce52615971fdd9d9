package io.gaprune.session;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import io.gaprune.planner.BudgetMode;
import io.gaprune.planner.Calibration;
import io.gaprune.protocol.BatchIndices;
import io.gaprune.protocol.InputStatistics;
import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.Phase;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.Statistic;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.protocol.TensorSpec;
import io.gaprune.protocol.WorkUnit;
import io.gaprune.worker.ShardCodec;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Splits a session into work units: a unit is a range of data batches over every candidate tensor, so each
 * calibration batch goes through forward and backward once per session.
 *
 * <p>Batches: each calibration set's indices are shuffled with the session seed ({@link Random} is specified
 * bit for bit, so every JVM gets the same order), cut into batches of {@code batch_size}; batch {@code b}
 * pairs the b-th general batch with the b-th domain batch, and {@code batches_per_unit} of them make a unit.
 * The layout depends on the data and the session's configuration only, never on the number of workers, so any
 * number of workers folds the same units in the same order (the same bits).
 *
 * <p>Layer partitions are the fallback for a worker that cannot hold a unit's sums beside its model: the
 * candidate tensors in model order are packed greedily until what a worker holds for them
 * ({@link #partitionBytes}) reaches the session's accumulator memory; each partition is one more pass over
 * every batch. A unit id sorts in the order its partition folds it.
 */
public final class Partitioner {
  private Partitioner() {}

  public record Plan(List<LayerPartition> partitions, List<WorkUnit> units, int batches) {}

  /**
   * The session as it will run: the statistics its scoring reads when the request names none, and the
   * accumulator memory when the request leaves it at 0. A bad scoring entry is refused here, at the start, not
   * after hours of statistics; so are statistics that lack what the scoring reads.
   */
  public static SessionConfig resolve(SessionConfig cfg, long accumulatorMemory) {
    boolean gradients = AccumulatorPlanner.scoring(cfg).needsGradientSums();
    var b = cfg.toBuilder();
    if (cfg.getStatistics() == StatisticSet.FISHER && gradients) {
      throw new IllegalArgumentException("statistics FISHER lack the gradient sums that scoring \""
          + cfg.getScoring() + "\" reads; use FISHER_AND_GRADIENTS or leave statistics out");
    }
    if (cfg.getStatistics() == StatisticSet.STATISTIC_SET_UNSPECIFIED) {
      b.setStatistics(gradients ? StatisticSet.FISHER_AND_GRADIENTS : StatisticSet.FISHER);
    }
    var spec = io.gaprune.planner.MethodSpec.parse(cfg.getScoring().isBlank()
        ? io.gaprune.planner.MethodSpec.DEFAULT_SCORING : cfg.getScoring());
    if (!cfg.getStatisticsOnly() && (spec.method() == io.gaprune.planner.ScoringMethod.SPARSEGPT
        || spec.reconstruct())) {
      layerwiseSettings(cfg, spec);
    }
    if (!cfg.getStatisticsOnly() && spec.method() == io.gaprune.planner.ScoringMethod.WANDA) {
      wandaBudget(cfg, spec, b);
    }
    if (spec.budget() != null) {
      throw new IllegalArgumentException("scoring \"" + cfg.getScoring() + "\": give the budget as the session's "
          + "\"budget\", not in the scoring entry");
    }
    calibration(cfg, spec);
    if (!cfg.getCalibration().isBlank()) {
      b.setCalibration(AccumulatorPlanner.calibration(cfg).toString());
    }
    boolean owl = !cfg.getBudget().isEmpty() && BudgetMode.parse(cfg.getBudget()) == BudgetMode.OWL;
    if (owl && !cfg.getStatisticsOnly()) {
      throw new IllegalArgumentException("budget \"owl\" measures each layer's outliers from the input statistics "
          + "before planning, which a session's planner does not do yet: run it with `gaprune run` or `compare`, or "
          + "start a statistics-only session");
    }
    var inputs = owl && spec.inputStatistics().getNumber() < InputStatistics.INPUT_NORMS_VALUE
        ? InputStatistics.INPUT_NORMS : spec.inputStatistics();
    if (inputs.getNumber() > cfg.getInputStatisticsValue()) {
      b.setInputStatistics(inputs);
    }
    if (cfg.getPartitionBudgetBytes() == 0) {
      b.setPartitionBudgetBytes(accumulatorMemory);
    }
    return b.build();
  }

  /**
   * A scoring that updates the kept weights in a session that plans (the plan's layer-wise step,
   * {@link GroupLayerwise}): SparseGPT prunes every tensor at the session's sparsity or N:M structure, so a budget
   * other than {@code global} or {@code uniform} and an N:M written in the scoring entry are refused; the adaptive
   * reconstruction's power is checked here, before any work.
   */
  private static void layerwiseSettings(SessionConfig cfg, io.gaprune.planner.MethodSpec spec) {
    if (spec.adaptive()) {
      spec.priorExponent();
    }
    if (spec.method() != io.gaprune.planner.ScoringMethod.SPARSEGPT) {
      return;
    }
    requireSessionStructure(cfg, spec);
    var budget = cfg.getBudget().isBlank() ? BudgetMode.GLOBAL : BudgetMode.parse(cfg.getBudget());
    if (budget != BudgetMode.GLOBAL && budget != BudgetMode.UNIFORM) {
      throw new IllegalArgumentException("scoring \"sparsegpt\" prunes every tensor at the session's sparsity: "
          + "budget must be \"global\" or \"uniform\" (both mean that for it), got \"" + cfg.getBudget() + "\"");
    }
  }

  /**
   * Wanda in a session that plans: its scores compared within each output row ({@code budget: rows}) or within
   * the session's N:M groups. The coordinator's default budget, {@code global} (what a request that names none
   * gets), is taken as {@code rows}, since Wanda is defined per row and {@code run --scoring wanda} plans it so;
   * {@code uniform} and {@code owl} are refused, and so is an N:M written in the scoring entry rather than in the
   * session's {@code structure}.
   */
  private static void wandaBudget(SessionConfig cfg, io.gaprune.planner.MethodSpec spec, SessionConfig.Builder b) {
    requireSessionStructure(cfg, spec);
    if (!AccumulatorPlanner.structure(cfg).unstructured()) {
      return; // N:M decides per group of M; the budget is not used
    }
    var budget = cfg.getBudget().isBlank() ? BudgetMode.GLOBAL : BudgetMode.parse(cfg.getBudget());
    if (budget == BudgetMode.GLOBAL) {
      b.setBudget(BudgetMode.ROWS.toString());
    } else if (budget != BudgetMode.ROWS) {
      throw new IllegalArgumentException("scoring \"wanda\" compares the weights of each output row: budget must "
          + "be \"rows\" (or the default, global, taken as rows), got \"" + cfg.getBudget() + "\"");
    }
  }

  /**
   * A {@code calibration} other than the domain (the default) must change something: it is the half whose input
   * statistics {@code wanda} and {@code sparsegpt} read when the session plans. Any other scoring reads both
   * halves by its own rule, and a statistics-only session keeps both halves for whoever plans from them
   * ({@code run --calibration}), so a value there would be silently ignored: refused instead.
   */
  private static void calibration(SessionConfig cfg, io.gaprune.planner.MethodSpec spec) {
    if (cfg.getCalibration().isBlank() || AccumulatorPlanner.calibration(cfg) == Calibration.DOMAIN) {
      return;
    }
    if (cfg.getStatisticsOnly()) {
      throw new IllegalArgumentException("calibration \"" + cfg.getCalibration() + "\" chooses what a plan reads, and "
          + "a statistics-only session does not plan: it keeps both halves; choose the half where you plan "
          + "(`gaprune run --statistics FILE --calibration " + cfg.getCalibration() + "`)");
    }
    var method = spec.method();
    if (method != io.gaprune.planner.ScoringMethod.WANDA && method != io.gaprune.planner.ScoringMethod.SPARSEGPT) {
      throw new IllegalArgumentException("calibration \"" + cfg.getCalibration() + "\" chooses the half whose input "
          + "statistics wanda and sparsegpt read; scoring \"" + (cfg.getScoring().isBlank()
          ? io.gaprune.planner.MethodSpec.DEFAULT_SCORING : cfg.getScoring()) + "\" reads both halves by its own "
          + "rule: leave calibration out");
    }
  }

  /** A layer-wise method's N:M belongs in the session's {@code structure}, where the planner and report read it. */
  private static void requireSessionStructure(SessionConfig cfg, io.gaprune.planner.MethodSpec spec) {
    if (!spec.structure().unstructured()) {
      throw new IllegalArgumentException("scoring \"" + cfg.getScoring() + "\": give the N:M structure as the "
          + "session's \"structure\", not in the scoring entry");
    }
  }

  /** Share of this JVM's heap that {@code accumulator-memory = auto} gives the unit's sums. */
  static final double AUTO_HEAP_SHARE = 0.6;

  /**
   * The node's {@code gaprune.session.accumulator-memory}: bytes, or {@code auto} for {@value #AUTO_HEAP_SHARE}
   * of this JVM's maximum heap (the embedded mode's workers run with the lead's heap; a multi-host deployment
   * sets what its workers can hold).
   */
  public static long accumulatorMemory(com.typesafe.config.Config config) {
    String key = "gaprune.session.accumulator-memory";
    if (config.getValue(key).unwrapped() instanceof String text && text.trim().equalsIgnoreCase("auto")) {
      return (long) (Runtime.getRuntime().maxMemory() * AUTO_HEAP_SHARE);
    }
    long bytes = config.getBytes(key);
    if (bytes <= 0) {
      throw new IllegalArgumentException(key + " must be positive or \"auto\", got " + bytes);
    }
    return bytes;
  }

  /**
   * A worker's memory per candidate weight while it computes a unit, for the gradient statistics: the float64
   * sum of each, and the general half's float32 gradient held until the domain half's is there (for the cosine
   * between them). The input statistics are per input channel, not per weight: {@link #unitBytes}.
   */
  public static long bytesPerWeight(List<Statistic> statistics) {
    return statistics.stream().filter(s -> !ShardCodec.isInputStatistic(s)).count() * Double.BYTES + Float.BYTES;
  }

  /**
   * What a worker holds for one tensor while it computes a unit: {@link #bytesPerWeight} per weight, and for
   * each input statistic ({@code Σx²}: {@code in} values, a packed Gram matrix: {@code in·(in+1)/2}) two float64
   * arrays, the unit's running sum and the batch's own, which each half's forward passes fill before they are
   * added into the unit's ({@code StatisticsStep}).
   */
  public static long unitBytes(TensorSpec t, List<Statistic> statistics) {
    long bytes = Math.multiplyExact(elements(t), bytesPerWeight(statistics));
    for (var s : statistics) {
      if (ShardCodec.isInputStatistic(s)) {
        bytes = Math.addExact(bytes, Math.multiplyExact(2L * Double.BYTES, ShardCodec.length(t, s)));
      }
    }
    return bytes;
  }

  /**
   * The largest array a worker builds for one tensor at a time: with Gram matrices, a layer's batch {@code Σx·xᵀ}
   * in full ({@code in × in} float64) before it is packed into the sums; 0 without them.
   */
  public static long transientBytes(TensorSpec t, List<Statistic> statistics) {
    if (!statistics.contains(Statistic.INPUT_GRAM_GENERAL) && !statistics.contains(Statistic.INPUT_GRAM_DOMAIN)) {
      return 0;
    }
    long in = ShardCodec.length(t, Statistic.INPUT_SQ_GENERAL);
    return Math.multiplyExact(Math.multiplyExact(in, in), (long) Double.BYTES);
  }

  /** What a worker holds at most while it computes a unit of these tensors: their sums and the largest transient. */
  public static long partitionBytes(List<TensorSpec> tensors, List<Statistic> statistics) {
    long sums = 0;
    long transientMax = 0;
    for (var t : tensors) {
      sums = Math.addExact(sums, unitBytes(t, statistics));
      transientMax = Math.max(transientMax, transientBytes(t, statistics));
    }
    return Math.addExact(sums, transientMax);
  }

  public static Plan plan(SessionConfig cfg, List<TensorSpec> candidates, int generalCount, int domainCount) {
    if (cfg.getBatchSize() <= 0) {
      throw new IllegalArgumentException("batch size must be positive, got " + cfg.getBatchSize());
    }
    if (cfg.getBatchesPerUnit() <= 0) {
      throw new IllegalArgumentException("batches per unit must be positive, got " + cfg.getBatchesPerUnit());
    }
    if (candidates.isEmpty()) {
      throw new IllegalArgumentException("model " + cfg.getModel() + " has no tensors matching candidates \""
          + cfg.getCandidates() + "\"");
    }
    int nGeneral = limit(generalCount, cfg.getGeneralLimit());
    int nDomain = limit(domainCount, cfg.getDomainLimit());
    int batches = Math.min(nGeneral, nDomain) / cfg.getBatchSize();
    if (batches == 0) {
      throw new IllegalArgumentException("not enough triplets for one batch of " + cfg.getBatchSize()
          + ": " + nGeneral + " general, " + nDomain + " domain");
    }
    Random rng = new Random(cfg.getSeed());
    int[] general = shuffled(generalCount, rng);
    int[] domain = shuffled(domainCount, rng);
    List<BatchIndices> allBatches = new ArrayList<>();
    for (int b = 0; b < batches; b++) {
      BatchIndices.Builder bi = BatchIndices.newBuilder();
      for (int i = 0; i < cfg.getBatchSize(); i++) {
        bi.addGeneral(general[b * cfg.getBatchSize() + i]);
        bi.addDomain(domain[b * cfg.getBatchSize() + i]);
      }
      allBatches.add(bi.build());
    }
    List<LayerPartition> partitions = partitions(candidates, cfg.getPartitionBudgetBytes(),
        ShardCodec.statistics(cfg));
    List<WorkUnit> units = new ArrayList<>();
    for (LayerPartition p : partitions) {
      for (int start = 0; start < batches; start += cfg.getBatchesPerUnit()) {
        int end = Math.min(batches, start + cfg.getBatchesPerUnit());
        units.add(WorkUnit.newBuilder()
            .setUnitId(unitId(p.getIndex(), start))
            .setSessionId(cfg.getSessionId())
            .setPhase(Phase.STATISTICS)
            .setPartition(p.getIndex())
            .setBatchStart(start)
            .setBatchEnd(end)
            .addAllBatches(allBatches.subList(start, end))
            .addAllTensors(p.getTensorsList())
            .build());
      }
    }
    return new Plan(partitions, units, batches);
  }

  public static String unitId(int partition, int batchStart) {
    return String.format("p%03d-b%06d", partition, batchStart);
  }

  static List<LayerPartition> partitions(List<TensorSpec> tensors, long budgetBytes, List<Statistic> statistics) {
    if (budgetBytes <= 0) {
      throw new IllegalArgumentException("accumulator memory (partition budget) must be positive, got "
          + budgetBytes);
    }
    List<LayerPartition> out = new ArrayList<>();
    List<TensorSpec> current = new ArrayList<>();
    for (TensorSpec t : tensors) {
      current.add(t);
      // A tensor larger than the budget gets a partition of its own (tensors are never split).
      if (current.size() > 1 && partitionBytes(current, statistics) > budgetBytes) {
        current.remove(current.size() - 1);
        out.add(LayerPartition.newBuilder().setIndex(out.size()).addAllTensors(current).build());
        current = new ArrayList<>(List.of(t));
      }
    }
    out.add(LayerPartition.newBuilder().setIndex(out.size()).addAllTensors(current).build());
    return out;
  }

  public static long elements(TensorSpec t) {
    long n = 1;
    for (long d : t.getShapeList()) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  private static int limit(int count, int limit) {
    return limit > 0 ? Math.min(count, limit) : count;
  }

  private static int[] shuffled(int n, Random rng) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** Counts the triplets of a calibration file (a JSON array) without holding it in memory. */
  public static int countTriplets(Path file) {
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8); JsonReader json = new JsonReader(r)) {
      if (json.peek() != JsonToken.BEGIN_ARRAY) {
        throw new IllegalArgumentException("calibration file " + file + " is not a JSON array of triplets");
      }
      json.beginArray();
      int n = 0;
      while (json.hasNext()) {
        json.skipValue();
        n++;
      }
      json.endArray();
      return n;
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("calibration file not found: " + file, e);
    } catch (IOException | IllegalStateException e) {
      throw new IllegalArgumentException("cannot read calibration file " + file + ": " + e.getMessage(), e);
    }
  }
}
