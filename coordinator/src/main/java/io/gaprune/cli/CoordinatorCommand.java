package io.gaprune.cli;

import io.gaprune.config.GapruneConfig;
import io.gaprune.session.CoordinatorNode;
import io.gaprune.session.StreamingDaiPlanner;
import io.gaprune.worker.ModelRuntime;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code gaprune coordinator --config FILE}: a coordinator node (session singleton, journal, HTTP front). */
@Command(name = "coordinator", mixinStandardHelpOptions = true,
    description = "Run a coordinator node: it hosts the session coordinator and the loopback HTTP front.")
public final class CoordinatorCommand implements Callable<Integer> {
  @Option(names = "--config", description = "HOCON file with the gaprune settings")
  Path config;

  @Override
  public Integer call() throws Exception {
    var cfg = GapruneConfig.load(config, null);
    ModelRuntime model = ModelRuntime.create(cfg);
    CoordinatorNode node = CoordinatorNode.start(cfg, model, List.of("coordinator"), new StreamingDaiPlanner());
    System.out.println("gaprune coordinator " + node.address() + " ready; HTTP on 127.0.0.1:" + node.httpPort());
    node.system().getWhenTerminated().toCompletableFuture().join();
    return 0;
  }
}
