package io.gaprune.model.safetensors;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Read access to the tensors of a safetensors checkpoint: one file ({@link SafetensorsFile}) or a sharded one
 * ({@link ShardedSafetensors}). Tensors are listed in a fixed order (shard by shard, each in its data order), so
 * that whatever iterates over them (the planner's tie-breaking, for one) sees the same order every time.
 *
 * <p>Whole-tensor reads return Java arrays; a tensor larger than one array can hold is read in ranges with
 * {@link #readFloats(String, long, float[], int, int)}. Data are memory-mapped, never loaded whole.
 */
public sealed interface SafetensorsReader extends Closeable permits SafetensorsFile, ShardedSafetensors {

  /** Largest Java array this reader returns in one piece. */
  int MAX_ARRAY = Integer.MAX_VALUE - 8;

  /**
   * Opens a checkpoint: a {@code .safetensors} file, a {@code *.index.json} of a sharded one, or a directory
   * holding {@code model.safetensors.index.json} or {@code model.safetensors}.
   */
  static SafetensorsReader open(Path path) throws IOException {
    if (Files.isDirectory(path)) {
      var index = path.resolve("model.safetensors.index.json");
      if (Files.isRegularFile(index)) {
        return ShardedSafetensors.open(index);
      }
      var single = path.resolve("model.safetensors");
      if (Files.isRegularFile(single)) {
        return SafetensorsFile.open(single);
      }
      throw new SafetensorsException(
          "directory " + path + " holds neither model.safetensors.index.json nor model.safetensors");
    }
    if (path.getFileName().toString().endsWith(".index.json")) {
      return ShardedSafetensors.open(path);
    }
    return SafetensorsFile.open(path);
  }

  /** All tensors, in the fixed order described above. */
  List<TensorInfo> tensors();

  /** The {@code __metadata__} string map (for a sharded checkpoint, the index's {@code metadata}). */
  Map<String, String> metadata();

  Optional<TensorInfo> find(String name);

  /** The file that holds {@code name}. */
  Path fileOf(String name) throws SafetensorsException;

  /** The header entry of {@code name}, or an exception naming the tensor and the checkpoint. */
  TensorInfo info(String name) throws SafetensorsException;

  default boolean contains(String name) {
    return find(name).isPresent();
  }

  /**
   * Reads {@code count} elements of a floating-point tensor, starting at flat element {@code offset}, into
   * {@code dst[dstOffset..]}, converted to float32 (F64 is narrowed, F16/BF16/F8 widened exactly).
   */
  void readFloats(String name, long offset, float[] dst, int dstOffset, int count) throws IOException;

  /** Same as {@link #readFloats(String, long, float[], int, int)}, into float64 (F64 is kept exact). */
  void readDoubles(String name, long offset, double[] dst, int dstOffset, int count) throws IOException;

  /** Reads an integer or BOOL tensor's elements as long (U64 values above 2^63 − 1 come out negative). */
  void readLongs(String name, long offset, long[] dst, int dstOffset, int count) throws IOException;

  /** The tensor's raw little-endian bytes. */
  byte[] readRawBytes(String name) throws IOException;

  /** A whole floating-point tensor as float32. */
  default float[] readFloats(String name) throws IOException {
    var dst = new float[arrayLength(name)];
    readFloats(name, 0, dst, 0, dst.length);
    return dst;
  }

  /** A whole floating-point tensor as float64. */
  default double[] readDoubles(String name) throws IOException {
    var dst = new double[arrayLength(name)];
    readDoubles(name, 0, dst, 0, dst.length);
    return dst;
  }

  /** A whole integer or BOOL tensor as long. */
  default long[] readLongs(String name) throws IOException {
    var dst = new long[arrayLength(name)];
    readLongs(name, 0, dst, 0, dst.length);
    return dst;
  }

  private int arrayLength(String name) throws SafetensorsException {
    var info = info(name);
    long n = info.elementCount();
    if (n > MAX_ARRAY) {
      throw new SafetensorsException("tensor " + name + " in " + fileOf(name) + " has " + n
          + " elements, more than one Java array holds: read it in ranges");
    }
    return (int) n;
  }
}
