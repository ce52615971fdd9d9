package io.gaprune.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors;
import com.typesafe.config.ConfigFactory;
import io.gaprune.config.GapruneConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What crosses a process is protobuf through Pekko's ProtobufSerializer; Java serialization is refused. */
class ProtocolSerializationTest {
  @TempDir Path tmp;

  @Test
  void protobufRoundTripsAndJavaSerializationIsOff() throws Exception {
    Path conf = Files.writeString(tmp.resolve("n.conf"), "gaprune.work-dir = \"" + tmp + "\"\ngaprune.cluster.seed-nodes = []\n");
    var config = GapruneConfig.load(conf, ConfigFactory.empty());
    assertEquals("off", config.getString("pekko.actor.allow-java-serialization"));
    assertEquals(256 * 1024, config.getBytes("pekko.remote.artery.advanced.maximum-frame-size"));
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "gaprune", config);
    try {
      Serialization s = SerializationExtension.get(system);
      var chunk = ShardChunk.newBuilder().setTensor("t").setStatistic(Statistic.SUM_DOMAIN).setOffset(8192)
          .setValues(ByteString.copyFrom(new byte[64 * 1024])).build();
      var event = SessionEvent.newBuilder().setUnitCompleted(UnitCompleted.newBuilder().setUnitId("p000-b000000"))
          .setAtMs(1).build();
      for (var m : new com.google.protobuf.GeneratedMessage[] {chunk, event, Versions.protocol()}) {
        var serializer = s.findSerializerFor(m);
        assertEquals("org.apache.pekko.remote.serialization.ProtobufSerializer", serializer.getClass().getName());
        byte[] bytes = s.serialize(m).get();
        assertEquals(m, s.deserialize(bytes, serializer.identifier(), m.getClass().getName()).get());
      }
      // a 64 KiB chunk stays far below the 256 KiB frame
      assertTrue(s.serialize(chunk).get().length < 70 * 1024);
      // anything else (here a java.io.Serializable) has no serializer: it can never reach the wire
      assertThrows(Exception.class, () -> s.serialize(new java.util.ArrayList<>(java.util.List.of("x"))).get());
    } finally {
      system.terminate();
    }
  }

  /**
   * A worker's settings are read and checked before it starts: a chunk size that would not leave room in
   * Artery's frame, an unknown transport or compute-ahead value are refused by name.
   */
  @Test
  void workerSettingsAreCheckedBeforeAWorkerStarts() throws Exception {
    Path conf = Files.writeString(tmp.resolve("big.conf"), "gaprune.work-dir = \"" + tmp + "\"\n");
    // the default transport is the worker's shard port, with 1 MiB chunks (never Artery messages)
    var tcp = io.gaprune.worker.WorkerSettings.from(GapruneConfig.load(conf, ConfigFactory.empty()), "cpu");
    assertTrue(tcp.shardPort());
    assertEquals(1 << 20, tcp.chunkBytes());
    var ok = io.gaprune.worker.WorkerSettings.from(
        GapruneConfig.load(conf, ConfigFactory.parseString("gaprune.stream.transport = stream-ref")), "cpu");
    assertFalse(ok.shardPort());
    assertEquals(64 * 1024, ok.chunkBytes());
    var big = GapruneConfig.load(conf, ConfigFactory.parseString("gaprune.stream.chunk-bytes = 200KiB"));
    var e = assertThrows(IllegalArgumentException.class, () -> io.gaprune.worker.WorkerSettings.from(big, "cpu"));
    assertTrue(e.getMessage().contains("at most half of gaprune.cluster.maximum-frame-size (262144)"), e.getMessage());
    var huge = GapruneConfig.load(conf, ConfigFactory.parseString("gaprune.stream.tcp-chunk-bytes = 17MiB"));
    e = assertThrows(IllegalArgumentException.class, () -> io.gaprune.worker.WorkerSettings.from(huge, "cpu"));
    assertTrue(e.getMessage().contains("tcp-chunk-bytes = 17825792 must be between 4 and 16777216"), e.getMessage());
    var udp = GapruneConfig.load(conf, ConfigFactory.parseString("gaprune.stream.transport = udp"));
    e = assertThrows(IllegalArgumentException.class, () -> io.gaprune.worker.WorkerSettings.from(udp, "cpu"));
    assertTrue(e.getMessage().contains("gaprune.stream.transport = \"udp\": use \"tcp\" or \"stream-ref\""),
        e.getMessage());
    // computing ahead: auto unless said otherwise; a value outside the three refused by name
    assertEquals(io.gaprune.worker.WorkerSettings.ComputeAhead.AUTO, tcp.computeAhead());
    assertEquals(io.gaprune.worker.WorkerSettings.ComputeAhead.OFF, io.gaprune.worker.WorkerSettings.from(
        GapruneConfig.load(conf, ConfigFactory.parseString("gaprune.worker.compute-ahead = off")), "cpu").computeAhead());
    var sometimes = GapruneConfig.load(conf, ConfigFactory.parseString("gaprune.worker.compute-ahead = sometimes"));
    e = assertThrows(IllegalArgumentException.class, () -> io.gaprune.worker.WorkerSettings.from(sometimes, "cpu"));
    assertTrue(e.getMessage().contains("gaprune.worker.compute-ahead = \"sometimes\""), e.getMessage());
  }

  /**
   * Every message type declared in cluster.proto (found from the descriptor, so a message added later is
   * covered without touching this test) is bound to ProtobufSerializer and round-trips through it with its class
   * name as manifest; none can fall back to Java serialization.
   */
  @Test
  void everyProtocolMessageTypeIsSerializedByProtobufNeverJava() throws Exception {
    Path conf = Files.writeString(tmp.resolve("all.conf"), "gaprune.work-dir = \"" + tmp + "\"\ngaprune.cluster.seed-nodes = []\n");
    var config = GapruneConfig.load(conf, ConfigFactory.empty());
    List<Class<?>> types = new ArrayList<>();
    for (Descriptors.Descriptor d : Cluster.getDescriptor().getMessageTypes()) {
      collect(d, "io.gaprune.protocol." + d.getName(), types);
    }
    // cluster.proto declares 41 messages today; fewer means the descriptor walk lost some.
    assertTrue(types.size() >= 41, "message types found: " + types);
    assertTrue(types.contains(Register.class) && types.contains(SessionEvent.class) && types.contains(ShardChunk.class));
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "gaprune", config);
    try {
      Serialization s = SerializationExtension.get(system);
      List<String> wrong = new ArrayList<>();
      for (Class<?> type : types) {
        var message = (com.google.protobuf.GeneratedMessage) type.getMethod("getDefaultInstance").invoke(null);
        var serializer = s.findSerializerFor(message);
        if (!(serializer instanceof org.apache.pekko.remote.serialization.ProtobufSerializer)) {
          wrong.add(type.getSimpleName() + " -> " + serializer.getClass().getName());
          continue;
        }
        String manifest = Serializers.manifestFor(serializer, message);
        assertEquals(type.getName(), manifest, "the journal's manifest is the class name");
        assertEquals(message, s.deserialize(s.serialize(message).get(), serializer.identifier(), manifest).get());
      }
      assertEquals(List.of(), wrong, "protocol messages not bound to ProtobufSerializer");
      // Java serialization is replaced by a serializer that refuses everything, in both directions.
      var javaSerializer = s.serializerFor(java.io.Serializable.class);
      assertEquals("org.apache.pekko.serialization.DisabledJavaSerializer", javaSerializer.getClass().getName());
    } finally {
      system.terminate();
    }
  }

  /** The generated class of a message and of its nested messages (java_multiple_files: one class each). */
  private static void collect(Descriptors.Descriptor d, String className, List<Class<?>> out) throws ClassNotFoundException {
    out.add(Class.forName(className));
    for (Descriptors.Descriptor nested : d.getNestedTypes()) {
      collect(nested, className + "$" + nested.getName(), out);
    }
  }
}
