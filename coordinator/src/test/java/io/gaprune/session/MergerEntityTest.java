package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.GeneratedMessage;
import io.gaprune.protocol.MergerFold;
import io.gaprune.protocol.MergerFolded;
import io.gaprune.protocol.MergerHeld;
import io.gaprune.protocol.MergerScan;
import io.gaprune.protocol.MergerStage;
import io.gaprune.protocol.MergerStaged;
import io.gaprune.protocol.MergerTarget;
import io.gaprune.protocol.StatisticSet;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.protocol.UnitResult;
import io.gaprune.stats.UnitStatistics;
import io.gaprune.worker.ShardCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.StreamRefs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One merger entity, spawned directly (no sharding) on a real cluster-provider system, pulling real StreamRefs:
 * a stage is answered once durable, a second stage of the same unit is a duplicate that pulls nothing, a stream
 * that does not match its digest is refused, folds follow the order and name what the group does not hold, and
 * an entity restarted on an empty disk holds nothing (the coordinator then reopens its units).
 */
class MergerEntityTest {
  static ActorTestKit kit;
  @TempDir Path tmp;

  static final MergerTarget TARGET = MergerTarget.newBuilder().setSessionId("s")
      .setStatistics(StatisticSet.FISHER_AND_GRADIENTS).setGroup(TensorGroup.newBuilder().setPartition(0).setIndex(1)
          .addAllTensors(AccumulatorStoreTest.TENSORS)).build();

