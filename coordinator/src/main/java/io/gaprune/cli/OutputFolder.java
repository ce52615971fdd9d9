package io.gaprune.cli;

import io.gaprune.report.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The rule for {@code run}'s and {@code compare}'s {@code --out}: a new or empty folder, so that the folder holds
 * one run's files and nothing else. A folder with files in it is refused unless {@code --force}, which removes
 * the files an earlier run wrote there before the run starts (so a run that fails midway leaves only its own
 * files, never a mix of old and new) and leaves every other file as it is; {@link #prepare} says which.
 */
final class OutputFolder {

  /** What {@code run} and {@code compare} write into their folder (files and folders). */
  static final Set<String> WRITTEN = Set.of("model", "masks", "masks.safetensors", "plan.json", "report.json",
      "report.md", "report.html", "calibration", "work", "statistics.safetensors");

  private OutputFolder() {}

  /**
   * Checks {@code out} before any work starts and, with {@code force}, removes an earlier run's files from it.
   *
   * @param option how the user named it ({@code --out})
   * @param inputs the run's input files and folders: an earlier run's file that is an input of this one (its
   *     {@code statistics.safetensors} given as {@code --statistics}) is kept
   * @return what {@code --force} did to a folder with files in it, one line for the user; empty when the folder
   *     is new or empty
   * @throws IllegalArgumentException when {@code out} is a file, or a folder with files in it without
   *     {@code force}, naming it and what to do
   */
  static String prepare(Path out, boolean force, String option, List<Path> inputs) {
    if (Files.exists(out) && !Files.isDirectory(out)) {
      throw new IllegalArgumentException(option + " " + out + " is a file, not a folder: give the folder the "
          + "run's files go to (new or empty)");
    }
    if (!Files.isDirectory(out)) {
      return "";
    }
    List<Path> entries;
    try (Stream<Path> list = Files.list(out)) {
      entries = list.sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(option + " " + out + " cannot be listed: " + e.getMessage(), e);
    }
    if (entries.isEmpty()) {
      return "";
    }
    if (!force) {
      throw new IllegalArgumentException(option + " " + out + " is not empty (" + names(entries) + "): give a "
          + "new or empty folder, or --force to replace the files of an earlier run there");
    }
    var replaced = new ArrayList<Path>();
    var kept = new ArrayList<Path>();
    for (var entry : entries) {
      boolean earlierOutput = WRITTEN.contains(entry.getFileName().toString());
      boolean input = inputs.stream().anyMatch(in -> in.toAbsolutePath().normalize()
          .startsWith(entry.toAbsolutePath().normalize()));
      (earlierOutput && !input ? replaced : kept).add(entry);
    }
    var done = "--force: " + out + " was not empty; removed an earlier run's "
        + (replaced.isEmpty() ? "(none)" : names(replaced)) + (kept.isEmpty() ? "" : "; kept " + names(kept));
    for (var entry : replaced) {
      try {
        AtomicFiles.deleteTree(entry);
      } catch (IOException e) {
        throw new UncheckedIOException("--force: cannot remove " + entry + ": " + e.getMessage(), e);
      }
    }
    return done;
  }

  /** The entries' names, folders with a slash, at most six of them. */
  private static String names(List<Path> entries) {
    var names = entries.stream().map(p -> p.getFileName() + (Files.isDirectory(p) ? "/" : "")).toList();
    return names.size() <= 6 ? String.join(", ", names)
        : String.join(", ", names.subList(0, 6)) + " and " + (names.size() - 6) + " more";
  }
}
