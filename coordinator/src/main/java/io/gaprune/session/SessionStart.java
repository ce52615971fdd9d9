package io.gaprune.session;

import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionStarted;
import io.gaprune.worker.ModelRuntime;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;

/**
 * What a start request becomes, in two steps: its configuration completed and checked, without I/O so the
 * coordinator refuses a bad request on its handler; then its layout (units, partitions, merger groups), which
 * reads the calibration files and so runs off the handler.
 */
final class SessionStart {
  private SessionStart() {}

  /**
   * The request's configuration as the session runs it: this coordinator's model and code, a session id (one
   * made from {@code nowMs} when the request has none), the statistics and partition budget it leaves open.
   *
   * @throws IllegalArgumentException naming the first setting that breaks its rule
   */
  static SessionConfig resolve(SessionConfig requested, String modelHash, String codeVersion, long accumulatorMemory,
      long nowMs) {
    SessionConfig cfg = requested.toBuilder()
        .setModelHash(modelHash)
        .setCodeVersion(codeVersion)
        .setSessionId(requested.getSessionId().isEmpty() ? "s-" + Long.toString(nowMs, 36) : requested.getSessionId())
        .build();
    if (!cfg.getSessionId().matches(SessionRules.SESSION_ID)) {
      throw new IllegalArgumentException("session id must be 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    // The rules the API and the CLI apply too (SessionRules): refused here, before any file is read.
    SessionRules.check(cfg, SessionRules.API);
    return Partitioner.resolve(cfg, accumulatorMemory);
  }

  /** The session's layout: counts the calibration files' triplets (blocking I/O), partitions, packs the groups. */
  static SessionStarted layout(SessionConfig cfg, ModelRuntime model, int mergerGroups) {
    int general = Partitioner.countTriplets(Path.of(cfg.getGeneralPath()));
    int domain = Partitioner.countTriplets(Path.of(cfg.getDomainPath()));
    var plan = Partitioner.plan(cfg, model.candidateTensors(cfg.getCandidates()), general, domain);
    var groups = TensorGroups.pack(plan.partitions(), mergerGroups);
    return SessionStarted.newBuilder().setConfig(cfg).addAllPartitions(plan.partitions())
        .addAllUnits(plan.units().stream().map(u -> TensorGroups.withGroups(u, groups)).toList())
        .addAllGroups(groups).build();
  }

  /** Why the layout failed, for the refusal the starter reads. */
  static String refusal(Throwable error, Duration startTimeout) {
    if (error instanceof TimeoutException) {
      return "its calibration files could not be read within " + startTimeout.toSeconds() + " s";
    }
    return String.valueOf((error instanceof CompletionException && error.getCause() != null
        ? error.getCause() : error).getMessage());
  }
}
