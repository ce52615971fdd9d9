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

  @Option(names = "--parent-pid", hidden = true,
      description = "end this worker when that process ends (the embedded mode's child workers)")
  Long parentPid;

  @Override
  public Integer call() {
    if (!device.matches("cpu|gpu:\\d+")) {
      System.err.println("gaprune worker: --device must be cpu or gpu:N, not \"" + device + "\"");
      return 2;
    }
    if (parentPid != null) {
      exitWithParent(parentPid);
    }
    try {
      var cfg = GapruneConfig.load(config, null);
      // a worker whose node carries the merger role hosts merger groups (each incarnation of its cluster node)
      return new WorkerNode(cfg, device, io.gaprune.session.MergerEntity::init).run();
    } catch (IllegalArgumentException e) {
      // A configuration the worker refuses (file missing, unsafe management binding): one line, not a trace.
      return Failure.report(spec, e, false);
    }
  }

  /**
   * A child worker of an embedded session has no one else to stop it: whatever ends its parent (a normal end,
   * a crash, {@code kill -9}), the child exits too instead of retrying to reach a coordinator that is gone.
   */
  static void exitWithParent(long pid) {
    var parent = ProcessHandle.of(pid);
    if (parent.isEmpty() || !parent.get().isAlive()) {
      System.err.println("gaprune worker: parent process " + pid + " is not running; exiting");
      System.exit(4);
    }
    parent.get().onExit().thenRun(() -> {
      System.err.println("gaprune worker: parent process " + pid + " ended; exiting");
      Runtime.getRuntime().halt(4); // no shutdown hooks: the ActorSystem's would wait for the lost cluster
    });
  }
}
