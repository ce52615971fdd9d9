package io.gaprune.cli;

import io.gaprune.config.GapruneConfig;
import io.gaprune.session.CoordinatorNode;
import io.gaprune.session.AccumulatorPlanner;
import io.gaprune.worker.ModelRuntime;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gaprune coordinator --config FILE}: a coordinator node (session singleton, journal, operator API). */
@Command(name = "coordinator", mixinStandardHelpOptions = true,
    description = "Run a coordinator node: it hosts the session coordinator, the operator HTTP API and Pekko Management.")
public final class CoordinatorCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--config", description = "HOCON file with the gaprune settings")
  Path config;

  @Option(names = "--verbose", description = "print the stack trace of an error")
  boolean verbose;

  @Override
  public Integer call() {
    CoordinatorNode node;
    try {
      var cfg = GapruneConfig.load(config, null);
      // An unsafe operator binding is refused before the model loads (which takes a while for large ones).
      CoordinatorNode.checkOperatorAccess(cfg, List.of("coordinator"));
      ModelRuntime model = ModelRuntime.create(cfg);
      node = CoordinatorNode.start(cfg, model, List.of("coordinator"), new AccumulatorPlanner());
    } catch (Exception e) {
      return Failure.report(spec, e, verbose);
    }
    // Tests and scripts wait for "ready" on this line.
    System.out.println("gaprune coordinator " + node.address() + " ready; API on port " + node.httpPort()
        + (node.managementUri() == null ? "" : "; management on " + node.managementUri()));
    node.system().getWhenTerminated().toCompletableFuture().join();
    return 0;
  }
}
