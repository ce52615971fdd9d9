package io.gaprune.progress;

/**
 * Where long work reports how far it got. Implementations decide how often and how to show it; callers
 * report every step without worrying about cost.
 */
public interface Progress {

  /** A new phase begins, with {@code total} units of {@code unit} (e.g. "triplets"), or -1 if unknown. */
  void begin(String phase, long total, String unit);

  /** {@code done} units of the current phase are finished (cumulative, not an increment). */
  void update(long done);

  /** The current phase is over. */
  void end();

  /** A message worth a line of its own (a warning, a retry). */
  void note(String message);

  /** Reports nothing; for tests and library use. */
  Progress SILENT = new Progress() {
    @Override
    public void begin(String phase, long total, String unit) {}

    @Override
    public void update(long done) {}

    @Override
    public void end() {}

    @Override
    public void note(String message) {}
  };
}
