package io.gaprune.model.safetensors;

import static io.gaprune.model.safetensors.HalfFloats.bf16ToFloat;
import static io.gaprune.model.safetensors.HalfFloats.f16ToFloat;
import static io.gaprune.model.safetensors.HalfFloats.f8e4m3ToFloat;
import static io.gaprune.model.safetensors.HalfFloats.f8e5m2ToFloat;
import static io.gaprune.model.safetensors.HalfFloats.floatToBf16;
import static io.gaprune.model.safetensors.HalfFloats.floatToF16;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Conversions against values worked out by hand from the bit layouts. */
class HalfFloatsTest {

  private static void assertBits(int expected, short actual) {
    assertEquals(expected, actual & 0xffff, () -> String.format("expected 0x%04X, got 0x%04X", expected,
        actual & 0xffff));
  }

  @Test
  void f16ToFloatHandValues() {
    assertEquals(1.0f, f16ToFloat((short) 0x3C00));
    assertEquals(0.5f, f16ToFloat((short) 0x3800));
    assertEquals(-2.0f, f16ToFloat((short) 0xC000));
    assertEquals(65504f, f16ToFloat((short) 0x7BFF)); // largest finite half: (2 − 2^-10)·2^15
    // 0x3555: exponent 13 → 2^-2, mantissa 0x155 = 341 → (1 + 341/1024)/4
    assertEquals((1 + 341 / 1024f) / 4, f16ToFloat((short) 0x3555));
    assertEquals(0.333251953125f, f16ToFloat((short) 0x3555));
    assertEquals(0x1p-24f, f16ToFloat((short) 0x0001)); // smallest subnormal
    assertEquals(1023 * 0x1p-24f, f16ToFloat((short) 0x03FF)); // largest subnormal
    assertEquals(0x1p-14f, f16ToFloat((short) 0x0400)); // smallest normal
    assertEquals(Float.POSITIVE_INFINITY, f16ToFloat((short) 0x7C00));
    assertEquals(Float.NEGATIVE_INFINITY, f16ToFloat((short) 0xFC00));
    assertTrue(Float.isNaN(f16ToFloat((short) 0x7E00)));
    assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(f16ToFloat((short) 0x8000)));
  }

  @Test
  void floatToF16RoundsToNearestEven() {
    assertBits(0x3C00, floatToF16(1.0f));
    assertBits(0x7BFF, floatToF16(65504f));
    assertBits(0x7BFF, floatToF16(65519f)); // below the midpoint to 65536
    assertBits(0x7C00, floatToF16(65520f)); // midpoint, odd mantissa 0x3FF rounds up: infinity
    assertBits(0x3555, floatToF16(1f / 3)); // 1/3 = 1.0101…b·2^-2, the cut-off bits are below half
    assertBits(0x3C00, floatToF16(1f + 0x1p-11f)); // halfway between 0x3C00 and 0x3C01: to even
    assertBits(0x3C02, floatToF16(1f + 3 * 0x1p-11f)); // halfway between 0x3C01 and 0x3C02: to even
    assertBits(0x0000, floatToF16(0x1p-25f)); // half of the smallest subnormal: tie to even zero
    assertBits(0x0001, floatToF16(0x1.000002p-25f)); // just above it
    assertBits(0x0002, floatToF16(3 * 0x1p-25f)); // 1.5 subnormal units: tie to even 2
    assertBits(0x0400, floatToF16(0x1p-14f));
    assertBits(0x0400, floatToF16(1023.5f * 0x1p-24f)); // tie, odd 1023 rounds up to the smallest normal
    assertBits(0x8000, floatToF16(-0.0f));
    assertBits(0x0000, floatToF16(1e-10f));
    assertBits(0xFC00, floatToF16(-1e6f));
    assertBits(0x7C00, floatToF16(Float.POSITIVE_INFINITY));
    short nan = floatToF16(Float.NaN);
    assertEquals(0x7C00, nan & 0x7C00);
    assertTrue((nan & 0x3FF) != 0);
  }

  @Test
  void f16RoundTripOfEveryHalfValue() {
    for (int bits = 0; bits < 0x10000; bits++) {
      float f = f16ToFloat((short) bits);
      if (Float.isNaN(f)) {
        assertTrue(Float.isNaN(f16ToFloat(floatToF16(f))));
      } else {
        assertBits(bits, floatToF16(f));
      }
    }
  }

  @Test
  void bf16HandValues() {
    assertBits(0x3F80, floatToBf16(1.0f));
    assertEquals(1.0f, bf16ToFloat((short) 0x3F80));
    // 1/3 as float is 0x3EAAAAAB: the low half 0xAAAB is above 0x8000, round up to 0x3EAB
    assertBits(0x3EAB, floatToBf16(1f / 3));
    assertEquals(0.333984375f, bf16ToFloat((short) 0x3EAB));
    // pi is 0x40490FDB: low half below 0x8000, truncates to 0x4049 = 3.140625
    assertBits(0x4049, floatToBf16((float) Math.PI));
    assertEquals(3.140625f, bf16ToFloat((short) 0x4049));
    assertBits(0x3F80, floatToBf16(Float.intBitsToFloat(0x3F808000))); // tie, even stays
    assertBits(0x3F82, floatToBf16(Float.intBitsToFloat(0x3F818000))); // tie, odd rounds up
    assertBits(0x7F80, floatToBf16(Float.MAX_VALUE)); // rounds up to infinity, like PyTorch
    assertBits(0xC000, floatToBf16(-2f));
    assertTrue(Float.isNaN(bf16ToFloat(floatToBf16(Float.NaN))));
  }

  @Test
  void float8HandValues() {
    assertEquals(1.0f, f8e4m3ToFloat((byte) 0x38)); // 0 0111 000: 2^0
    assertEquals(448f, f8e4m3ToFloat((byte) 0x7E)); // 0 1111 110: 1.75·2^8, the largest
    assertTrue(Float.isNaN(f8e4m3ToFloat((byte) 0x7F)));
    assertEquals(0x1p-9f, f8e4m3ToFloat((byte) 0x01)); // smallest subnormal
    assertEquals(-2.0f, f8e4m3ToFloat((byte) 0xC0)); // 1 1000 000
    assertEquals(1.0f, f8e5m2ToFloat((byte) 0x3C));
    assertEquals(57344f, f8e5m2ToFloat((byte) 0x7B)); // 1.75·2^15
    assertEquals(Float.POSITIVE_INFINITY, f8e5m2ToFloat((byte) 0x7C));
  }
}
