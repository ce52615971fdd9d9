package io.gaprune.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BeirReaderTest {

  @TempDir Path dir;

  private void write(String corpus, String queries, String qrels) throws IOException {
    Files.writeString(dir.resolve("corpus.jsonl"), corpus);
    Files.writeString(dir.resolve("queries.jsonl"), queries);
    Files.createDirectories(dir.resolve("qrels"));
    Files.writeString(dir.resolve("qrels/test.tsv"), qrels);
  }

  private static final String CORPUS = """
      {"_id": "d1", "title": "Benzene", "text": "An aromatic hydrocarbon."}
      {"_id": "d2", "title": "", "text": "A six-carbon sugar."}
      """;
  private static final String QUERIES = """
      {"_id": "q1", "text": "benzene"}
      {"_id": "q2", "text": "glucose"}
      """;

  @Test
  void readsCorpusQueriesAndQrelsAndWarnsAboutUnknownIds() throws IOException {
    write(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\nq9\td1\t1\nq1\td9\t1\nq2\td7\t1\n");
    var warnings = new ByteArrayOutputStream();
    var data = BeirReader.read(dir, new PrintStream(warnings, true));
    assertEquals("Benzene An aromatic hydrocarbon.", data.corpus().get("d1"));
    assertEquals("A six-carbon sugar.", data.corpus().get("d2"));
    assertEquals(Map.of("q1", Map.of("d1", 2), "q2", Map.of("d2", 1)), data.qrels());
    assertEquals(3, data.droppedQrels());
    assertTrue(warnings.toString().contains("1 qrels name unknown queries and 2 unknown documents"), warnings.toString());
    // q9 is not in queries.jsonl: its judgements exist, its text does not, so it is one judged query fewer
    assertEquals(1, data.droppedQueries());
    assertTrue(warnings.toString().contains("1 of 3 judged queries lost every judgement"), warnings.toString());
  }

  /**
   * A query whose every judged document is missing from the corpus is not evaluated: the count says so, so that
   * a metric over fewer queries than the set judges never passes for the set's (the pipeline reports it).
   */
  @Test
  void aQueryWhoseDocumentsAreAllUnknownIsCountedAsDropped() throws IOException {
    write(CORPUS, QUERIES + "{\"_id\": \"q3\", \"text\": \"ethanol\"}\n",
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq3\td8\t1\nq3\td9\t2\n");
    var warnings = new ByteArrayOutputStream();
    var data = BeirReader.read(dir, new PrintStream(warnings, true));
    assertEquals(Map.of("q1", Map.of("d1", 1)), data.qrels());
    assertEquals(2, data.droppedQrels());
    assertEquals(1, data.droppedQueries());
    assertTrue(warnings.toString().contains("0 qrels name unknown queries and 2 unknown documents; ignored, and 1 of 2 "
        + "judged queries lost every judgement"), warnings.toString());
  }

  @Test
  void malformedJsonNamesFileAndLine() throws IOException {
    write(CORPUS + "{\"_id\": \"d3\", \"text\": \"unterminated}\n", QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
    var e = assertThrows(IOException.class, () -> BeirReader.read(dir, System.err));
    assertTrue(e.getMessage().startsWith(dir.resolve("corpus.jsonl") + ":3: malformed JSON"), e.getMessage());
  }

  @Test
  void missingFieldNamesFileLineAndField() throws IOException {
    write(CORPUS, "{\"_id\": \"q1\"}\n", "query-id\tcorpus-id\tscore\n");
    var e = assertThrows(IOException.class, () -> BeirReader.read(dir, System.err));
    assertEquals(dir.resolve("queries.jsonl") + ":1: missing field \"text\"", e.getMessage());
  }

  @Test
  void badQrelsLinesNameFileAndLine() throws IOException {
    write(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2 d2 1\n");
    var e = assertThrows(IOException.class, () -> BeirReader.read(dir, System.err));
    assertTrue(e.getMessage().startsWith(dir.resolve("qrels/test.tsv") + ":3: expected 3 tab-separated fields"),
        e.getMessage());
    write(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\thigh\n");
    e = assertThrows(IOException.class, () -> BeirReader.read(dir, System.err));
    assertEquals(dir.resolve("qrels/test.tsv") + ":2: score 'high' is not an integer", e.getMessage());
  }

  @Test
  void missingFilesAreNamed() throws IOException {
    var e = assertThrows(IOException.class, () -> BeirReader.read(dir.resolve("nope"), System.err));
    assertEquals(dir.resolve("nope") + ": BEIR directory not found", e.getMessage());
    Files.writeString(dir.resolve("corpus.jsonl"), CORPUS);
    e = assertThrows(IOException.class, () -> BeirReader.read(dir, System.err));
    assertEquals(dir.resolve("queries.jsonl") + ": file not found", e.getMessage());
  }
}
