package io.gaprune.cli;

import io.gaprune.config.GapruneConfig;
import io.gaprune.worker.WorkerNode;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gaprune worker --config FILE --device D}: one worker process for one device. */
@Command(name = "worker", mixinStandardHelpOptions = true,
    description = "Run a worker for one device; it joins the cluster, registers with the coordinator and computes units.")
public final class WorkerCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--config", description = "HOCON file with the gaprune settings (seed nodes, model, ...)")
  Path config;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu, gpu:0, gpu:1, ... (default: ${DEFAULT-VALUE})")
  String device;

  @Override
  public Integer call() {
    if (!device.matches("cpu|gpu:\\d+")) {
      System.err.println("gaprune worker: --device must be cpu or gpu:N, not \"" + device + "\"");
      return 2;
    }
    try {
      var cfg = GapruneConfig.load(config, null);
      return new WorkerNode(cfg, device).run();
    } catch (IllegalArgumentException e) {
      // A configuration the worker refuses (file missing, unsafe management binding): one line, not a trace.
      return Failure.report(spec, e, false);
    }
  }
}
