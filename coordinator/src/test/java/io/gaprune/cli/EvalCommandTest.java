package io.gaprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code gaprune eval} end to end on a small real-text BEIR set with the real MiniLM. */
class EvalCommandTest {

  @TempDir Path dir;

  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    var out = new StringWriter();
    var err = new StringWriter();
    var cli = new CommandLine(new Main()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
    int exit = cli.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  private void writeBeir() throws IOException {
    Files.writeString(dir.resolve("corpus.jsonl"), """
        {"_id": "d1", "title": "", "text": "Benzene is an aromatic hydrocarbon with a six-membered ring."}
        {"_id": "d2", "title": "", "text": "Glucose is a simple sugar with six carbon atoms."}
        {"_id": "d3", "title": "", "text": "The central bank raised interest rates."}
        {"_id": "d4", "title": "", "text": "Ethanol is a primary alcohol used as a solvent and a fuel."}
        """);
    Files.writeString(dir.resolve("queries.jsonl"), """
        {"_id": "q1", "text": "aromatic hydrocarbon ring"}
        {"_id": "q2", "text": "alcohol solvent"}
        """);
    Files.createDirectories(dir.resolve("qrels"));
    Files.writeString(dir.resolve("qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td4\t1\n");
  }

  @Test
  void printsOneJsonLineWithTheMetrics() throws IOException {
    writeBeir();
    var r = run("eval", "--model", "minilm", "--beir", dir.toString(), "--batch-size", "3");
    assertEquals(0, r.exit(), r.err());
    var lines = r.out().strip().split("\n");
    assertEquals(1, lines.length, r.out());
    var json = JsonParser.parseString(lines[0]).getAsJsonObject();
    for (var key : new String[] {"ndcg@10", "mrr@10", "recall@10", "recall@100", "queries", "corpus", "seconds"}) {
      assertTrue(json.has(key), key + " in " + lines[0]);
    }
    assertEquals(2, json.get("queries").getAsInt());
    assertEquals(4, json.get("corpus").getAsInt());
    assertEquals(1.0, json.get("mrr@10").getAsDouble(), "both queries find their passage first");
  }

  @Test
  void errorsGoToStderrWithoutStackTrace() {
    var r = run("eval", "--model", "minilm", "--beir", dir.resolve("missing").toString());
    assertEquals(1, r.exit());
    assertEquals("gaprune eval: " + dir.resolve("missing") + ": BEIR directory not found", r.err().strip());
    assertFalse(r.err().contains("\tat "));
    assertEquals("", r.out());
  }

  @Test
  void unknownModelIsNamed() throws IOException {
    writeBeir();
    var r = run("eval", "--model", "no-such-model", "--beir", dir.toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("no-such-model: not a known model name (minilm, bge-small) and no such directory"),
        r.err());
  }
}
