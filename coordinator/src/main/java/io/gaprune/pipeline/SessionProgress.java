package io.gaprune.pipeline;

import io.gaprune.progress.Progress;
import io.gaprune.protocol.SessionStatus;

/**
 * Turns the coordinator's session statuses into a progress phase: units folded out of the total. Begins when
 * the first status with units arrives, so the partitioning time does not count against the rate.
 */
final class SessionProgress {

  private final Progress progress;
  private boolean begun;

  SessionProgress(Progress progress) {
    this.progress = progress;
  }

  void update(SessionStatus status) {
    if (status.getUnitsTotal() == 0) {
      return;
    }
    if (!begun) {
      begun = true;
      progress.begin("statistics", status.getUnitsTotal(), "units");
    }
    progress.update(status.getUnitsFolded());
  }

  void end() {
    if (begun) {
      progress.end();
    }
  }
}
