package io.gaprune.pipeline;

import io.gaprune.planner.Structure;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * One point {@code compare} plans every method at: unstructured at a sparsity, or an N:M structure (whose
 * sparsity is 1 − N/M). One compare run gives the table, e.g. {@code --sparsities 0.7 --structures
 * unstructured,2:4}: every method at 70% and at 2:4.
 *
 * @param structure the sparsity pattern
 * @param sparsity the share of candidate weights it prunes
 */
public record PruningPoint(Structure structure, double sparsity) {

  public PruningPoint {
    if (!(sparsity >= 0 && sparsity <= 1)) { // the words of PipelineOptions: a user gave it as an option
      throw new IllegalArgumentException("--sparsity must lie in [0, 1], got " + sparsity);
    }
    structure.sparsity(sparsity, sparsity); // N:M: only its own sparsity
  }

  /** How a variant names its point: the percentage for unstructured ({@code 70}), else the structure ({@code 2:4}). */
  public String label() {
    return structure.unstructured() ? String.format(Locale.ROOT, "%.0f", sparsity * 100) : structure.toString();
  }

  /**
   * The points of a compare run: each unstructured entry of {@code structures} at every requested sparsity (or
   * at {@code unstructuredDefault} when none was requested), each N:M entry once at 1 − N/M, in the order
   * written; duplicates are dropped. Sparsities requested with no unstructured entry must equal every N:M
   * entry's own, as for a single run.
   *
   * @param requested the sparsities asked for ({@code --sparsities}, or {@code --sparsity}); empty: none
   * @throws IllegalArgumentException for no structure, or a sparsity that applies to none of them
   */
  public static List<PruningPoint> of(List<Structure> structures, List<Double> requested,
      double unstructuredDefault) {
    if (structures.isEmpty()) {
      throw new IllegalArgumentException("compare needs at least one structure (unstructured, 2:4, ...)");
    }
    boolean anyUnstructured = structures.stream().anyMatch(Structure::unstructured);
    var points = new LinkedHashSet<PruningPoint>();
    for (var structure : structures) {
      if (structure.unstructured()) {
        for (double s : requested.isEmpty() ? List.of(unstructuredDefault) : requested) {
          points.add(new PruningPoint(structure, s));
        }
      } else {
        if (!anyUnstructured) {
          requested.forEach(s -> structure.sparsity(s, s));
        }
        points.add(new PruningPoint(structure, structure.sparsity()));
      }
    }
    return new ArrayList<>(points);
  }
}
