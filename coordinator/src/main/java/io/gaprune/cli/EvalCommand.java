package io.gaprune.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.GsonBuilder;
import io.gaprune.eval.BeirReader;
import io.gaprune.eval.RetrievalEvaluator;
import io.gaprune.model.ModelLoader;
import io.gaprune.model.TextTokenizer;
import java.io.PrintWriter;
import io.gaprune.progress.ConsoleProgress;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gaprune eval}: dense retrieval metrics of a model on a BEIR set, as one JSON line on stdout. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description = "Evaluates a model on a BEIR retrieval set (exact cosine search, top 100) and prints one JSON "
        + "line: ndcg@10, mrr@10, recall@10, recall@100, queries, corpus, seconds. Progress goes to stderr.")
public final class EvalCommand implements Callable<Integer> {

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "minilm|bge-small|PATH",
      description = "a short name of a bundled model or a Hugging Face checkpoint folder")
  String model;

  @Option(names = "--beir", required = true, paramLabel = "DIR",
      description = "BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv")
  Path beir;

  @Option(names = "--batch-size", defaultValue = "32", description = "texts per forward pass (default ${DEFAULT-VALUE})")
  int batchSize;

  @Option(names = "--max-length", defaultValue = "" + TextTokenizer.DEFAULT_MAX_LENGTH,
      description = "truncate texts to this many tokens (default ${DEFAULT-VALUE})")
  int maxLength;

  @Option(names = "--verbose", description = "print stack traces of errors")
  boolean verbose;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try {
      if (batchSize < 1 || maxLength < 2) {
        throw new IllegalArgumentException("--batch-size must be ≥ 1 and --max-length ≥ 2");
      }
      var data = BeirReader.read(beir, System.err);
      try (var manager = NDManager.newBaseManager();
          var loaded = ModelLoader.load(model, manager, DataType.FLOAT32, maxLength)) {
        System.err.println("eval: " + loaded.source() + " on " + beir + " (" + data.corpus().size()
            + " documents, " + data.qrels().size() + " judged queries)");
        var progress = new ConsoleProgress(System.err, ConsoleProgress.Mode.TEXT);
        var r = new RetrievalEvaluator(batchSize, progress).evaluate(loaded, data);
        var json = new LinkedHashMap<String, Object>();
        json.put("model", model);
        json.put("beir", beir.toString());
        json.put("ndcg@10", round(r.ndcg10()));
        json.put("mrr@10", round(r.mrr10()));
        json.put("recall@10", round(r.recall10()));
        json.put("recall@100", round(r.recall100()));
        json.put("queries", r.queries());
        json.put("corpus", r.corpus());
        json.put("truncated_queries", r.truncatedQueries());
        json.put("truncated_documents", r.truncatedDocuments());
        json.put("max_length", r.maxLength());
        json.put("seconds", Math.round(r.seconds() * 10) / 10.0);
        out.println(new GsonBuilder().disableHtmlEscaping().create().toJson(json));
        out.flush();
      }
      return 0;
    } catch (Exception e) {
      return Failure.report(spec, e, verbose);
    }
  }

  private static double round(double v) {
    return Math.round(v * 1e6) / 1e6;
  }
}
