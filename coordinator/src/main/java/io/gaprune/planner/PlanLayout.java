package io.gaprune.planner;

import io.gaprune.model.LayerType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a plan decides before reading any data, from the tensor list and the configuration alone: the candidate
 * tensors in the fixed order, their layer groups, the selections (one for a global budget, one per group for a
 * uniform or OWL one) with their sizes and budgets, and the selection's digit width and collection cap. Every
 * participant of a distributed plan computes the same layout from the same checkpoint header and configuration,
 * so they agree on which selection each tensor feeds.
 */
public final class PlanLayout {

  private final List<TensorMeta> candidates;
  private final Map<String, String> groupOf;
  private final Map<String, Long> groupSizes;
  private final List<String> selectionNames;
  private final Map<String, Integer> selectionOfGroup;
  private final long[] sizes;
  private final long[] ks;
  private final int digitBits;
  private final int collectCap;
  private final List<String> warnings;
  private final Structure structure;
  private final long localK;
  private final double rowSparsity;

  private PlanLayout(List<TensorMeta> candidates, Map<String, String> groupOf, Map<String, Long> groupSizes,
      List<String> selectionNames, Map<String, Integer> selectionOfGroup, long[] sizes, long[] ks, int digitBits,
      int collectCap, List<String> warnings, Structure structure, long localK, double rowSparsity) {
    this.candidates = List.copyOf(candidates);
    this.groupOf = Map.copyOf(groupOf);
    this.groupSizes = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(groupSizes));
    this.selectionNames = List.copyOf(selectionNames);
    this.selectionOfGroup = Map.copyOf(selectionOfGroup);
    this.sizes = sizes;
    this.ks = ks;
    this.digitBits = digitBits;
    this.collectCap = collectCap;
    this.warnings = List.copyOf(warnings);
    this.structure = structure;
    this.localK = localK;
    this.rowSparsity = rowSparsity;
  }

  /**
   * @param all every tensor of the model in the source's fixed order
   * @throws IllegalArgumentException when there is no candidate, or a candidate is too large to hold
   */
  public static PlanLayout of(PlannerConfig config, List<TensorMeta> all) {
    var candidates = new ArrayList<TensorMeta>();
    var groupOf = new LinkedHashMap<String, String>();
    var groupSizes = new LinkedHashMap<String, Long>();
    for (var t : all) {
      if (LayerType.isCandidate(config.layerTypes(), t.name(), t.shape())) {
        if (t.size() > Integer.MAX_VALUE - 8) {
          throw new IllegalArgumentException("tensor " + t.name() + " has " + t.size()
              + " elements, more than one tensor in hand can hold");
        }
        candidates.add(t);
        String g = LayerType.group(t.name());
        groupOf.put(t.name(), g);
        groupSizes.merge(g, t.size(), Long::sum);
      }
    }
    if (candidates.isEmpty()) {
      throw new IllegalArgumentException("no candidate tensors: none of the " + all.size()
          + " tensors has 2+ dimensions and a name of layer type " + LayerType.describe(config.layerTypes())
          + " (valid types: " + LayerType.VALID + ")");
    }
    long n = groupSizes.values().stream().mapToLong(Long::longValue).sum();
    if (n == 0) {
      throw new IllegalArgumentException("the " + candidates.size() + " candidate tensors hold no weights (a zero "
          + "dimension): nothing to plan");
    }
    var warnings = new ArrayList<String>();
    var selectionNames = new ArrayList<String>();
    var selectionOfGroup = new LinkedHashMap<String, Integer>();
    long[] sizes;
    long[] ks;
    var structure = config.structure();
    long localK = 0; // pruned by tensors deciding alone (N:M, row budgets), outside any selection
    double rowSparsity = -1;
    if (!structure.unstructured()) {
      // N:M: (M − N) of every group of M, decided per group; no selection, no budget
      NmSelection.checkDivisible(structure, candidates);
      sizes = new long[0];
      ks = new long[0];
      localK = n / structure.m() * (structure.m() - structure.n());
    } else if (config.budget() == BudgetMode.ROWS) {
      // each tensor its own share, row by row; no selection
      sizes = new long[0];
      ks = new long[0];
      rowSparsity = config.sparsity();
      for (var t : candidates) {
        localK += RowSelection.budget(rowSparsity, t.size());
      }
    } else if (config.budget() == BudgetMode.GLOBAL) {
      selectionNames.add("global");
      groupSizes.keySet().forEach(g -> selectionOfGroup.put(g, 0));
      sizes = new long[] {n};
      ks = new long[] {Budgets.global(config.sparsity(), n)};
    } else if (config.budget() == BudgetMode.OWL) {
      sizes = groupSizes.values().stream().mapToLong(Long::longValue).toArray();
      ks = OwlBudgets.checkLayerBudgets(config.layerBudgets(), groupSizes, config.sparsity());
      groupSizes.keySet().forEach(g -> {
        selectionOfGroup.put(g, selectionNames.size());
        selectionNames.add(g);
      });
    } else {
      sizes = groupSizes.values().stream().mapToLong(Long::longValue).toArray();
      ks = Budgets.uniform(config.sparsity(), sizes, config.rhoMin(), config.rhoMax());
      int i = 0;
      for (String g : groupSizes.keySet()) {
        selectionNames.add(g);
        selectionOfGroup.put(g, i++);
      }
      double rho = Budgets.uniformRatio(config.sparsity(), config.rhoMin(), config.rhoMax());
      if (rho != config.sparsity()) {
        warnings.add("uniform budget: sparsity " + config.sparsity() + " clamped to [" + config.rhoMin() + ", "
            + config.rhoMax() + "] gives per-layer ratio " + rho);
      }
    }
    long totalK = localK;
    for (long k : ks) {
      totalK += k;
    }
    if (totalK == 0 && config.sparsity() > 0) {
      warnings.add("sparsity " + config.sparsity() + " of " + n + " candidates rounds down to 0 weights");
    }
    int active = 0;
    for (int i = 0; i < ks.length; i++) {
      if (ks[i] > 0 && ks[i] < sizes[i]) {
        active++;
      }
    }
    long perSelection = config.selectionMemoryBytes() / Math.max(1, active);
    // As wide a digit as the memory allows (up to 20 bits, 8 MiB): a wider first digit leaves a smaller bucket,
    // so a large model reaches the collection pass one histogram pass sooner; each pass re-scores the model.
    int digitBits = (int) Math.max(4, Math.min(20, 63 - Long.numberOfLeadingZeros(Math.max(1, perSelection / 8))));
    int collectCap = (int) Math.min(Integer.MAX_VALUE - 8, perSelection / 8);
    return new PlanLayout(candidates, groupOf, groupSizes, selectionNames, selectionOfGroup, sizes, ks, digitBits,
        collectCap, warnings, structure, localK, rowSparsity);
  }

  /** The sparsity pattern: unstructured (selections decide) or N:M (each group of M decides alone). */
  public Structure structure() {
    return structure;
  }

  public boolean structured() {
    return !structure.unstructured();
  }

  /** Whether each row of each tensor prunes its own share ({@link BudgetMode#ROWS}, unstructured only). */
  public boolean rowBudgets() {
    return rowSparsity >= 0;
  }

  /** Whether each tensor is decided alone as it is read (N:M or row budgets): no selection, no passes. */
  public boolean local() {
    return structured() || rowBudgets();
  }

  /** The weights tensor {@code t} prunes under row budgets. */
  public long rowBudget(TensorMeta t) {
    if (!rowBudgets()) {
      throw new IllegalStateException("not a plan with row budgets");
    }
    return RowSelection.budget(rowSparsity, t.size());
  }

  /** The candidate tensors in the fixed order (the order ties are broken by). */
  public List<TensorMeta> candidates() {
    return candidates;
  }

  /** Layer group → candidate weights in it, in the fixed order. */
  public Map<String, Long> groupSizes() {
    return groupSizes;
  }

  public String groupOf(TensorMeta t) {
    var g = groupOf.get(t.name());
    if (g == null) {
      throw new IllegalArgumentException("tensor " + t.name() + " is not a candidate of this plan");
    }
    return g;
  }

  /** The index of the selection a candidate's scores feed. */
  public int selectionOf(TensorMeta t) {
    return selectionOfGroup.get(groupOf(t));
  }

  public int selectionCount() {
    return ks.length;
  }

  public String selectionName(int i) {
    return selectionNames.get(i);
  }

  /** Candidate weights in selection {@code i}. */
  public long size(int i) {
    return sizes[i];
  }

  /** Weights selection {@code i} prunes. */
  public long k(int i) {
    return ks[i];
  }

  public long candidateWeights() {
    return groupSizes.values().stream().mapToLong(Long::longValue).sum();
  }

  public long prunedWeights() {
    long k = localK;
    for (long v : ks) {
      k += v;
    }
    return k;
  }

  /** Fresh selectors, one per selection. */
  public RadixSelector[] selectors() {
    var selectors = new RadixSelector[ks.length];
    for (int i = 0; i < ks.length; i++) {
      selectors[i] = new RadixSelector(sizes[i], ks[i], digitBits, collectCap);
    }
    return selectors;
  }

  /** What the layout itself warns about (a clamped uniform budget, a budget that rounds to nothing). */
  public List<String> warnings() {
    return warnings;
  }
}
