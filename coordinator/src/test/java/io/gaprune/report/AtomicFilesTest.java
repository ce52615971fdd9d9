package io.gaprune.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {

  /** The reports replace an earlier run's whole and leave no temporary file behind. */
  @Test
  void reportsReplaceEarlierOnesAndLeaveNoPartialFile(@TempDir Path dir) throws IOException {
    for (var name : new String[] {"report.json", "report.md", "report.html"}) {
      Files.writeString(dir.resolve(name), "an earlier run's " + name);
    }
    ReportWriter.write(ReportSamples.compare(), dir);
    for (var name : new String[] {"report.json", "report.md", "report.html"}) {
      assertFalse(Files.readString(dir.resolve(name)).contains("an earlier run's"), name);
    }
    try (var files = Files.list(dir)) {
      assertEquals(java.util.List.of("report.html", "report.json", "report.md"),
          files.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  /** A write that fails leaves the earlier file as it was and no temporary file. */
  @Test
  void aFailedWriteLeavesTheEarlierFile(@TempDir Path dir) throws IOException {
    var target = dir.resolve("plan.json");
    Files.writeString(target, "old");
    // the temporary name is taken by a folder with a file in it: writing it fails before the rename
    Files.createDirectories(AtomicFiles.temporary(target));
    Files.writeString(AtomicFiles.temporary(target).resolve("x"), "");
    assertThrows(IOException.class, () -> AtomicFiles.writeString(target, "new"));
    assertEquals("old", Files.readString(target));
    assertEquals(dir, AtomicFiles.temporary(target).getParent(), "beside the target: one file system, one rename");
  }

  @Test
  void deleteTreeRemovesAFolderWithItsFiles(@TempDir Path dir) throws IOException {
    var model = Files.createDirectories(dir.resolve("model/sub"));
    Files.writeString(model.resolve("w.safetensors"), "x");
    AtomicFiles.deleteTree(dir.resolve("model"));
    assertFalse(Files.exists(dir.resolve("model")));
    AtomicFiles.deleteTree(dir.resolve("model")); // absent: nothing to do
    assertTrue(Files.isDirectory(dir));
  }
}
