package io.gaprune.model.safetensors;

/**
 * Conversions between float32 and the 16- and 8-bit float formats, done in Java because DJL aborts the JVM on
 * BF16 arrays and Java 17 has no {@code Float.float16ToFloat}. Narrowing rounds to nearest, ties to even, like
 * PyTorch's {@code .to(torch.float16)} and {@code .to(torch.bfloat16)}.
 */
public final class HalfFloats {

  private HalfFloats() {}

  /** IEEE 754 binary16 bits to float32 (exact: every half value is a float). */
  public static float f16ToFloat(short half) {
    int bits = half & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) {
      // Infinity (mant 0) or NaN, payload kept in the top mantissa bits.
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      // Zero or subnormal: mant · 2^-24, exact in float32.
      float v = mant * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    // Rebias the exponent from 15 to 127.
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /** float32 to binary16 bits, round to nearest even; overflow gives infinity, NaN stays NaN. */
  public static short floatToF16(float f) {
    int x = Float.floatToRawIntBits(f);
    int sign = (x >>> 16) & 0x8000;
    int exp = (x >>> 23) & 0xff;
    int mant = x & 0x7fffff;
    if (exp == 0xff) {
      return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0));
    }
    int e = exp - 112; // half exponent field if the value is normal in half
    if (e >= 0x1f) {
      return (short) (sign | 0x7c00);
    }
    if (e <= 0) {
      if (e < -10) {
        return (short) sign; // below half the smallest subnormal: rounds to (signed) zero
      }
      // Subnormal half: the significand with its implicit bit, shifted to units of 2^-24.
      int significand = mant | 0x800000;
      int shift = 14 - e;
      int m = significand >>> shift;
      int rem = significand & ((1 << shift) - 1);
      int halfway = 1 << (shift - 1);
      if (rem > halfway || (rem == halfway && (m & 1) != 0)) {
        m++; // may carry into the exponent field: that is the smallest normal, still correct
      }
      return (short) (sign | m);
    }
    int h = (e << 10) | (mant >>> 13);
    int rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) {
      h++; // a carry into the exponent is right, up to infinity (0x7c00)
    }
    return (short) (sign | h);
  }

  /** bfloat16 bits to float32: the top half of a float (exact). */
  public static float bf16ToFloat(short b) {
    return Float.intBitsToFloat((b & 0xffff) << 16);
  }

  /** float32 to bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN. */
  public static short floatToBf16(float f) {
    int x = Float.floatToRawIntBits(f);
    if ((x & 0x7fffffff) > 0x7f800000) {
      return (short) ((x >>> 16) | 0x40);
    }
    int lsb = (x >>> 16) & 1;
    x += 0x7fff + lsb;
    return (short) (x >>> 16);
  }

  /** float8 e5m2: the top byte of a binary16 value. */
  public static float f8e5m2ToFloat(byte b) {
    return f16ToFloat((short) ((b & 0xff) << 8));
  }

  /**
   * float8 e4m3fn (the variant in safetensors and PyTorch's {@code float8_e4m3fn}): bias 7, no infinities,
   * {@code S.1111.111} is NaN, the largest finite value 448.
   */
  public static float f8e4m3ToFloat(byte b) {
    int bits = b & 0xff;
    boolean negative = (bits & 0x80) != 0;
    int exp = (bits >>> 3) & 0xf;
    int mant = bits & 0x7;
    float v;
    if (exp == 0xf && mant == 0x7) {
      v = Float.NaN;
    } else if (exp == 0) {
      v = mant * 0x1p-9f;
    } else {
      v = Math.scalb(1f + mant / 8f, exp - 7);
    }
    return negative ? -v : v;
  }
}
