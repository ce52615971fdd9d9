package io.gaprune.cli;

import io.gaprune.pipeline.PruningPipeline;
import io.gaprune.planner.MethodSpec;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gaprune run}: the main job. */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    description = "Prunes a model for a domain: samples calibration triplets, computes gradient statistics in an "
        + "embedded session, plans and applies the masks, evaluates the dense and the pruned model, optionally "
        + "retrains with the masks fixed, and writes model/, masks.safetensors, report.json/.md/.html to --out.")
public final class RunCommand extends PipelineCommand implements Callable<Integer> {

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--scoring", defaultValue = MethodSpec.DEFAULT_SCORING,
      description = "dai-calibrated[:q=..:lambda=..:a=..:floor=..][:reconstruct=1|:adaptive=p], dai, dai-reference, "
          + "magnitude, fisher-domain, fisher-general, random, wanda[:n=2:m=4], sparsegpt[:n=2:m=4] (default ${DEFAULT-VALUE})")
  String scoring;

  @Override
  public Integer call() {
    try {
      quietLogs();
      var options = options(scoring);
      prepareOut(options);
      var report = new PruningPipeline(options, progress(), System.err).run();
      spec.commandLine().getOut().println(String.format(Locale.ROOT,
          "pruned %,d of %,d candidate weights (%.4f); model, masks and report in %s", report.pruned(),
          report.candidates(), report.sparsityActual(), out));
      return 0;
    } catch (Exception e) {
      return Failure.report(spec, e, verbose);
    }
  }
}
