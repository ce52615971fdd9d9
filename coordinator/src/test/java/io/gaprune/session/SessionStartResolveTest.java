package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.StatisticSet;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/** A start request's configuration completed and checked before any file is read, and why a layout failed. */
class SessionStartResolveTest {
  static SessionConfig request(String id) {
    return ClusterTestSupport.session(Path.of("g.json"), Path.of("d.json"), id);
  }

  @Test
  void theCoordinatorsModelCodeAndAnIdFillTheRequest() {
    SessionConfig cfg = SessionStart.resolve(request("").toBuilder().setPartitionBudgetBytes(0).build(), "hash",
        "v1", 1234, 36 * 36);
    assertEquals("s-100", cfg.getSessionId(), "an id made from the clock, base 36");
    assertEquals("hash", cfg.getModelHash());
    assertEquals("v1", cfg.getCodeVersion());
    assertEquals(1234, cfg.getPartitionBudgetBytes(), "the coordinator's accumulator memory when left at 0");
    assertTrue(cfg.getStatistics() != StatisticSet.STATISTIC_SET_UNSPECIFIED, "the scoring's statistics");
    assertEquals("mine", SessionStart.resolve(request("mine"), "h", "v", 1, 0).getSessionId());
  }

  @Test
  void aBadRequestIsRefusedByName() {
    var e = assertThrows(IllegalArgumentException.class,
        () -> SessionStart.resolve(request("../etc"), "h", "v", 1, 0));
    assertTrue(e.getMessage().startsWith("session id must be"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> SessionStart.resolve(request("ok").toBuilder().setBatchSize(1).build(), "h", "v", 1, 0));
  }

  @Test
  void aFailedLayoutSaysWhy() {
    assertEquals("its calibration files could not be read within 30 s",
        SessionStart.refusal(new TimeoutException(), Duration.ofSeconds(30)));
    assertEquals("no such file",
        SessionStart.refusal(new CompletionException(new IllegalStateException("no such file")), Duration.ZERO));
    assertEquals("bare", SessionStart.refusal(new IllegalStateException("bare"), Duration.ZERO));
  }
}
