package io.gaprune.session;

import io.gaprune.protocol.LeaseReleased;
import io.gaprune.protocol.SessionEvent;
import io.gaprune.protocol.SessionFailed;
import io.gaprune.protocol.UnitsReopened;
import java.util.List;

/**
 * The coordinator's journal events, stamped with the wall clock when built (the session's start and end times,
 * a lease's since, come from these stamps). The ones written from several places have their own builder here.
 */
final class SessionEvents {
  private SessionEvents() {}

  static SessionEvent of(SessionEvent.Builder b) {
    return b.setAtMs(System.currentTimeMillis()).build();
  }

  static SessionEvent released(String unitId, SessionState.LeaseInfo lease, String reason) {
    return of(SessionEvent.newBuilder().setLeaseReleased(LeaseReleased.newBuilder().setUnitId(unitId)
        .setLeaseId(lease.leaseId()).setReason(reason)));
  }

  static SessionEvent reopened(List<String> units, String reason) {
    return of(SessionEvent.newBuilder().setUnitsReopened(UnitsReopened.newBuilder().addAllUnitIds(units)
        .setReason(reason)));
  }

  static SessionEvent failed(String reason) {
    return of(SessionEvent.newBuilder().setFailed(SessionFailed.newBuilder().setReason(reason)));
  }
}
