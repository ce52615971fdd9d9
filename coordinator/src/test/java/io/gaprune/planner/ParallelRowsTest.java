package io.gaprune.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ParallelRowsTest {

  @Test
  void everyIndexRunsOnceAcrossThreadsWhateverItsWork() {
    var runs = new AtomicIntegerArray(1000);
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    // triangular work, as in a factor's columns: the first indices cost the most
    ParallelRows.of(4).forEach(10, 1000, 1_000_000, i -> {
      runs.incrementAndGet(i);
      threads.add(Thread.currentThread());
      // whichever thread takes the first index holds it until another thread has taken a chunk (on a loaded
      // machine one thread could otherwise finish everything before the others start)
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (i == 10 && threads.size() < 2 && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      double s = 0;
      for (int t = i; t < 1000; t++) {
        s += Math.sqrt(t);
      }
      assertTrue(s >= 0);
    });
    for (int i = 0; i < 1000; i++) {
      assertEquals(i < 10 ? 0 : 1, runs.get(i), "index " + i);
    }
    assertTrue(threads.size() > 1, "ran on " + threads.size() + " thread(s)");
  }

  @Test
  void smallLoopsStayOnTheCallingThread() {
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    ParallelRows.of(4).forEach(0, 100, 10, i -> threads.add(Thread.currentThread()));
    assertEquals(Set.of(Thread.currentThread()), threads);
  }

  @Test
  void aFailingIndexFailsTheLoopWithItsOwnMessage() {
    var e = assertThrows(IllegalStateException.class, () -> ParallelRows.of(3).forEach(0, 500, 1_000_000, i -> {
      if (i == 377) {
        throw new IllegalStateException("row 377 is broken");
      }
    }));
    assertTrue(e.getMessage().contains("row 377 is broken"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ParallelRows.of(0));
  }
}
