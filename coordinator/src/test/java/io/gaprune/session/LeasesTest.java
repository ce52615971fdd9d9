package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.SessionCancelled;
import io.gaprune.protocol.SessionEvent;
import io.gaprune.protocol.UnitLeased;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Which leases go out and which come back: offers, silence, workers and nodes gone, repeated failures. */
class LeasesTest {
  static final String U0 = "p000-b000000";
  static final String U1 = "p000-b000001";
  static final String W = "pekko://gaprune@10.0.0.1:2552/user/worker-0";

  static SessionState leased(String unit, String worker) {
    SessionState s = SessionStateTest.started(true);
    s.apply(SessionEvent.newBuilder().setUnitLeased(UnitLeased.newBuilder().setUnitId(unit).setLeaseId("l-" + unit)
        .setWorkerRef(worker)).build());
    return s;
  }

  @Test
  void aWorkerGetsItsOwnLeaseAgainThenTheFirstPendingUnit() {
    SessionState s = leased(U0, W);
    var again = assertInstanceOf(Leases.Again.class, Leases.offer(s, W, true, false, Set.of()));
    assertEquals(U0, again.unitId());
    assertEquals("l-" + U0, again.lease().leaseId());
    assertEquals(new Leases.Next(U1), Leases.offer(s, "other", true, false, Set.of()));
    assertEquals(new Leases.Next(U1), Leases.offer(s, W, true, false, Set.of(U0)),
        "a unit whose shards are merging is not handed out again");
  }

  @Test
  void noUnitForAWorkerUnknownDrainingOrWithoutASession() {
    SessionState s = SessionStateTest.started(true);
    assertEquals(new Leases.NoUnit("register first", false), Leases.offer(s, W, false, true, Set.of()));
    assertEquals(new Leases.NoUnit("drain requested", true), Leases.offer(s, W, true, true, Set.of()));
    s.apply(SessionEvent.newBuilder().setUnitLeased(UnitLeased.newBuilder().setUnitId(U0).setLeaseId("a")
        .setWorkerRef("x")).build());
    s.apply(SessionEvent.newBuilder().setUnitLeased(UnitLeased.newBuilder().setUnitId(U1).setLeaseId("b")
        .setWorkerRef("y")).build());
    assertEquals(new Leases.NoUnit("all units leased or done", false), Leases.offer(s, W, true, false, Set.of()));
    s.apply(SessionEvent.newBuilder().setCancelled(SessionCancelled.newBuilder().setReason("r")).build());
    assertEquals(new Leases.NoUnit("no running session", false), Leases.offer(s, W, true, false, Set.of()));
  }

  @Test
  void aLeaseSilentLongerThanTheTimeoutExpires() {
    SessionState s = leased(U0, W);
    Leases leases = new Leases();
    assertEquals(List.of(), leases.expired(s, Set.of(), 10_000, 500), "a lease without a clock starts one now");
    assertEquals(List.of(), leases.expired(s, Set.of(), 10_500, 500));
    leases.heard(U0, 10_400);
    assertEquals(List.of(), leases.expired(s, Set.of(U0), 99_000, 500), "its shards are merging");
    var expired = leases.expired(s, Set.of(), 11_000, 500);
    assertEquals(List.of(new Leases.Silent(U0, s.leased.get(U0), 600)), expired);
    assertEquals(List.of(), leases.expired(s, Set.of(), 11_000, 500), "its clock starts again");
  }

  @Test
  void theLeasesOfAWorkerOrNodeThatLeftGoBackExceptUnitsMerging() {
    SessionState s = leased(U0, W);
    s.apply(SessionEvent.newBuilder().setUnitLeased(UnitLeased.newBuilder().setUnitId(U1).setLeaseId("b")
        .setWorkerRef("pekko://gaprune@10.0.0.2:2552/user/worker-0")).build());
    assertEquals(List.of(U0), List.copyOf(Leases.heldBy(s, W::equals, Set.of()).keySet()));
    assertEquals(List.of(U0), List.copyOf(
        Leases.heldBy(s, w -> w.startsWith("pekko://gaprune@10.0.0.1:2552/"), Set.of()).keySet()));
    assertTrue(Leases.heldBy(s, W::equals, Set.of(U0)).isEmpty());
  }

  @Test
  void theThirdFailureOfOneUnitIsFatal() {
    SessionState s = leased(U0, W);
    Leases leases = new Leases();
    assertTrue(leases.failed(s, U1).isEmpty(), "not leased: an answer to a lease gone");
    assertFalse(leases.failed(s, U0).orElseThrow().fatal());
    assertFalse(leases.failed(s, U0).orElseThrow().fatal());
    var third = leases.failed(s, U0).orElseThrow();
    assertEquals(3, third.times());
    assertTrue(third.fatal());
    leases.clear();
    assertEquals(1, leases.failed(s, U0).orElseThrow().times(), "a new session counts anew");
  }
}
