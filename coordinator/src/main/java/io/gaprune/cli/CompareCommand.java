package io.gaprune.cli;

import io.gaprune.pipeline.PruningPipeline;
import io.gaprune.pipeline.PruningPoint;
import io.gaprune.planner.MethodSpec;
import io.gaprune.planner.Structure;
import io.gaprune.session.SessionRules;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gaprune compare}: every scoring method on the statistics of one session, side by side. */
@Command(
    name = "compare",
    mixinStandardHelpOptions = true,
    description = "Computes the statistics once, then prunes with each method at each sparsity and structure "
        + "(--sparsities, --structures) and evaluates it beside the dense model: dai, dai-reference, dai-calibrated, "
        + "magnitude, fisher-domain, fisher-general, random by default; wanda and sparsegpt (and any method's "
        + "variants, e.g. dai-calibrated:reconstruct=1 or dai-calibrated:adaptive=1) when --methods names them. "
        + "Writes the table to --out as report.json, report.md and report.html, and each method's masks to masks/.")
public final class CompareCommand extends PipelineCommand implements Callable<Integer> {

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--methods", split = ",", paramLabel = "METHOD[:KEY=VALUE...]",
      description = "methods to compare, comma-separated, each optionally with its own hyperparameters, e.g. "
          + "dai-calibrated:q=0.25:lambda=0, sparsegpt:n=2:m=4, dai-calibrated:budget=rows (its own budget in place of "
          + "--budget) (default: dai, dai-reference, dai-calibrated, "
          + "magnitude, fisher-domain, fisher-general, random with the run's hyperparameters)")
  List<String> methods = new ArrayList<>();

  @Option(names = "--sparsities", split = ",", paramLabel = "S",
      description = "several sparsities in one run, comma-separated (default: --sparsity)")
  List<Double> sparsities = new ArrayList<>();

  @Option(names = "--structures", split = ",", paramLabel = "STRUCTURE",
      description = "several structures in one run, comma-separated, e.g. unstructured,2:4: every method at every "
          + "sparsity of --sparsities for unstructured, and once per N:M (at 1 − N/M) (default: --structure)")
  List<String> structures = new ArrayList<>();

  @Option(names = "--no-dense",
      description = "skip the dense model's evaluation (the same in every run of one model and evaluation set; "
          + "useful when re-planning from --statistics in several runs)")
  boolean noDense;

  @Option(names = "--retrained-only",
      description = "with --retrain-steps: evaluate only the retrained models (the dense model retrained, unless "
          + "--no-dense, and every variant retrained), not the untrained ones, which a compare without "
          + "--retrain-steps on the same --statistics measures; each evaluation costs minutes")
  boolean retrainedOnly;

  @Override
  public Integer call() {
    try {
      quietLogs();
      var chosen = methods.isEmpty() ? PruningPipeline.COMPARED.stream().map(MethodSpec::of).toList()
          : methods.stream().map(MethodSpec::parse).toList();
      // checked here, where the option's name is known: PruningPoint speaks of --sparsity, run's option
      sparsities.forEach(s -> SessionRules.sparsity("--sparsities", s));
      var points = PruningPoint.of(
          (structures.isEmpty() ? List.of(structure) : structures).stream().map(Structure::parse).toList(),
          !sparsities.isEmpty() ? sparsities : sparsity != null ? List.of(sparsity) : List.of(), DEFAULT_SPARSITY);
      var options = options(chosen.get(0).method().cliName(), points.get(0));
      PruningPipeline.checkRetrainedOnly(!retrainedOnly, options.retrainSteps()); // before --out is made
      prepareOut(options);
      new PruningPipeline(options, progress(), System.err).compareAt(chosen, points, !noDense, !retrainedOnly);
      spec.commandLine().getOut().println(java.nio.file.Files.readString(out.resolve("report.md")));
      return 0;
    } catch (Exception e) {
      return Failure.report(spec, e, verbose);
    }
  }
}
