package io.gaprune.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.planner.Structure;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The points a compare plans: sparsities for unstructured, one point per N:M structure. */
class PruningPointTest {

  private static final Structure U = Structure.UNSTRUCTURED;
  private static final Structure TWO_FOUR = Structure.parse("2:4");
  private static final Structure ONE_FOUR = Structure.parse("1:4");

  private static List<String> labels(List<PruningPoint> points) {
    return points.stream().map(PruningPoint::label).toList();
  }

  @Test
  void sparsitiesApplyToUnstructuredAndEachNmStructureIsOnePoint() {
    assertEquals(List.of(new PruningPoint(U, 0.5)), PruningPoint.of(List.of(U), List.of(), 0.5));
    var table = PruningPoint.of(List.of(U, TWO_FOUR, ONE_FOUR), List.of(0.5, 0.7), 0.5);
    assertEquals(List.of("50", "70", "2:4", "1:4"), labels(table));
    assertEquals(List.of(0.5, 0.7, 0.5, 0.75), table.stream().map(PruningPoint::sparsity).toList());
    // in the order written, duplicates once
    assertEquals(List.of("2:4", "70"), labels(PruningPoint.of(List.of(TWO_FOUR, U, TWO_FOUR, U), List.of(0.7), 0.5)));
    // N:M alone: no sparsity, or its own
    assertEquals(List.of("2:4"), labels(PruningPoint.of(List.of(TWO_FOUR), List.of(), 0.3)));
    assertEquals(List.of("2:4"), labels(PruningPoint.of(List.of(TWO_FOUR), List.of(0.5), 0.3)));
    assertEquals("33", new PruningPoint(U, 1.0 / 3).label());
  }

  @Test
  void aSparsityThatAppliesToNoStructureIsAnError() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> PruningPoint.of(List.of(TWO_FOUR), List.of(0.7), 0.5));
    assertTrue(e.getMessage().contains("sparsity 0.7 conflicts with structure 2:4"), e.getMessage());
    var mixed = assertThrows(IllegalArgumentException.class,
        () -> PruningPoint.of(List.of(TWO_FOUR, ONE_FOUR), List.of(0.5), 0.5));
    assertTrue(mixed.getMessage().contains("sparsity 0.5 conflicts with structure 1:4"), mixed.getMessage());
    var none = assertThrows(IllegalArgumentException.class, () -> PruningPoint.of(List.of(), List.of(0.5), 0.5));
    assertTrue(none.getMessage().contains("at least one structure"), none.getMessage());
    var range = assertThrows(IllegalArgumentException.class, () -> new PruningPoint(U, 1.2));
    assertTrue(range.getMessage().contains("--sparsity must lie in [0, 1], got 1.2"), range.getMessage());
    var notItsOwn = assertThrows(IllegalArgumentException.class, () -> new PruningPoint(TWO_FOUR, 0.7));
    assertTrue(notItsOwn.getMessage().contains("conflicts with structure 2:4"), notItsOwn.getMessage());
  }
}
