package io.gaprune.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Output files that appear whole or not at all: written under a temporary name in the target's own folder (the
 * same file system, so the rename is one step) and renamed over the target at the end. A run that fails midway
 * leaves its earlier files and no half-written one; a reader never sees a truncated report.
 */
public final class AtomicFiles {

  private AtomicFiles() {}

  /** Where {@code target} is written before {@link #commit}: beside it, hidden, named after it. */
  public static Path temporary(Path target) {
    return target.resolveSibling("." + target.getFileName() + ".partial");
  }

  /** Renames {@code temporary} to {@code target}, replacing it: atomically where the file system can. */
  public static void commit(Path temporary, Path target) throws IOException {
    try {
      Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      // same folder, so this is rare (some network file systems): a plain rename still never shows a partial file
      Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Writes {@code text} as UTF-8 to {@code target} by way of {@link #temporary}. */
  public static void writeString(Path target, String text) throws IOException {
    var temporary = temporary(target);
    try {
      Files.writeString(temporary, text, StandardCharsets.UTF_8);
      commit(temporary, target);
    } finally {
      Files.deleteIfExists(temporary);
    }
  }

  /**
   * Removes a file or a folder with everything in it (links are removed, not followed); nothing when it does not
   * exist. Before a folder is written anew: a rename cannot replace a folder that has files in it.
   */
  public static void deleteTree(Path path) throws IOException {
    if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (var tree = Files.walk(path)) {
      for (var p : tree.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
