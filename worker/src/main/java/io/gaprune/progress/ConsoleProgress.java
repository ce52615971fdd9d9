package io.gaprune.progress;

import com.google.gson.JsonObject;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Progress on a terminal (one line per phase, rate and time left, redrawn at most every
 * {@code intervalMillis}), as JSON lines for scripts, or nothing but notes.
 */
public final class ConsoleProgress implements Progress {

  public enum Mode {
    TEXT,
    JSON,
    QUIET
  }

  private final PrintStream out;
  private final Mode mode;
  private final long intervalMillis;
  private final LongSupplier clock;
  private String phase = "";
  private String unit = "";
  private long total = -1;
  private long done;
  private long startedAt;
  private long lastPrinted = Long.MIN_VALUE;
  private long lastPrintedDone = -1;

  public ConsoleProgress(PrintStream out, Mode mode, long intervalMillis, LongSupplier clockMillis) {
    this.out = out;
    this.mode = mode;
    this.intervalMillis = intervalMillis;
    this.clock = clockMillis;
  }

  public ConsoleProgress(PrintStream out, Mode mode) {
    this(out, mode, 2000, System::currentTimeMillis);
  }

  @Override
  public synchronized void begin(String phase, long total, String unit) {
    this.phase = phase;
    this.total = total;
    this.unit = unit;
    this.done = 0;
    this.startedAt = clock.getAsLong();
    this.lastPrinted = Long.MIN_VALUE;
    this.lastPrintedDone = -1;
    emit("begin");
  }

  @Override
  public synchronized void update(long done) {
    this.done = done;
    long now = clock.getAsLong();
    // Unchanged counts repeat only every 15 intervals: a slow unit shows it is alive without flooding the log.
    boolean due = lastPrinted == Long.MIN_VALUE || now - lastPrinted >= intervalMillis;
    boolean heartbeat = lastPrinted == Long.MIN_VALUE || now - lastPrinted >= 15 * intervalMillis;
    if (due && (done != lastPrintedDone || heartbeat)) {
      lastPrinted = now;
      lastPrintedDone = done;
      emit("progress");
    }
  }

  @Override
  public synchronized void end() {
    emit("end");
  }

  @Override
  public synchronized void note(String message) {
    if (mode == Mode.JSON) {
      var json = new JsonObject();
      json.addProperty("event", "note");
      json.addProperty("phase", phase);
      json.addProperty("message", message);
      out.println(json);
    } else {
      out.println(message);
    }
  }

  private void emit(String event) {
    if (mode == Mode.QUIET) {
      return;
    }
    double seconds = Math.max(1e-3, (clock.getAsLong() - startedAt) / 1000.0);
    double rate = done / seconds;
    double left = total > 0 && rate > 0 ? (total - done) / rate : Double.NaN;
    if (mode == Mode.JSON) {
      var json = new JsonObject();
      json.addProperty("event", event);
      json.addProperty("phase", phase);
      json.addProperty("done", done);
      json.addProperty("total", total);
      json.addProperty("unit", unit);
      json.addProperty("elapsed_s", round(seconds));
      json.addProperty("rate_per_s", round(rate));
      if (!Double.isNaN(left)) {
        json.addProperty("eta_s", round(left));
      }
      out.println(json);
      return;
    }
    String counts = total > 0
        ? String.format(Locale.ROOT, "%,d/%,d %s (%.0f%%)", done, total, unit, 100.0 * done / total)
        : String.format(Locale.ROOT, "%,d %s", done, unit);
    String tail = switch (event) {
      case "begin" -> "";
      case "end" -> String.format(Locale.ROOT, ", done in %s", duration(seconds));
      default -> String.format(Locale.ROOT, ", %s%s", rate(rate, unit),
          Double.isNaN(left) ? "" : ", " + duration(left) + " left");
    };
    out.println(String.format(Locale.ROOT, "[%s] %s%s", phase, counts, tail));
  }

  /** Per second, or per minute when slower than one a second (units of minutes of work read better so). */
  static String rate(double perSecond, String unit) {
    return perSecond >= 1 || perSecond == 0
        ? String.format(Locale.ROOT, "%.1f %s/s", perSecond, unit)
        : String.format(Locale.ROOT, "%.1f %s/min", perSecond * 60, unit);
  }

  private static double round(double value) {
    return Math.round(value * 100) / 100.0;
  }

  static String duration(double seconds) {
    long s = Math.round(seconds);
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
  }
}
