package io.gaprune.progress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ConsoleProgressTest {

  private final AtomicLong now = new AtomicLong(1_000_000);
  private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();

  private ConsoleProgress progress(ConsoleProgress.Mode mode) {
    return new ConsoleProgress(new PrintStream(buffer, true, StandardCharsets.UTF_8), mode, 1000, now::get);
  }

  private String[] lines() {
    return buffer.toString(StandardCharsets.UTF_8).strip().split("\n");
  }

  @Test
  void textShowsRateAndTimeLeftAndThrottles() {
    var p = progress(ConsoleProgress.Mode.TEXT);
    p.begin("statistics", 100, "triplets");
    now.addAndGet(10_000);
    p.update(25); // printed: first update
    now.addAndGet(100);
    p.update(26); // throttled
    now.addAndGet(10_000);
    p.update(50);
    p.end();
    String[] lines = lines();
    assertEquals(4, lines.length, String.join("\n", lines));
    assertEquals("[statistics] 0/100 triplets (0%)", lines[0]);
    assertEquals("[statistics] 25/100 triplets (25%), 2.5 triplets/s, 30s left", lines[1]);
    assertTrue(lines[2].startsWith("[statistics] 50/100 triplets (50%)"), lines[2]);
    assertTrue(lines[3].endsWith("done in 20s"), lines[3]);
  }

  @Test
  void anUnchangedCountRepeatsOnlyAsAHeartbeat() {
    var p = progress(ConsoleProgress.Mode.TEXT);
    p.begin("statistics", 4, "units");
    for (int i = 0; i < 10; i++) {
      now.addAndGet(1000);
      p.update(0); // first printed, the next nine are the same count within 15 intervals
    }
    now.addAndGet(6000);
    p.update(0); // 16 s after the last line: a heartbeat
    now.addAndGet(1000);
    p.update(1);
    assertEquals(4, lines().length, String.join("\n", lines()));
  }

  @Test
  void jsonLinesForScripts() {
    var p = progress(ConsoleProgress.Mode.JSON);
    p.begin("eval", 10, "queries");
    now.addAndGet(2000);
    p.update(5);
    p.note("3 texts truncated");
    String[] lines = lines();
    assertEquals(3, lines.length);
    var update = JsonParser.parseString(lines[1]).getAsJsonObject();
    assertEquals("progress", update.get("event").getAsString());
    assertEquals(5, update.get("done").getAsLong());
    assertEquals(2.5, update.get("rate_per_s").getAsDouble());
    assertEquals(2.0, update.get("eta_s").getAsDouble());
    assertEquals("note", JsonParser.parseString(lines[2]).getAsJsonObject().get("event").getAsString());
  }

  @Test
  void quietKeepsOnlyNotes() {
    var p = progress(ConsoleProgress.Mode.QUIET);
    p.begin("eval", 10, "queries");
    p.update(5);
    p.end();
    p.note("warning: 2 qrels name unknown ids");
    assertEquals("warning: 2 qrels name unknown ids", buffer.toString(StandardCharsets.UTF_8).strip());
  }

  @Test
  void slowWorkShowsARatePerMinute() {
    assertEquals("2.5 triplets/s", ConsoleProgress.rate(2.5, "triplets"));
    assertEquals("3.0 units/min", ConsoleProgress.rate(0.05, "units"));
  }

  @Test
  void durations() {
    assertEquals("59s", ConsoleProgress.duration(59));
    assertEquals("2m05s", ConsoleProgress.duration(125));
    assertEquals("1h01m", ConsoleProgress.duration(3660));
  }
}
