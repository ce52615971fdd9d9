package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.MergerStaged;
import io.gaprune.protocol.NodeBytes;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A unit's merge round: done only when every group of its partition holds it, never twice, given up when stuck. */
class MergeRoundsTest {
  static final String UNIT = "p000-b000000";

  static MergerStaged staged(String unit, int group, String node, long bytes) {
    return MergerStaged.newBuilder().setSessionId("s").setPartition(0).setGroup(group).setUnitId(unit)
        .setNode(node).setBytes(bytes).build();
  }

  @Test
  void aUnitIsDoneOnlyWhenEveryGroupHasStagedIt() {
    MergeRounds rounds = new MergeRounds();
    rounds.open(UNIT, "w1", 100, 0);
    assertInstanceOf(MergeRounds.Pending.class, rounds.staged(staged(UNIT, 0, "node-a", 40), 3));
    // the same group answering twice (a re-sent stage) is still one group
    assertInstanceOf(MergeRounds.Pending.class, rounds.staged(staged(UNIT, 0, "node-a", 40), 3));
    assertInstanceOf(MergeRounds.Pending.class, rounds.staged(staged(UNIT, 1, "node-b", 25), 3));
    assertTrue(rounds.contains(UNIT));

    var done = assertInstanceOf(MergeRounds.Everywhere.class, rounds.staged(staged(UNIT, 2, "node-b", 35), 3));
    assertFalse(rounds.contains(UNIT), "the round is over");
    assertEquals(List.of("w1"), done.waiting());
    var completed = done.completed();
    assertEquals(UNIT, completed.getUnitId());
    assertEquals("w1", completed.getWorkerRef());
    assertEquals(100, completed.getBytes(), "the bytes the worker offered, not what the groups pulled");
    assertEquals(List.of(bytes("node-a", 40), bytes("node-b", 60)), completed.getNodeBytesList(),
        "what each node pulled, summed over its groups");

    assertInstanceOf(MergeRounds.Stale.class, rounds.staged(staged(UNIT, 2, "node-b", 35), 3),
        "an answer after the round is over counts nothing");
  }

  static NodeBytes bytes(String node, long n) {
    return NodeBytes.newBuilder().setNode(node).setBytes(n).build();
  }

  @Test
  void aSecondOfferJoinsTheRoundInFlight() {
    MergeRounds rounds = new MergeRounds();
    assertFalse(rounds.join(UNIT, "w2"), "no round to join: the coordinator opens one");
    rounds.open(UNIT, "w1", 10, 0);
    assertTrue(rounds.join(UNIT, "w2"));
    assertTrue(rounds.join(UNIT, "w2"));
    assertTrue(rounds.join(UNIT, "w1"));
    var done = assertInstanceOf(MergeRounds.Everywhere.class, rounds.staged(staged(UNIT, 0, "n", 10), 1));
    assertEquals(List.of("w1", "w2"), done.waiting(), "each worker once, the first offer first");
    assertEquals("w1", done.completed().getWorkerRef());
  }

  @Test
  void anErrorFromAnyGroupEndsTheRound() {
    MergeRounds rounds = new MergeRounds();
    rounds.open(UNIT, "w1", 10, 0);
    rounds.join(UNIT, "w2");
    assertInstanceOf(MergeRounds.Pending.class, rounds.staged(staged(UNIT, 0, "n", 5), 2));
    var failed = assertInstanceOf(MergeRounds.Failed.class,
        rounds.staged(staged(UNIT, 1, "n", 0).toBuilder().setError("crc mismatch").build(), 2));
    assertEquals(List.of("w1", "w2"), failed.waiting());
    assertFalse(rounds.contains(UNIT));
    assertInstanceOf(MergeRounds.Stale.class, rounds.staged(staged(UNIT, 1, "n", 5), 2),
        "the next offer opens a new round; answers to this one count nothing");
  }

  @Test
  void roundsOpenTooLongAreGivenUp() {
    MergeRounds rounds = new MergeRounds();
    rounds.open("u1", "w1", 10, 0);
    rounds.open("u2", "w2", 10, 500);
    assertEquals(Map.of(), rounds.giveUpOlderThan(600, 600), "patience is a strict bound");
    assertEquals(Map.of("u1", List.of("w1")), rounds.giveUpOlderThan(1000, 600));
    assertEquals(java.util.Set.of("u2"), rounds.units());
    assertEquals(Map.of("u2", List.of("w2")), rounds.giveUpAll());
    assertTrue(rounds.units().isEmpty());
  }
}
