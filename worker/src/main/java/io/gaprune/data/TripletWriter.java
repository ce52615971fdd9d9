package io.gaprune.data;

import com.google.gson.stream.JsonWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/** Writes triplets in the reference implementation's format (a JSON array of query/positive/negative objects). */
public final class TripletWriter {

  private TripletWriter() {}

  /** Writes atomically: a reader never sees a half-written file. */
  public static void write(List<Triplet> triplets, Path file) {
    try {
      var parent = file.toAbsolutePath().getParent();
      Files.createDirectories(parent);
      var tmp = Files.createTempFile(parent, file.getFileName().toString(), ".tmp");
      try (var json = new JsonWriter(Files.newBufferedWriter(tmp, StandardCharsets.UTF_8))) {
        json.setIndent(" ");
        json.beginArray();
        for (var t : triplets) {
          json.beginObject();
          json.name("query").value(t.query());
          json.name("positive").value(t.positive());
          json.name("negative").value(t.negative());
          json.endObject();
        }
        json.endArray();
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write triplets to " + file + ": " + e.getMessage(), e);
    }
  }
}
