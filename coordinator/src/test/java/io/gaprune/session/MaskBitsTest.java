package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Masks packed eight weights per byte for the wire, and back, exactly; malformed chunks refused. */
class MaskBitsTest {

  @Test
  void everyLengthRoundTripsAndTakesAnEighthOfTheBytes() {
    Random random = new Random(3);
    for (int n = 0; n <= 70; n++) {
      byte[] mask = new byte[n + 5];
      for (int i = 0; i < mask.length; i++) {
        mask[i] = (byte) random.nextInt(2);
      }
      byte[] packed = MaskBits.pack(mask, 5, n);
      assertEquals((n + 7) / 8, packed.length);
      byte[] expected = new byte[n];
      System.arraycopy(mask, 5, expected, 0, n);
      assertArrayEquals(expected, MaskBits.unpack(packed, n), "n = " + n);
    }
    // bit i of byte i / 8, least significant first
    assertArrayEquals(new byte[] {(byte) 0b1000_0101, 0b1}, MaskBits.pack(new byte[] {1, 0, 1, 0, 0, 0, 0, 1, 1}, 0, 9));
  }

  @Test
  void malformedMasksAndChunksAreRefused() {
    var notBinary = assertThrows(IllegalArgumentException.class, () -> MaskBits.pack(new byte[] {0, 1, 2}, 0, 3));
    assertTrue(notBinary.getMessage().contains("mask byte 2 is 2"), notBinary.getMessage());
    var length = assertThrows(IllegalArgumentException.class, () -> MaskBits.unpack(new byte[2], 17));
    assertTrue(length.getMessage().contains("2 packed bytes cannot hold exactly 17 weights"), length.getMessage());
    var stray = assertThrows(IllegalArgumentException.class, () -> MaskBits.unpack(new byte[] {(byte) 0b1000}, 3));
    assertTrue(stray.getMessage().contains("bits set beyond the chunk's 3 weights"), stray.getMessage());
  }
}
