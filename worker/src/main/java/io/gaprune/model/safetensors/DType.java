package io.gaprune.model.safetensors;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The element types of the safetensors format, with their size in bytes. All multi-byte values are
 * little-endian in the file.
 */
public enum DType {
  BOOL(1, false),
  U8(1, false),
  I8(1, false),
  F8_E5M2(1, true),
  F8_E4M3(1, true),
  I16(2, false),
  U16(2, false),
  F16(2, true),
  BF16(2, true),
  I32(4, false),
  U32(4, false),
  F32(4, true),
  F64(8, true),
  I64(8, false),
  U64(8, false);

  private final int size;
  private final boolean floating;

  DType(int size, boolean floating) {
    this.size = size;
    this.floating = floating;
  }

  /** Bytes per element. */
  public int size() {
    return size;
  }

  /** Whether the values are floating point (read with {@code readFloats}/{@code readDoubles}). */
  public boolean isFloating() {
    return floating;
  }

  /**
   * The dtype spelled as in a header ({@code "F32"}, {@code "BF16"}, ...).
   *
   * @throws IllegalArgumentException naming the spelling and the known ones
   */
  public static DType parse(String name) {
    for (var d : values()) {
      if (d.name().equals(name)) {
        return d;
      }
    }
    throw new IllegalArgumentException("unknown dtype \"" + name + "\" (known: "
        + Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", ")) + ")");
  }
}
