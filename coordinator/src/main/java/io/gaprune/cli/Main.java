package io.gaprune.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code gaprune} command line: one subcommand per job. */
@Command(
    name = "gaprune",
    mixinStandardHelpOptions = true,
    version = "gaprune 0.1.0",
    description = "Domain-aware pruning of text-embedding models (GAPrune) on a Pekko cluster.",
    subcommands = {
      CommandLine.HelpCommand.class,
      RunCommand.class,
      CompareCommand.class,
      EvalCommand.class,
      SampleCommand.class,
      CoordinatorCommand.class,
      WorkerCommand.class,
      SessionCommand.class,
      BenchCommand.class
    })
public final class Main implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true).execute(args));
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
