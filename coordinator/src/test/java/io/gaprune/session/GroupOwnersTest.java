package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.gaprune.planner.TensorMeta;
import io.gaprune.protocol.LayerwiseOutcome;
import io.gaprune.protocol.MaskChunk;
import io.gaprune.protocol.MaskOutcome;
import io.gaprune.protocol.TensorGroup;
import io.gaprune.protocol.WeightChunk;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.StreamRefResolver;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.StreamRefs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The planner's checks on what a remote owner streams back (masks after a selection, weights after the layer-wise
 * step), through real StreamRefs: whole streams arrive as sent; a chunk out of order, a gap, a chunk past its tensor,
 * a partial float, a short stream or a checksum that does not match are refused naming the group and the place.
 */
class GroupOwnersTest {

  static ActorTestKit kit;
  static final TensorGroup GROUP = TensorGroup.newBuilder().setPartition(2).setIndex(5).build();
  static final List<TensorMeta> TENSORS = List.of(new TensorMeta("a", new long[] {3, 4}),
      new TensorMeta("b", new long[] {2, 5}));

  @BeforeAll
  static void start() {
    kit = ClusterTestSupport.localClusterKit("group-owners", "");
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  private static GroupOwners owners() {
    return new GroupOwners(kit.system(), "s1", Duration.ofSeconds(10));
  }

  private static String offer(List<?> chunks) {
    var ref = Source.from(chunks).runWith(StreamRefs.sourceRef(), kit.system());
    return StreamRefResolver.get(kit.system()).toSerializationFormat(ref);
  }

  private static byte[] mask(int n, int seed) {
    var m = new byte[n];
    for (int i = 0; i < n; i++) {
      m[i] = (byte) (((i * 7 + seed) % 3) == 0 ? 1 : 0);
    }
    return m;
  }

  private static MaskChunk maskChunk(String tensor, byte[] mask, int from, int n) {
    return MaskChunk.newBuilder().setTensor(tensor).setOffset(from)
        .setValues(ByteString.copyFrom(MaskBits.pack(mask, from, n))).setWeights(n).build();
  }

  private static int crc(byte[]... parts) {
    var crc = new CRC32C();
    for (var p : parts) {
      crc.update(p, 0, p.length);
    }
    return (int) crc.getValue();
  }

  /** Pulls masks offered as {@code chunks} with the owner's promise of {@code bytes} and {@code crc}. */
  private static Map<String, byte[]> pullMasks(List<MaskChunk> chunks, long bytes, int crc) throws IOException {
    var outcome = MaskOutcome.newBuilder().setMasksRef(offer(chunks)).setMaskBytes(bytes).setMasksCrc32C(crc).build();
    var written = new LinkedHashMap<String, ByteArrayOutputStream>();
    owners().pullMasks(GROUP, TENSORS, outcome,
        (t, values) -> written.computeIfAbsent(t.name(), k -> new ByteArrayOutputStream()).write(values));
    var out = new LinkedHashMap<String, byte[]>();
    written.forEach((k, v) -> out.put(k, v.toByteArray()));
    return out;
  }

  @Test
  void wholeMasksArriveAsSentAndDamagedOnesAreRefused() throws IOException {
    var a = mask(12, 1);
    var b = mask(10, 2);
    var whole = List.of(maskChunk("a", a, 0, 5), maskChunk("a", a, 5, 7), maskChunk("b", b, 0, 10));
    var got = pullMasks(whole, 22, crc(a, b));
    assertEquals(List.of("a", "b"), new ArrayList<>(got.keySet()));
    assertArrayEquals(a, got.get("a"));
    assertArrayEquals(b, got.get("b"));

    var outOfOrder = assertThrows(IOException.class,
        () -> pullMasks(List.of(maskChunk("b", b, 0, 10), maskChunk("a", a, 0, 12)), 22, crc(a, b)));
    assertTrue(outOfOrder.getMessage().contains("masks of merger group 5 of partition 2 (session s1): chunk of b at 0"
        + " (10 weights) where a at 0 was expected"), outOfOrder.getMessage());

    var gap = assertThrows(IOException.class,
        () -> pullMasks(List.of(maskChunk("a", a, 0, 5), maskChunk("a", a, 6, 6)), 22, crc(a, b)));
    assertTrue(gap.getMessage().contains("chunk of a at 6 (6 weights) where a at 5 was expected"), gap.getMessage());

    var tooLong = assertThrows(IOException.class, () -> pullMasks(List.of(maskChunk("a", mask(13, 1), 0, 13)), 22, 0));
    assertTrue(tooLong.getMessage().contains("chunk of a at 0 (13 weights) where a at 0 was expected"),
        tooLong.getMessage());

    var afterTheEnd = assertThrows(IOException.class, () -> pullMasks(List.of(maskChunk("a", a, 0, 12),
        maskChunk("b", b, 0, 10), maskChunk("b", b, 0, 1)), 22, crc(a, b)));
    assertTrue(afterTheEnd.getMessage().contains("where the group has ended"), afterTheEnd.getMessage());

    var shortStream = assertThrows(IOException.class, () -> pullMasks(List.of(maskChunk("a", a, 0, 12)), 22, crc(a, b)));
    assertTrue(shortStream.getMessage().contains("received 12 bytes"), shortStream.getMessage());
    assertTrue(shortStream.getMessage().contains("the group's masks are 22 bytes and its owner sent 22"),
        shortStream.getMessage());

    var badChecksum = assertThrows(IOException.class, () -> pullMasks(whole, 22, crc(a, b) ^ 1));
    assertTrue(badChecksum.getMessage().contains("received 22 bytes (CRC32C " + Integer.toHexString(crc(a, b))),
        badChecksum.getMessage());

    var strayBits = MaskChunk.newBuilder(maskChunk("a", a, 0, 12))
        .setValues(ByteString.copyFrom(new byte[] {0, (byte) 0xf0})).build();
    var malformed = assertThrows(IOException.class, () -> pullMasks(List.of(strayBits), 22, 0));
    assertTrue(malformed.getMessage().contains("masks of merger group 5 of partition 2 (session s1): chunk of a at 0:"),
        malformed.getMessage());
  }

  private static byte[] floats(float... values) {
    var buffer = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      buffer.putFloat(v);
    }
    return buffer.array();
  }