  @BeforeAll
  static void start() {
    kit = ClusterTestSupport.localClusterKit("merger-entity", "pekko.actor.serialize-messages = on\n");
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  /** The group's part of a unit's result, with a live stream of its chunks; {@code crcOffset} spoils the digest. */
  static UnitResult result(String unitId, UnitStatistics u, int crcOffset) {
    var statistics = ShardCodec.statistics(TARGET.getStatistics());
    var tensors = TARGET.getGroup().getTensorsList();
    var digest = ShardCodec.digest(u, tensors, statistics, 16);
    var ref = Source.fromIterator(() -> ShardCodec.chunks(u, tensors, statistics, 16))
        .runWith(StreamRefs.sourceRef(), kit.system());
    return UnitResult.newBuilder().setUnitId(unitId).addAllTensors(ShardCodec.metas(u, tensors))
        .setGeneralSamples(u.generalSamples()).setDomainSamples(u.domainSamples()).setBatches(u.batches())
        .setGeneralLossSum(u.generalLossSum()).setDomainLossSum(u.domainLossSum())
        .setSourceRef(StreamRefResolver.get(kit.system()).toSerializationFormat(ref))
        .setChunkCount(digest.chunks()).setTotalBytes(digest.bytes()).setCrc32C(digest.crc32c() + crcOffset).build();
  }

  static <T extends GeneratedMessage> T ask(ActorRef<GeneratedMessage> entity, TestProbe<GeneratedMessage> probe,
      GeneratedMessage command, Class<T> reply) {
    entity.tell(command);
    return probe.expectMessageClass(reply, Duration.ofSeconds(20));
  }

  @Test
  void stagesOnceFoldsInOrderAndNamesWhatItLost() throws Exception {
    var probe = kit.<GeneratedMessage>createTestProbe();
    String replyTo = ActorRefResolver.get(kit.system()).toSerializationFormat(probe.getRef());
    var entity = kit.spawn(MergerEntity.create(tmp, Duration.ofSeconds(5), null));
    UnitStatistics u1 = AccumulatorStoreTest.unit(1.5);
    UnitStatistics u2 = AccumulatorStoreTest.unit(-2.25);
    Path dir = TensorGroups.dir(tmp, "s", TARGET.getGroup());

    var first = result("u1", u1, 0);
    var staged = ask(entity, probe, MergerStage.newBuilder().setTarget(TARGET).setResult(first).setReplyTo(replyTo)
        .build(), MergerStaged.class);
    assertEquals("", staged.getError());
    assertFalse(staged.getDuplicate());
    assertEquals(first.getTotalBytes(), staged.getBytes());
    assertEquals(1, staged.getGroup());
    assertTrue(staged.getNode().startsWith("pekko://merger-entity@127.0.0.1:"), staged.getNode());
    assertTrue(Files.exists(dir.resolve("staged").resolve("u1.shards")));

    var again = ask(entity, probe, MergerStage.newBuilder().setTarget(TARGET).setResult(result("u1", u1, 0))
        .setReplyTo(replyTo).build(), MergerStaged.class);
    assertTrue(again.getDuplicate(), "a unit held already is not pulled again");
    assertEquals(0, again.getBytes());

    var spoiled = ask(entity, probe, MergerStage.newBuilder().setTarget(TARGET).setResult(result("u2", u2, 1))
        .setReplyTo(replyTo).build(), MergerStaged.class);
    assertTrue(spoiled.getError().contains("do not match the worker's summary"), spoiled.getError());
    assertFalse(Files.exists(dir.resolve("staged").resolve("u2.shards")));

    var folded = ask(entity, probe, MergerFold.newBuilder().setTarget(TARGET).addAllOrder(List.of("u1", "u2"))
        .setReplyTo(replyTo).build(), MergerFolded.class);
    assertEquals(List.of("u1"), folded.getAppliedList());
    assertEquals(List.of("u2"), folded.getMissingList(), "u2 was counted done by the order but is not held");

    ask(entity, probe, MergerStage.newBuilder().setTarget(TARGET).setResult(result("u2", u2, 0)).setReplyTo(replyTo)
        .build(), MergerStaged.class);
    folded = ask(entity, probe, MergerFold.newBuilder().setTarget(TARGET).addAllOrder(List.of("u1", "u2"))
        .setReplyTo(replyTo).build(), MergerFolded.class);
    assertEquals(List.of("u1", "u2"), folded.getAppliedList());
    assertEquals(List.of(), folded.getMissingList());
    var store = new AccumulatorStore(dir, "s", List.of(TensorGroups.asPartition(TARGET.getGroup())),
        ShardCodec.statistics(TARGET.getStatistics()));
    assertArrayEquals(AccumulatorStoreTest.expected(u1.tensors().get("a").sumSqGeneral(),
        u2.tensors().get("a").sumSqGeneral()), store.readTensor(0, "a").sumSqGeneral());
    var held = ask(entity, probe, MergerScan.newBuilder().setTarget(TARGET).addAllUnits(List.of("u1", "u2"))
        .setReplyTo(replyTo).build(), MergerHeld.class);
    assertEquals(List.of("u1", "u2"), held.getAppliedList());

    // The node is lost: the entity starts elsewhere, on a disk without the group.
    kit.stop(entity);
    try (var walk = Files.walk(dir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
    var moved = kit.spawn(MergerEntity.create(tmp, Duration.ofSeconds(5), null));
    held = ask(moved, probe, MergerScan.newBuilder().setTarget(TARGET).addAllUnits(List.of("u1", "u2"))
        .setReplyTo(replyTo).build(), MergerHeld.class);
    assertEquals(List.of(), held.getAppliedList());
    assertEquals(List.of(), held.getStagedList());
    folded = ask(moved, probe, MergerFold.newBuilder().setTarget(TARGET).addAllOrder(List.of("u1", "u2"))
        .setReplyTo(replyTo).build(), MergerFolded.class);
    assertEquals(List.of("u1", "u2"), folded.getMissingList());
    var restaged = ask(moved, probe, MergerStage.newBuilder().setTarget(TARGET).setResult(result("u1", u1, 0))
        .setReplyTo(replyTo).build(), MergerStaged.class);
    assertFalse(restaged.getDuplicate(), "a reopened unit is pulled again by the group that lost it");
  }
}
