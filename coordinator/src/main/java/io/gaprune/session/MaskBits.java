package io.gaprune.session;

/**
 * Masks on the wire, eight weights per byte: a mask byte is 0 (pruned) or 1 (kept), so a group's masks travel
 * from its owner to the planner in an eighth of the bytes (weight {@code i} of a chunk is bit {@code i % 8},
 * least significant first, of byte {@code i / 8}). The planner unpacks them into the one-byte-per-weight
 * {@code masks.safetensors}.
 */
final class MaskBits {
  private MaskBits() {}

  /** Packs {@code n} mask bytes from {@code from}; refuses a byte other than 0 or 1 (it would not come back). */
  static byte[] pack(byte[] mask, int from, int n) {
    byte[] out = new byte[(n + 7) >>> 3];
    for (int i = 0; i < n; i++) {
      byte b = mask[from + i];
      if (b == 1) {
        out[i >>> 3] |= (byte) (1 << (i & 7));
      } else if (b != 0) {
        throw new IllegalArgumentException("mask byte " + (from + i) + " is " + b + ", not 0 or 1");
      }
    }
    return out;
  }

  /**
   * Unpacks {@code n} weights; refuses packed bytes of the wrong length or with bits set beyond the {@code n}-th
   * (a chunk that does not say what it means).
   */
  static byte[] unpack(byte[] packed, int n) {
    if (packed.length != (n + 7) >>> 3) {
      throw new IllegalArgumentException(packed.length + " packed bytes cannot hold exactly " + n + " weights");
    }
    if ((n & 7) != 0 && (packed[packed.length - 1] & 0xff) >>> (n & 7) != 0) {
      throw new IllegalArgumentException("bits set beyond the chunk's " + n + " weights");
    }
    byte[] out = new byte[n];
    for (int i = 0; i < n; i++) {
      out[i] = (byte) ((packed[i >>> 3] >>> (i & 7)) & 1);
    }
    return out;
  }
}
