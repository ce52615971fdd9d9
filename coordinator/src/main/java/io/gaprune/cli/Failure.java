package io.gaprune.cli;

import picocli.CommandLine.Model.CommandSpec;

/** How a command reports an error: one line naming the command and the problem, the trace only if asked. */
final class Failure {

  private Failure() {}

  /** Prints {@code gaprune NAME: message} on the command's error stream and returns the exit code 1. */
  static int report(CommandSpec spec, Exception e, boolean verbose) {
    var err = spec.commandLine().getErr();
    err.println("gaprune " + spec.name() + ": " + (e.getMessage() != null ? e.getMessage() : e.toString()));
    if (verbose) {
      e.printStackTrace(err);
    }
    err.flush();
    return 1;
  }
}
