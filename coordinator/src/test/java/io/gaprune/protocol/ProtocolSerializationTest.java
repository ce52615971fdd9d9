package io.gaprune.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.ConfigFactory;
import io.gaprune.config.GapruneConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
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
}
