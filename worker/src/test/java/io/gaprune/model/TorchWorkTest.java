package io.gaprune.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.gaprune.stats.ProcessAutograd;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class TorchWorkTest {

  @Test
  @Timeout(30)
  void stopWaitsForTheSectionInFlightAndLetsNoneBegin() throws Exception {
    var work = new TorchWork();
    var release = new CountDownLatch(1);
    var inFlight = daemon(() -> {
      try (var section = work.begin()) {
        await(release);
      }
    });
    waitUntil(() -> work.sectionsInFlight() == 1);
    var stop = CompletableFuture.supplyAsync(() -> work.stop(Duration.ofSeconds(20)));
    Thread.sleep(300);
    assertFalse(stop.isDone(), "the stop returned while a section ran");

    release.countDown();
    assertTrue(stop.get(10, TimeUnit.SECONDS), "the stop reports the section ended in time");
    inFlight.join(5000);

    var late = new CountDownLatch(1);
    daemon(() -> {
      work.begin();
      late.countDown();
    });
    assertFalse(late.await(500, TimeUnit.MILLISECONDS), "a section began after the stop");
  }

  @Test
  @Timeout(30)
  void aSectionInFlightMayNestWhileTheStopWaits() throws Exception {
    var work = new TorchWork();
    var stopWaiting = new CountDownLatch(1);
    var nested = new CountDownLatch(1);
    daemon(() -> {
      try (var outer = work.begin()) {
        await(stopWaiting);
        try (var inner = work.begin()) {
          nested.countDown();
        }
      }
    });
    waitUntil(() -> work.sectionsInFlight() == 1);
    var stop = CompletableFuture.supplyAsync(() -> work.stop(Duration.ofSeconds(20)));
    Thread.sleep(200);
    stopWaiting.countDown();
    assertTrue(nested.await(5, TimeUnit.SECONDS), "the step in flight could not enter a nested section");
    assertTrue(stop.get(10, TimeUnit.SECONDS));
  }

  @Test
  @Timeout(30)
  void sectionsRunConcurrently() throws Exception {
    var work = new TorchWork();
    var both = new CountDownLatch(2);
    var release = new CountDownLatch(1);
    for (int i = 0; i < 2; i++) {
      daemon(() -> {
        try (var section = work.begin()) {
          both.countDown();
          await(release);
        }
      });
    }
    assertTrue(both.await(5, TimeUnit.SECONDS), "two sections could not run at once");
    release.countDown();
  }

  @Test
  @Timeout(30)
  void theStopGivesUpAfterItsWait() throws Exception {
    var work = new TorchWork();
    var release = new CountDownLatch(1);
    daemon(() -> {
      try (var section = work.begin()) {
        await(release);
      }
    });
    waitUntil(() -> work.sectionsInFlight() == 1);
    long start = System.nanoTime();
    assertFalse(work.stop(Duration.ofMillis(300)), "the stop claims the section ended");
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "the stop waited past its limit");
    release.countDown();
  }

  /**
   * The crash this guards against, in a real process: SIGTERM while training steps run. Without the sections
   * (the loop's "ungated" mode) the JVM's exit runs libtorch's static destructors under a backward pass and
   * the process dies of SIGSEGV with an hs_err report; with them it exits as a terminated process does, 143.
   */
  @Test
  @Timeout(180)
  void sigtermDuringTrainingStepsExitsCleanly(@TempDir Path dir) throws Exception {
    for (int attempt = 0; attempt < 3; attempt++) {
      var log = dir.resolve("loop-" + attempt + ".log");
      var process = startLoop(dir, log, "gated");
      try {
        waitForLine(log, "looping", Duration.ofSeconds(60), process);
        Thread.sleep(200 + 150L * attempt);
        process.destroy(); // SIGTERM
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the process did not exit within 60 s of SIGTERM");
        String output = Files.readString(log);
        assertEquals(143, process.exitValue(), output);
        assertFalse(output.contains("fatal error"), output);
        try (Stream<Path> files = Files.list(dir)) {
          assertEquals(List.of(), files.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList(),
              "the JVM wrote a crash report");
        }
      } finally {
        process.destroyForcibly();
      }
    }
  }

  static Process startLoop(Path dir, Path log, String mode) throws Exception {
    var command = new ArrayList<String>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx512m");
    command.add("-XX:ErrorFile=" + dir.resolve("hs_err_%p.log"));
    for (String name : System.getProperties().stringPropertyNames()) {
      if (name.startsWith("ai.djl.")) {
        command.add("-D" + name + "=" + System.getProperty(name));
      }
    }
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), TrainingLoop.class.getName(), mode));
    return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** Training steps until killed, as {@code Retrainer} runs them: forward, backward, one section each. */
  public static final class TrainingLoop {
    public static void main(String[] args) {
      boolean gated = args[0].equals("gated");
      try (var manager = NDManager.newBaseManager()) {
        // a backward pass of about a second, as a real model's: the crash needs one in flight at exit
        var weight = manager.randomNormal(new Shape(1536, 1536)).div(40);
        weight.setRequiresGradient(true);
        for (long step = 0; ; step++) {
          try (var section = gated ? TorchWork.enter() : null;
              var stepManager = manager.newSubManager();
              var recording = ProcessAutograd.open()) {
            var y = stepManager.randomNormal(new Shape(1024, 1536));
            for (int layer = 0; layer < 6; layer++) {
              y = y.matMul(weight).tanh();
            }
            y = y.square().sum();
            recording.collector().backward(y);
          }
          if (step == 0) {
            System.out.println("looping");
            System.out.flush();
          }
        }
      }
    }
  }

  private static void waitForLine(Path log, String line, Duration limit, Process process) throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.exists(log) && Files.readString(log).contains(line)) {
        return;
      }
      if (!process.isAlive()) {
        throw new AssertionError("the loop exited early: " + Files.readString(log));
      }
      Thread.sleep(100);
    }
    throw new AssertionError("no '" + line + "' after " + limit.toSeconds() + " s: " + Files.readString(log));
  }

  private static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out");
      }
      Thread.sleep(10);
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Thread daemon(Runnable body) {
    var thread = new Thread(body, "torch-work-test");
    thread.setDaemon(true);
    thread.start();
    return thread;
  }
}
