package io.gaprune.pipeline;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * A small slice of a real BEIR set, for tests that evaluate several times: the first {@code queries} judged
 * queries, their relevant passages, and the corpus's first {@code extra} passages as distractors.
 */
final class SmallBeir {

  private SmallBeir() {}

  static Path slice(Path source, Path target, int queries, int extra) throws IOException {
    var qrels = Files.readAllLines(source.resolve("qrels/test.tsv"));
    var keptQrels = new ArrayList<String>();
    var queryIds = new LinkedHashSet<String>();
    var docIds = new HashSet<String>();
    keptQrels.add(qrels.get(0));
    for (var line : qrels.subList(1, qrels.size())) {
      var parts = line.split("\t");
      if (queryIds.size() >= queries && !queryIds.contains(parts[0])) {
        continue;
      }
      queryIds.add(parts[0]);
      docIds.add(parts[1]);
      keptQrels.add(line);
    }
    var corpus = new ArrayList<String>();
    int distractors = 0;
    for (var line : Files.readAllLines(source.resolve("corpus.jsonl"))) {
      String id = idOf(line);
      if (docIds.contains(id)) {
        corpus.add(line);
      } else if (distractors < extra) {
        corpus.add(line);
        distractors++;
      }
    }
    List<String> queryLines = Files.readAllLines(source.resolve("queries.jsonl")).stream()
        .filter(line -> queryIds.contains(idOf(line))).toList();
    Files.createDirectories(target.resolve("qrels"));
    Files.write(target.resolve("qrels/test.tsv"), keptQrels);
    Files.write(target.resolve("corpus.jsonl"), corpus);
    Files.write(target.resolve("queries.jsonl"), queryLines);
    return target;
  }

  private static String idOf(String jsonLine) {
    return com.google.gson.JsonParser.parseString(jsonLine).getAsJsonObject().get("_id").getAsString();
  }
}
