package io.gaprune.session;

import java.nio.file.Path;

/** A durable file (accumulator or staged shards) failed its integrity check: never used, always reported. */
public final class CorruptFileException extends RuntimeException {
  private final Path file;

  public CorruptFileException(Path file, String why) {
    super("corrupt file " + file + ": " + why + "; it is not used. Restore it from a backup, or delete the session"
        + " directory and start the session again");
    this.file = file;
  }

  public Path file() {
    return file;
  }
}
