package io.gaprune.data;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * Streams {@code {"query", "positive", "negative"}} triplets from either format the project reads: the
 * reference implementation's JSON array of objects, or JSON Lines (one object per line, blank lines
 * skipped). The format is told by the first non-blank character ({@code [} or <code>{</code>). Other fields of
 * an object are ignored.
 *
 * <p>Reading is lazy: one element at a time through Gson's {@link JsonReader}, so a file of any size needs
 * memory for one triplet. Every problem throws a {@link TripletFormatException} naming the file and the
 * element (counted from 1 as a user counts, the first element is "element 1 (1-based, line L)"; the same way
 * as lines are counted) or the line: not an array or object, a missing field, a field that is not
 * a string, an empty or blank text, an empty file, malformed JSON.
 */
public final class TripletReader implements Iterator<Triplet>, Closeable {

  private static final String[] FIELDS = {"query", "positive", "negative"};

  private final Path file;
  private final BufferedReader in;
  /** Array format: the reader over the whole file; null for JSON Lines. */
  private final JsonReader array;
  /** The triplet read ahead by {@link #hasNext()}, null when none is pending. */
  private Triplet next;
  private boolean finished;
  /** The array element about to be read, counted from 1 as a user counts (and as lines are). */
  private long element = 1;
  private long line;

  private TripletReader(Path file) throws IOException {
    this.file = file;
    this.in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
    try {
      int first = firstNonBlank();
      if (first == -1) {
        throw error("empty file: expected a JSON array of triplets or JSON Lines");
      }
      if (first == '[') {
        array = new JsonReader(in);
        array.beginArray();
      } else if (first == '{') {
        array = null;
      } else {
        throw error("not triplets: expected a JSON array '[' or JSON Lines of objects '{', found '"
            + Character.toString(first) + "'");
      }
      next = read();
      if (next == null) {
        throw error("no triplets: the " + (array != null ? "array is empty" : "file has only blank lines"));
      }
    } catch (RuntimeException | IOException e) {
      in.close();
      throw e;
    }
  }

  /** Opens a triplet file; the first triplet is read (and checked) here. */
  public static TripletReader open(Path file) {
    try {
      return new TripletReader(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read triplets from " + file + ": " + e.getMessage(), e);
    }
  }

  /** All triplets of a file, in order. */
  public static List<Triplet> readAll(Path file) {
    var all = new ArrayList<Triplet>();
    try (var reader = open(file)) {
      reader.forEachRemaining(all::add);
    }
    return all;
  }

  /** Reads the next element if none is pending: a bad element is reported when reading reaches it. */
  @Override
  public boolean hasNext() {
    if (next == null && !finished) {
      try {
        next = read();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read triplets from " + file + ": " + e.getMessage(), e);
      }
      finished = next == null;
    }
    return next != null;
  }

  @Override
  public Triplet next() {
    if (!hasNext()) {
      throw new NoSuchElementException("no more triplets in " + file);
    }
    var current = next;
    next = null;
    return current;
  }

  @Override
  public void close() {
    try {
      in.close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot close " + file, e);
    }
  }

  /** The next triplet, or null at the end. */
  private Triplet read() throws IOException {
    return array != null ? readElement() : readLine();
  }

  private Triplet readElement() throws IOException {
    try {
      if (!array.hasNext()) {
        array.endArray();
        if (array.peek() != JsonToken.END_DOCUMENT) {
          throw error("unexpected " + array.peek() + " after the array (" + location(array) + ")");
        }
        return null;
      }
      var where = "element " + element + " (1-based, " + location(array) + ")";
      var triplet = readObject(array, where);
      element++;
      return triplet;
    } catch (com.google.gson.stream.MalformedJsonException | java.io.EOFException | IllegalStateException e) {
      throw new TripletFormatException(file + ": malformed JSON at element " + element + " (1-based): " + gsonProblem(e), e);
    }
  }

  private Triplet readLine() throws IOException {
    String text;
    do {
      text = in.readLine();
      line++;
      if (text == null) {
        return null;
      }
    } while (text.isBlank());
    var where = "line " + line;
    try (var reader = new JsonReader(new StringReader(text))) {
      var triplet = readObject(reader, where);
      reader.peek(); // a second value on the line: strict Gson throws MalformedJsonException here
      return triplet;
    } catch (com.google.gson.stream.MalformedJsonException | java.io.EOFException | IllegalStateException e) {
      throw new TripletFormatException(file + ": " + where + ": malformed JSON: " + gsonProblem(e), e);
    }
  }

  private Triplet readObject(JsonReader reader, String where) throws IOException {
    var token = reader.peek();
    if (token != JsonToken.BEGIN_OBJECT) {
      throw error(where + ": not a triplet: expected an object {\"query\", \"positive\", \"negative\"}, found "
          + token);
    }
    var values = new String[FIELDS.length];
    reader.beginObject();
    while (reader.hasNext()) {
      var name = reader.nextName();
      int field = List.of(FIELDS).indexOf(name);
      if (field < 0) {
        reader.skipValue();
        continue;
      }
      var type = reader.peek();
      if (type != JsonToken.STRING) {
        throw error(where + ": field \"" + name + "\" is " + type + ", expected a string");
      }
      values[field] = reader.nextString();
      if (values[field].isBlank()) {
        throw error(where + ": field \"" + name + "\" is empty");
      }
    }
    reader.endObject();
    for (int i = 0; i < FIELDS.length; i++) {
      if (values[i] == null) {
        throw error(where + ": missing field \"" + FIELDS[i] + "\"");
      }
    }
    return new Triplet(values[0], values[1], values[2]);
  }

  /** "line L" of a reader's position (Gson keeps no public accessor for it). */
  private static String location(JsonReader reader) {
    var text = reader.toString();
    int at = text.indexOf("line ");
    int column = text.indexOf(" column ");
    return at >= 0 && column > at ? text.substring(at, column) : text;
  }

  /** Gson's message without its advice to switch to lenient parsing and its troubleshooting link. */
  private static String gsonProblem(Exception e) {
    var message = String.valueOf(e.getMessage());
    int link = message.indexOf("\nSee https://");
    if (link >= 0) {
      message = message.substring(0, link);
    }
    return message.replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON ", "unexpected content ");
  }

  private int firstNonBlank() throws IOException {
    in.mark(8);
    int c;
    while ((c = in.read()) != -1) {
      if (c == '\uFEFF' || Character.isWhitespace(c)) {
        if (c == '\n') {
          line++; // JSON Lines numbering counts the blank lines skipped here
        }
        in.mark(8);
        continue;
      }
      in.reset(); // leave the character for the JSON reader (array) or the line reader (JSON Lines)
      return c;
    }
    return -1;
  }

  private TripletFormatException error(String problem) {
    return new TripletFormatException(file + ": " + problem);
  }
}
