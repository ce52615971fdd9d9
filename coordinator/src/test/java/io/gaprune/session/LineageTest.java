package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.MergerFolded;
import io.gaprune.protocol.MergerHeld;
import io.gaprune.protocol.SessionEvent;
import io.gaprune.protocol.UnitsFolded;
import io.gaprune.worker.ShardCodec;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What the merger groups' answers decide (docs/cluster.md, "Lineage"), on a session of two units over one
 * partition cut into two groups: folded only where every group folded, done units a group lacks reopened.
 */
class LineageTest {
  static final String U0 = "p000-b000000";
  static final String U1 = "p000-b000001";

  static MergerFolded folded(int group, List<String> applied, List<String> missing) {
    return MergerFolded.newBuilder().setSessionId("s").setPartition(0).setGroup(group).addAllApplied(applied)
        .addAllMissing(missing).build();
  }

  static MergerHeld held(int group, List<String> applied, List<String> staged) {
    return MergerHeld.newBuilder().setSessionId("s").setPartition(0).setGroup(group).addAllApplied(applied)
        .addAllStaged(staged).build();
  }

  static List<SessionEvent.EventCase> cases(List<SessionEvent> events) {
    return events.stream().map(SessionEvent::getEventCase).toList();
  }

  static SessionState bothDone() {
    SessionState s = SessionStateTest.started(true);
    s.apply(SessionStateTest.completed(U0, 10));
    s.apply(SessionStateTest.completed(U1, 10));
    return s;
  }

  @Test
  void aUnitCountsFoldedOnlyWhenEveryGroupOfItsPartitionHoldsIt() {
    SessionState s = bothDone();
    Lineage lineage = new Lineage();
    assertEquals(new Lineage.FoldFindings(0, 0, List.of(), List.of()),
        lineage.folded(s, folded(0, List.of(U0, U1), List.of())), "group 1 has not answered yet");
    var found = lineage.folded(s, folded(1, List.of(U0), List.of()));
    assertEquals(new Lineage.FoldFindings(0, 1, List.of(), List.of(U0)), found);
    assertEquals(List.of(SessionEvent.EventCase.UNITS_FOLDED), cases(found.events()));
    assertEquals(List.of(U0), found.events().get(0).getUnitsFolded().getUnitIdsList());

    s.apply(SessionEvent.newBuilder().setUnitsFolded(UnitsFolded.newBuilder().setPartition(0).addUnitIds(U0)).build());
    assertEquals(new Lineage.FoldFindings(0, 1, List.of(), List.of(U1)),
        lineage.folded(s, folded(1, List.of(U0, U1), List.of())), "a unit recorded folded is not recorded again");
  }

  @Test
  void aDoneUnitAGroupDoesNotHoldIsReopened() {
    SessionState s = SessionStateTest.started(true);
    s.apply(SessionStateTest.completed(U0, 10));
    Lineage lineage = new Lineage();
    lineage.folded(s, folded(0, List.of(U0), List.of()));
    var found = lineage.folded(s, folded(1, List.of(), List.of(U0, U1)));
    assertEquals(List.of(U0), found.lost(), "only units counted done are reopened; U1 is simply not there yet");
    assertEquals(List.of(), found.folded());
    assertEquals(List.of(SessionEvent.EventCase.UNITS_REOPENED), cases(found.events()));
    assertEquals(List.of(U0), found.events().get(0).getUnitsReopened().getUnitIdsList());
  }

  @Test
  void aScanCompletesUnitsDurableEverywhereAndReopensDoneUnitsAGroupLost() {
    SessionState s = SessionStateTest.started(true);
    s.apply(SessionStateTest.completed(U0, 10));
    Lineage lineage = new Lineage();
    assertFalse(lineage.scanning());
    lineage.scanSent(s, 1000);
    assertTrue(lineage.scanning());
    assertTrue(lineage.held(s, held(0, List.of(U0), List.of(U1))).isEmpty(), "group 1 has not answered");
    assertTrue(lineage.held(s, held(0, List.of(U0), List.of(U1))).isEmpty(), "one group answering twice is one");
    assertEquals(1, lineage.scanAnswers());

    // group 1's node was lost: its new owner has U1 staged (pulled just before the crash) but not U0
    var found = lineage.held(s, held(1, List.of(), List.of(U1))).orElseThrow();
    assertFalse(lineage.scanning(), "the scan is over");
    assertEquals(List.of(U0), found.lost());
    assertEquals(1, found.durable().size());
    var recovered = found.durable().get(0);
    assertEquals(U1, recovered.getUnitId());
    assertEquals(SessionState.RECOVERED, recovered.getWorkerRef());
    // two 4×4 tensors; a journal without statistics carries all four sums
    assertEquals(2 * 16 * 4 * ShardCodec.VALUE_BYTES, recovered.getBytes());
    assertEquals(List.of(SessionEvent.EventCase.UNIT_COMPLETED, SessionEvent.EventCase.UNITS_REOPENED),
        cases(found.events()));
  }

  @Test
  void aUnitDoneAfterTheScanWasSentProvesNothing() {
    SessionState s = SessionStateTest.started(true);
    Lineage lineage = new Lineage();
    lineage.scanSent(s, 0);
    // U0 is staged by both groups after they answered the scan, and counted done before the last answer came
    lineage.held(s, held(0, List.of(), List.of()));
    s.apply(SessionStateTest.completed(U0, 10));
    var found = lineage.held(s, held(1, List.of(), List.of())).orElseThrow();
    assertEquals(List.of(), found.lost());
    assertEquals(List.of(), found.durable());
    assertEquals(List.of(), found.events(), "nothing to persist");
  }

  @Test
  void aScanUnansweredTooLongIsOverdue() {
    SessionState s = SessionStateTest.started(true);
    Lineage lineage = new Lineage();
    assertFalse(lineage.scanOverdue(10_000, 100), "no scan running");
    lineage.scanSent(s, 1000);
    assertFalse(lineage.scanOverdue(1100, 100));
    assertTrue(lineage.scanOverdue(1101, 100));
    lineage.clear();
    assertFalse(lineage.scanning());
  }

  @Test
  void foldOrderStopsAtTheFirstUnitNotDone() {
    SessionState s = SessionStateTest.started(true);
    s.apply(SessionStateTest.completed(U1, 10));
    assertEquals(List.of(), Lineage.foldOrder(s, 0), "U1 waits for U0 in every group");
    s.apply(SessionStateTest.completed(U0, 10));
    assertEquals(List.of(U0, U1), Lineage.foldOrder(s, 0));
    assertEquals(List.of(), Lineage.foldOrder(s, 7), "a partition the session does not have");
  }
}
