package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class WorkerThroughputTest {
  @Test
  void rateOverTheWindowTopsUpToExactCountsAndDecaysWhenSilent() {
    WorkerThroughput t = new WorkerThroughput();
    t.progress("w", "u1", 0, 0);
    t.progress("w", "u1", 16, 2_000);
    t.progress("w", "u1", 32, 4_000);
    assertEquals(32, t.total("w"));
    assertEquals(8.0, t.rate("w", 4_000), 1e-9);
    // The result carries the exact sample count: only the rest is added.
    t.completed("w", "u1", 40, 5_000);
    assertEquals(40, t.total("w"));
    assertEquals(8.0, t.rate("w", 5_000), 1e-9);
    // Offered again (no acknowledgement yet): nothing more.
    t.completed("w", "u1", 40, 5_500);
    assertEquals(40, t.total("w"));
    // A unit abandoned half way still counts the work done; a rate is measured up to now.
    t.progress("w", "u2", 8, 6_000);
    t.progress("w", "u3", 8, 7_000);
    assertEquals(56, t.total("w"));
    assertEquals(8.0, t.rate("w", 7_000), 1e-9);
    assertEquals(56.0 / 10, t.rate("w", 10_000), 1e-9);
    // Silent for longer than the window: 0, not its last speed.
    assertEquals(0.0, t.rate("w", 7_000 + WorkerThroughput.WINDOW_MS + 1), 1e-9);
    assertEquals(0.0, t.rate("unknown", 1_000), 1e-9);
    t.forget("w");
    assertEquals(0, t.total("w"));
  }

  @Test
  void noRateFromLessThanASecond() {
    WorkerThroughput t = new WorkerThroughput();
    t.progress("w", "u1", 0, 1_000);
    t.progress("w", "u1", 100, 1_500);
    assertEquals(0.0, t.rate("w", 1_900), 1e-9);
    assertEquals(100.0, t.rate("w", 2_000), 1e-9);
  }
}
