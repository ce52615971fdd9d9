package io.gaprune.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import io.gaprune.data.TripletReader;
import io.gaprune.data.TripletWriter;
import io.gaprune.progress.Progress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The statistics and masks of {@code run} do not depend on how many workers computed the statistics, nor on a
 * worker lost mid-session: the unit layout comes from the data alone, units fold in id order and every worker
 * computes with the lead's thread count, so one worker, three, and three with a child process killed with
 * {@code kill -9} while it holds a unit give the same bits.
 */
@Tag("slow")
class WorkerCountTest {

  @Test
  void statisticsAndMasksAreTheSameBitsWithOneWorkerThreeAndThreeWithOneKilled(@TempDir Path dir) throws Exception {
    var sample = Path.of(System.getProperty("gaprune.root", ".")).resolve("data/sample");
    // 64 + 64 triplets: 8 batches of 8, one per unit (PruningPipeline.UNITS), whatever the worker count
    var general = dir.resolve("general.json");
    var domain = dir.resolve("domain.json");
    TripletWriter.write(TripletReader.readAll(sample.resolve("general-train.json")).subList(0, 64), general);
    TripletWriter.write(TripletReader.readAll(sample.resolve("chem-train.json")).subList(0, 64), domain);

    // one and three save their statistics (every float64 of them, Σg included, to compare); the killed run
    // collects what dai-calibrated reads, the Fisher only, whose masks are the same
    run(dir.resolve("one"), general, domain, 1, false, true);
    run(dir.resolve("three"), general, domain, 3, false, true);
    run(dir.resolve("killed"), general, domain, 3, true, false);

    byte[] statistics = Files.readAllBytes(dir.resolve("one").resolve("statistics.safetensors"));
    assertArrayEquals(statistics, Files.readAllBytes(dir.resolve("three").resolve("statistics.safetensors")),
        "statistics with 3 workers differ from 1 worker's");
    byte[] masks = Files.readAllBytes(dir.resolve("one").resolve("masks.safetensors"));
    assertArrayEquals(masks, Files.readAllBytes(dir.resolve("three").resolve("masks.safetensors")),
        "masks with 3 workers differ from 1 worker's");
    assertArrayEquals(masks, Files.readAllBytes(dir.resolve("killed").resolve("masks.safetensors")),
        "masks with a worker killed mid-session differ from 1 worker's");
    for (var name : List.of("one", "three", "killed")) {
      var session = JsonParser.parseString(Files.readString(dir.resolve(name).resolve("report.json")))
          .getAsJsonObject().getAsJsonObject("session");
      assertEquals(8, session.get("units").getAsInt(), name);
      assertEquals(1, session.get("passes").getAsInt(), name + ": one pass over the data");
      assertEquals(name.equals("killed") ? "fisher" : "fisher_and_gradients", session.get("statistics").getAsString(),
          name + ": dai-calibrated reads no Σg; a saved statistics file keeps it for other scorings");
    }
  }

  private static void run(Path out, Path general, Path domain, int workers, boolean killOne, boolean save)
      throws Exception {
    var options = new PipelineOptions("minilm", general, domain, 0.5, "mlp", "dai-calibrated", "global", workers,
        0, List.of(), 0, 11, 32, 8, out, PipelineOptions.ScoringParameters.paper(), null, save);
    var killed = new AtomicBoolean();
    Thread killer = null;
    if (killOne) {
      // kill -9 the first child worker as soon as it holds a unit (its log says so)
      var log = out.resolve("work/logs/worker-1.log");
      killer = new Thread(() -> {
        long until = System.nanoTime() + 300_000_000_000L;
        while (System.nanoTime() < until && !killed.get()) {
          try {
            // bytes, not UTF-8: a child's log may hold native libraries' output
            if (Files.isRegularFile(log)
                && new String(Files.readAllBytes(log), StandardCharsets.ISO_8859_1).contains("leased unit")) {
              // the test JVM's only children are the session's worker processes (a command line as long as
              // the class path is not always readable through ProcessHandle.Info, so none is matched)
              ProcessHandle.current().children().filter(ProcessHandle::isAlive).findFirst()
                  .ifPresent(p -> killed.set(p.destroyForcibly()));
            }
            Thread.sleep(50);
          } catch (InterruptedException e) {
            return;
          } catch (Exception e) {
            // the log is being written: look again
          }
        }
      }, "worker-killer");
      killer.setDaemon(true);
      killer.start();
    }
    new PruningPipeline(options, Progress.SILENT, System.err).run();
    if (killer != null) {
      killer.join(1000);
      var log = out.resolve("work/logs/worker-1.log");
      assertTrue(killed.get(), "a child worker should have been killed while it held a unit; its log:\n"
          + (Files.isRegularFile(log) ? new String(Files.readAllBytes(log), StandardCharsets.ISO_8859_1) : "none"));
    }
  }
}
