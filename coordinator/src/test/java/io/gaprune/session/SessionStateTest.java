package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gaprune.protocol.LayerPartition;
import io.gaprune.protocol.NodeBytes;
import io.gaprune.protocol.SessionConfig;
import io.gaprune.protocol.SessionEvent;
import io.gaprune.protocol.SessionStarted;
import io.gaprune.protocol.UnitCompleted;
import io.gaprune.protocol.UnitsFolded;
import io.gaprune.protocol.UnitsReopened;
import io.gaprune.protocol.WorkUnit;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The journal's merger-group events replayed: groups, bytes per merger node, units reopened by lineage. */
class SessionStateTest {
  static final LayerPartition PARTITION = LayerPartition.newBuilder().setIndex(0)
      .addTensors(TensorGroupsTest.tensor("a", 4, 4)).addTensors(TensorGroupsTest.tensor("b", 4, 4)).build();

  static SessionState started(boolean withGroups) {
    var started = SessionStarted.newBuilder().setConfig(SessionConfig.newBuilder().setSessionId("s"))
        .addPartitions(PARTITION);
    for (String u : List.of("p000-b000000", "p000-b000001")) {
      started.addUnits(WorkUnit.newBuilder().setUnitId(u).setPartition(0).setBatchStart(0).setBatchEnd(1));
    }
    if (withGroups) {
      started.addAllGroups(TensorGroups.pack(List.of(PARTITION), 2));
    }
    return new SessionState().apply(SessionEvent.newBuilder().setStarted(started).build());
  }

  static SessionEvent completed(String unit, long bytes, String... nodes) {
    var c = UnitCompleted.newBuilder().setUnitId(unit).setWorkerRef("w").setBytes(bytes);
    for (String node : nodes) {
      c.addNodeBytes(NodeBytes.newBuilder().setNode(node).setBytes(bytes / nodes.length));
    }
    return SessionEvent.newBuilder().setUnitCompleted(c).build();
  }

  @Test
  void bytesPerMergerNodeAndReopenedUnits() {
    SessionState s = started(true);
    assertEquals(2, s.groups.size());
    s.apply(completed("p000-b000000", 100, "node-a", "node-b"));
    s.apply(completed("p000-b000001", 100, "node-a", "node-b"));
    s.apply(SessionEvent.newBuilder().setUnitsFolded(UnitsFolded.newBuilder().setPartition(0)
        .addUnitIds("p000-b000000").addUnitIds("p000-b000001")).build());
    assertTrue(s.allDone() && s.allFolded());
    assertEquals(200, s.counters().getShardBytes());
    assertEquals(100, s.counters().getShardBytesMaxNode());

    // node-b lost its group: the units go back to pending, are computed again and node-b pulls them again
    s.apply(SessionEvent.newBuilder().setUnitsReopened(UnitsReopened.newBuilder().addUnitIds("p000-b000000")
        .addUnitIds("p000-b000001").setReason("lost")).build());
    assertFalse(s.allDone());
    assertFalse(s.allFolded());
    assertEquals(List.of("p000-b000000", "p000-b000001"), List.copyOf(s.pending));
    s.apply(completed("p000-b000000", 100, "node-b"));
    assertEquals(200, s.counters().getShardBytesMaxNode());
    assertEquals(300, s.counters().getShardBytes(), "a reopened unit counts again");
  }

  @Test
  void aJournalWithoutGroupsHasOneGroupPerPartitionOnTheCoordinatorsNode() {
    SessionState s = started(false);
    assertEquals(List.of(PARTITION.getTensorsList()), s.groups.stream().map(g -> g.getTensorsList()).toList());
    s.apply(completed("p000-b000000", 70));
    assertEquals(70, s.counters().getShardBytesMaxNode());
  }
}
