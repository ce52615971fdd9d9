package io.gaprune.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TripletReaderTest {

  private static final Path DATA = Path.of(System.getProperty("gaprune.shared.data", "/work/shared/data"));

  @TempDir
  Path dir;

  @Test
  void readsTheSharedCalibrationFiles() {
    for (var domain : new String[] {"chem", "bio", "general"}) {
      var triplets = TripletReader.readAll(DATA.resolve(domain + "/train.json"));
      assertEquals(8000, triplets.size(), domain);
      for (var t : triplets) {
        assertFalse(t.query().isBlank() || t.positive().isBlank() || t.negative().isBlank(), domain);
      }
    }
    var first = TripletReader.readAll(DATA.resolve("chem/train.json")).get(0);
    assertEquals("tetrasulfocyanine(3-)", first.query());
    assertTrue(first.positive().startsWith("An organosulfonate oxoanion which is the trianion"));
  }

  @Test
  void readsTheReferenceExamples() {
    var chem = TripletReader.readAll(DATA.resolve("gaprune-example/chem-example.json"));
    assertFalse(chem.isEmpty());
    assertTrue(chem.get(0).query().startsWith("Instruct: Given a chemistry question"), chem.get(0).query());
    assertFalse(TripletReader.readAll(DATA.resolve("gaprune-example/general-example.json")).isEmpty());
  }

  @Test
  void jsonLinesGiveTheSameTriplets() throws IOException {
    var array = TripletReader.readAll(DATA.resolve("gaprune-example/chem-example.json"));
    var gson = new Gson();
    var lines = new ArrayList<String>();
    lines.add("");
    for (var t : array) {
      lines.add(gson.toJson(Map.of("query", t.query(), "positive", t.positive(), "negative", t.negative(),
          "id", 7)));
      lines.add("   ");
    }
    var file = write("chem.jsonl", String.join("\n", lines));
    assertEquals(array, TripletReader.readAll(file));
  }

  @Test
  void streamsLazily() throws IOException {
    // a bad second element is only met when reading reaches it
    var file = write("lazy.json", "[{\"query\":\"q\",\"positive\":\"p\",\"negative\":\"n\"}, 17]");
    try (var reader = TripletReader.open(file)) {
      assertEquals(new Triplet("q", "p", "n"), reader.next());
      var e = assertThrows(TripletFormatException.class, reader::next);
      assertEquals(file + ": element 2 (1-based, line 1): not a triplet: expected an object {\"query\", "
          + "\"positive\", \"negative\"}, found NUMBER", e.getMessage());
    }
  }

  @Test
  void emptyFiles() throws IOException {
    assertProblem(write("empty.json", ""), "empty file: expected a JSON array of triplets or JSON Lines");
    assertProblem(write("blank.jsonl", "  \n\n \t\n"), "empty file: expected a JSON array of triplets or JSON Lines");
    assertProblem(write("empty-array.json", " [ ]\n"), "no triplets: the array is empty");
  }

  @Test
  void notTriplets() throws IOException {
    assertProblem(write("number.json", "42"),
        "not triplets: expected a JSON array '[' or JSON Lines of objects '{', found '4'");
    assertProblem(write("strings.json", "[\"a\", \"b\"]"),
        "element 1 (1-based, line 1): not a triplet: expected an object {\"query\", \"positive\", \"negative\"},"
            + " found STRING");
    assertProblem(write("nested.jsonl", "{\"query\":\"q\",\"positive\":\"p\",\"negative\":\"n\"}\n[1]\n"),
        "line 2: not a triplet: expected an object {\"query\", \"positive\", \"negative\"}, found BEGIN_ARRAY");
    assertProblem(write("two.jsonl", "{\"query\":\"q\",\"positive\":\"p\",\"negative\":\"n\"} {}\n"),
        "line 1: malformed JSON: unexpected content at line 1 column 46");
  }

  @Test
  void missingAndNonStringFields() throws IOException {
    assertProblem(write("missing.json", "[\n {\"query\":\"q\",\"positive\":\"p\",\"negative\":\"n\"},\n"
        + " {\"query\":\"q\",\"negative\":\"n\"}\n]"), "element 2 (1-based, line 3): missing field \"positive\"");
    assertProblem(write("missing.jsonl", "{\"query\":\"q\",\"positive\":\"p\",\"negative\":\"n\"}\n\n"
        + "{\"query\":\"q\",\"positive\":\"p\"}\n"), "line 3: missing field \"negative\"");
    assertProblem(write("number.jsonl", "{\"query\":1,\"positive\":\"p\",\"negative\":\"n\"}"),
        "line 1: field \"query\" is NUMBER, expected a string");
    assertProblem(write("null.json", "[{\"query\":\"q\",\"positive\":null,\"negative\":\"n\"}]"),
        "element 1 (1-based, line 1): field \"positive\" is NULL, expected a string");
  }

  @Test
  void emptyTexts() throws IOException {
    assertProblem(write("empty-text.json", "[{\"query\":\"q\",\"positive\":\"p\",\"negative\":\"\"}]"),
        "element 1 (1-based, line 1): field \"negative\" is empty");
    assertProblem(write("blank-text.jsonl", "\n{\"query\":\"  \",\"positive\":\"p\",\"negative\":\"n\"}"),
        "line 2: field \"query\" is empty");
  }

  @Test
  void malformedJson() throws IOException {
    var e = assertProblem(write("broken.json", "[{\"query\":\"q\",\"positive\":\"p\",\"negative\":\"n\"},\n {\"query\": }]"),
        "malformed JSON at element 2 (1-based): ");
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    assertProblem(write("trailing.json", "[{\"query\":\"q\",\"positive\":\"p\",\"negative\":\"n\"}] [1]"),
        "malformed JSON at element 2 (1-based): unexpected content at line 1 column 48");
    assertProblem(write("cut.json", "[{\"query\":\"q\",\"positive\":\"p\",\"negative\":\"n\"},"),
        "malformed JSON at element 2 (1-based): ");
  }

  private TripletFormatException assertProblem(Path file, String problem) {
    var e = assertThrows(TripletFormatException.class, () -> TripletReader.readAll(file));
    assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
    assertTrue(e.getMessage().contains(problem), e.getMessage());
    return e;
  }

  private Path write(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content);
  }
}
