package io.gaprune.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.gaprune.eval.BeirReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Qrels naming what a set does not have never shrink the evaluated queries without a line in the report. */
class DroppedJudgementsTest {

  private static Path beir(Path dir, String qrels) throws IOException {
    Files.createDirectories(dir.resolve("qrels"));
    Files.writeString(dir.resolve("corpus.jsonl"), "{\"_id\": \"d1\", \"text\": \"benzene\"}\n"
        + "{\"_id\": \"d2\", \"text\": \"glucose\"}\n");
    Files.writeString(dir.resolve("queries.jsonl"), "{\"_id\": \"q1\", \"text\": \"a\"}\n"
        + "{\"_id\": \"q2\", \"text\": \"b\"}\n{\"_id\": \"q3\", \"text\": \"c\"}\n");
    Files.writeString(dir.resolve("qrels/test.tsv"), "query-id\tcorpus-id\tscore\n" + qrels);
    return dir;
  }

  @Test
  void lostQueriesAreCountedInTheReportsWarning(@TempDir Path dir) throws IOException {
    var quiet = new PrintStream(new ByteArrayOutputStream(), true);
    // q2's only document and q9 (no such query) are unknown: 2 of 4 judged queries are not evaluated
    var lossy = BeirReader.read(beir(dir.resolve("a"), "q1\td1\t1\nq2\td7\t1\nq3\td2\t1\nq9\td1\t1\nq1\td8\t1\n"),
        quiet);
    assertEquals("chem/dev: 3 qrels lines name a query or document that is not in the set and were ignored; 2 "
        + "queries lost every judgement, so the metrics are means over 2 of 4 judged queries",
        PruningPipeline.droppedJudgements("chem/dev", lossy));
    // a line dropped but every query kept: said too, with the count evaluated
    var kept = BeirReader.read(beir(dir.resolve("b"), "q1\td1\t1\nq1\td8\t1\nq2\td2\t1\n"), quiet);
    assertEquals("b: 1 qrels lines name a query or document that is not in the set and were ignored; every judged "
        + "query kept a judgement (all 2 evaluated)", PruningPipeline.droppedJudgements("b", kept));
    assertNull(PruningPipeline.droppedJudgements("c", BeirReader.read(beir(dir.resolve("c"), "q1\td1\t1\n"), quiet)));
  }
}