  private static WeightChunk weightChunk(String tensor, int offset, byte[] values) {
    return WeightChunk.newBuilder().setTensor(tensor).setOffset(offset).setValues(ByteString.copyFrom(values)).build();
  }

  private static Map<String, List<Float>> pullWeights(List<WeightChunk> chunks, long bytes, int crc)
      throws IOException {
    var outcome = LayerwiseOutcome.newBuilder().setWeightsRef(offer(chunks)).setWeightBytes(bytes)
        .setWeightsCrc32C(crc).build();
    var written = new LinkedHashMap<String, List<Float>>();
    owners().pullWeights(GROUP, TENSORS, outcome, (t, values, offset, count) -> {
      for (int i = offset; i < offset + count; i++) {
        written.computeIfAbsent(t, k -> new ArrayList<>()).add(values[i]);
      }
    });
    return written;
  }

  @Test
  void wholeWeightsArriveAsSentAndDamagedOnesAreRefused() throws IOException {
    var a = new float[12];
    var b = new float[10];
    for (int i = 0; i < a.length; i++) {
      a[i] = i * 0.5f - 2f;
    }
    for (int i = 0; i < b.length; i++) {
      b[i] = i == 3 ? 0f : 1f / (i + 1);
    }
    var aBytes = floats(a);
    var bBytes = floats(b);
    var whole = List.of(weightChunk("a", 0, java.util.Arrays.copyOfRange(aBytes, 0, 20)),
        weightChunk("a", 5, java.util.Arrays.copyOfRange(aBytes, 20, 48)), weightChunk("b", 0, bBytes));
    var got = pullWeights(whole, 88, crc(aBytes, bBytes));
    assertEquals(12, got.get("a").size());
    for (int i = 0; i < a.length; i++) {
      assertEquals(a[i], got.get("a").get(i), "a[" + i + "]");
    }
    for (int i = 0; i < b.length; i++) {
      assertEquals(b[i], got.get("b").get(i), "b[" + i + "]");
    }

    var partialFloat = assertThrows(IOException.class,
        () -> pullWeights(List.of(weightChunk("a", 0, java.util.Arrays.copyOfRange(aBytes, 0, 6))), 88, 0));
    assertTrue(partialFloat.getMessage().contains("weights of merger group 5 of partition 2 (session s1): chunk of a "
        + "at 0 (6 bytes) where a at 0 was expected"), partialFloat.getMessage());

    var empty = assertThrows(IOException.class, () -> pullWeights(List.of(weightChunk("a", 0, new byte[0])), 88, 0));
    assertTrue(empty.getMessage().contains("chunk of a at 0 (0 bytes)"), empty.getMessage());

    var wrongTensor = assertThrows(IOException.class, () -> pullWeights(List.of(weightChunk("b", 0, bBytes)), 88, 0));
    assertTrue(wrongTensor.getMessage().contains("chunk of b at 0 (40 bytes) where a at 0 was expected"),
        wrongTensor.getMessage());

    var badChecksum = assertThrows(IOException.class, () -> pullWeights(whole, 88, crc(bBytes, aBytes)));
    assertTrue(badChecksum.getMessage().contains("weights of merger group 5 of partition 2 (session s1): received 88 "
        + "bytes"), badChecksum.getMessage());

    var ownerMiscounted = assertThrows(IOException.class, () -> pullWeights(whole, 84, crc(aBytes, bBytes)));
    assertTrue(ownerMiscounted.getMessage().contains("the group's weights are 88 bytes and its owner sent 84"),
        ownerMiscounted.getMessage());
  }
}
