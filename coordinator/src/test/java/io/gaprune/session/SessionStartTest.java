package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.CommandReply;
import io.gaprune.protocol.StartSession;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A session start reads its calibration files off the coordinator's message handler: a FIFO as the general set
 * (an open that blocks until someone writes) leaves the coordinator answering while the start waits, and the
 * start is refused with a message once {@code start-timeout} passes; a second start meanwhile is refused as a
 * conflict, and a good start afterwards runs.
 */
@Tag("slow")
class SessionStartTest {

  @Test
  void aStartThatCannotReadItsFilesNeverBlocksTheCoordinator() throws Exception {
    Path dir = ClusterTestSupport.testDir("session-start");
    Path fifo = dir.resolve("general.fifo");
    assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor(), "mkfifo");
    Path general = ClusterTestSupport.triplets(dir, "general.json", 16);
    Path domain = ClusterTestSupport.triplets(dir, "domain.json", 16);
    try (TestCluster cluster = new TestCluster(dir, "gaprune.coordinator.start-timeout = 3s")) {
      cluster.startCoordinator();
      var blocked = CompletableFuture.supplyAsync(() -> {
        try {
          return cluster.ask(r -> StartSession.newBuilder().setReplyTo(r)
              .setConfig(ClusterTestSupport.session(fifo, domain, "fifo")).build());
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      Thread.sleep(500); // the start is now reading the FIFO
      for (int i = 0; i < 5; i++) {
        long t0 = System.nanoTime();
        cluster.status();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 1000, "a status took " + ms + " ms while a start read a FIFO");
      }
      CommandReply second = cluster.ask(r -> StartSession.newBuilder().setReplyTo(r)
          .setConfig(ClusterTestSupport.session(general, domain, "second")).build());
      assertFalse(second.getOk());
      assertEquals(CommandReply.Refusal.CONFLICT, second.getRefusal(), second.getMessage());

      CommandReply refused = blocked.get(20, TimeUnit.SECONDS);
      assertFalse(refused.getOk());
      assertEquals(CommandReply.Refusal.INVALID, refused.getRefusal());
      assertTrue(refused.getMessage().contains("could not be read within 3 s"), refused.getMessage());

      cluster.start(ClusterTestSupport.session(general, domain, "after"));
      assertEquals("after", cluster.status().getSessionId());
    } finally {
      // release the thread still blocked opening the FIFO: a writer opens it, writes nothing, closes it
      var release = new Thread(() -> {
        try (var out = java.nio.file.Files.newOutputStream(fifo)) {
          out.flush();
        } catch (java.io.IOException ignored) {
          // nobody reads any more: nothing to release
        }
      });
      release.setDaemon(true);
      release.start();
      release.join(5000);
    }
  }
}
