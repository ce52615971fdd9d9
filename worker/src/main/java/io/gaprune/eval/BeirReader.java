package io.gaprune.eval;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads the BEIR layout: {@code corpus.jsonl} ({@code _id, title, text}), {@code queries.jsonl}
 * ({@code _id, text}) and {@code qrels/test.tsv} ({@code query-id corpus-id score} after a header line).
 * A malformed line is an error naming the file and line; qrels naming ids that are not in the corpus or the
 * queries are dropped with one warning that counts them (BEIR sets are often filtered that way), and counts the
 * queries that thereby lost every judgement: the metrics are means over the judged queries, so a set read with
 * fewer of them is a different set, and the pipeline puts the count into the report's warnings
 * ({@link BeirDataset#droppedQueries}).
 */
public final class BeirReader {

  private BeirReader() {}

  public static BeirDataset read(Path dir, PrintStream warnings) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IOException(dir + ": BEIR directory not found");
    }
    var corpus = readJsonl(dir.resolve("corpus.jsonl"), true);
    var queries = readJsonl(dir.resolve("queries.jsonl"), false);
    var qrelsFile = dir.resolve("qrels").resolve("test.tsv");
    var qrels = new LinkedHashMap<String, Map<String, Integer>>();
    int unknownQuery = 0;
    int unknownDoc = 0;
    var judgedQueries = new java.util.HashSet<String>();
    try (var reader = open(qrelsFile)) {
      String line = reader.readLine();
      if (line == null) {
        throw new IOException(qrelsFile + ": empty file (expected a header line 'query-id corpus-id score')");
      }
      int lineNo = 1;
      while ((line = reader.readLine()) != null) {
        lineNo++;
        if (line.isBlank()) {
          continue;
        }
        var f = line.split("\t");
        if (f.length != 3) {
          throw new IOException(qrelsFile + ":" + lineNo + ": expected 3 tab-separated fields (query-id corpus-id "
              + "score), got " + f.length + ": " + abbreviate(line));
        }
        int score;
        try {
          score = Integer.parseInt(f[2].strip());
        } catch (NumberFormatException e) {
          throw new IOException(qrelsFile + ":" + lineNo + ": score '" + f[2] + "' is not an integer");
        }
        judgedQueries.add(f[0]);
        if (!queries.containsKey(f[0])) {
          unknownQuery++;
        } else if (!corpus.containsKey(f[1])) {
          unknownDoc++;
        } else {
          qrels.computeIfAbsent(f[0], q -> new LinkedHashMap<>()).put(f[1], score);
        }
      }
    }
    int droppedQueries = judgedQueries.size() - qrels.size();
    if (unknownQuery + unknownDoc > 0) {
      warnings.printf("warning: %s: %d qrels name unknown queries and %d unknown documents; ignored, and %d of %d "
          + "judged queries lost every judgement (not evaluated)%n", qrelsFile, unknownQuery, unknownDoc,
          droppedQueries, judgedQueries.size());
    }
    if (qrels.isEmpty()) {
      throw new IOException(qrelsFile + ": no usable relevance judgements (" + unknownQuery + " name unknown queries, "
          + unknownDoc + " unknown documents)");
    }
    return new BeirDataset(dir, corpus, queries, qrels, unknownQuery + unknownDoc, droppedQueries);
  }

  private static Map<String, String> readJsonl(Path file, boolean withTitle) throws IOException {
    var out = new LinkedHashMap<String, String>();
    try (var reader = open(file)) {
      String line;
      int lineNo = 0;
      while ((line = reader.readLine()) != null) {
        lineNo++;
        if (line.isBlank()) {
          continue;
        }
        JsonObject o;
        try {
          JsonElement e = JsonParser.parseString(line);
          if (!e.isJsonObject()) {
            throw new IOException(file + ":" + lineNo + ": expected a JSON object, got " + abbreviate(line));
          }
          o = e.getAsJsonObject();
        } catch (JsonParseException e) {
          throw new IOException(file + ":" + lineNo + ": malformed JSON (" + e.getMessage() + "): "
              + abbreviate(line));
        }
        var id = string(o, "_id", file, lineNo, true);
        var text = string(o, "text", file, lineNo, true);
        if (withTitle) {
          var title = string(o, "title", file, lineNo, false);
          // MTEB's corpus_to_str: title and text joined by a space, stripped
          text = title == null || title.isEmpty() ? text.strip() : (title + " " + text).strip();
        }
        if (out.put(id, text) != null) {
          throw new IOException(file + ":" + lineNo + ": duplicate _id " + id);
        }
      }
    }
    if (out.isEmpty()) {
      throw new IOException(file + ": no records");
    }
    return out;
  }

  private static String string(JsonObject o, String field, Path file, int lineNo, boolean required)
      throws IOException {
    var e = o.get(field);
    if (e == null || e.isJsonNull()) {
      if (required) {
        throw new IOException(file + ":" + lineNo + ": missing field \"" + field + "\"");
      }
      return null;
    }
    if (!e.isJsonPrimitive()) {
      throw new IOException(file + ":" + lineNo + ": field \"" + field + "\" is not a string");
    }
    return e.getAsString();
  }

  private static BufferedReader open(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IOException(file + ": file not found");
    }
    return Files.newBufferedReader(file, StandardCharsets.UTF_8);
  }

  private static String abbreviate(String line) {
    return line.length() <= 80 ? line : line.substring(0, 77) + "...";
  }
}
