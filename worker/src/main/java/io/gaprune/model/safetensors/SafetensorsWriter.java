package io.gaprune.model.safetensors;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * Writes a safetensors file as a stream: the tensors are declared up front (so the header, with every offset,
 * goes first), then their data are written in the declared order, each tensor in one call or in several
 * consecutive pieces. Nothing but a 1 MiB buffer is held, so a checkpoint larger than memory can be written
 * tensor by tensor.
 *
 * <p>The header is padded with spaces to a multiple of 8 bytes, as the format allows, so the data section
 * starts 8-byte aligned. The file is written under {@code <name>.partial} and moved into place by
 * {@link #close()} only when every tensor is complete; an incomplete writer deletes it and throws.
 */
public final class SafetensorsWriter implements Closeable {

  private static final int BUFFER_BYTES = 1 << 20;

  private final Path path;
  private final Path partial;
  private final FileChannel channel;
  private final List<TensorSpec> specs;
  private final ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
  private int current;
  private long writtenOfCurrent;
  private boolean closed;

  private SafetensorsWriter(Path path, Path partial, FileChannel channel, List<TensorSpec> specs) {
    this.path = path;
    this.partial = partial;
    this.channel = channel;
    this.specs = specs;
  }

  /** Creates the file (replacing it on success) with these tensors, in this order, and string metadata. */
  public static SafetensorsWriter create(Path path, List<TensorSpec> specs, Map<String, String> metadata)
      throws IOException {
    var names = new HashSet<String>();
    for (var s : specs) {
      if (s.name().equals("__metadata__")) {
        throw new SafetensorsException("cannot write " + path + ": \"__metadata__\" is reserved, not a tensor name");
      }
      if (!names.add(s.name())) {
        throw new SafetensorsException("cannot write " + path + ": tensor " + s.name() + " declared twice");
      }
    }
    byte[] header = header(specs, metadata);
    var partial = path.resolveSibling(path.getFileName() + ".partial");
    var channel = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE);
    var w = new SafetensorsWriter(path, partial, channel, List.copyOf(specs));
    try {
      w.buf.putLong(header.length);
      w.put(header);
      w.skipCompleted();
    } catch (IOException | RuntimeException e) {
      w.abort();
      throw e;
    }
    return w;
  }

  /**
   * The header bytes, padded with spaces to a multiple of 8 (without the 8-byte length before them). Metadata keys
   * are written sorted, so the same content gives the same bytes whatever map holds it ({@code Map.of} iterates in
   * an order that changes from one JVM to the next, which made equal files differ in their SHA-256).
   */
  static byte[] header(List<TensorSpec> specs, Map<String, String> metadata) {
    var root = new JsonObject();
    if (metadata != null && !metadata.isEmpty()) {
      var md = new JsonObject();
      new java.util.TreeMap<>(metadata).forEach(md::addProperty);
      root.add("__metadata__", md);
    }
    long offset = 0;
    for (var s : specs) {
      var entry = new JsonObject();
      entry.addProperty("dtype", s.dtype().name());
      var shape = new JsonArray();
      for (long d : s.shape()) {
        shape.add(d);
      }
      entry.add("shape", shape);
      long end = offset + Math.multiplyExact(s.elementCount(), s.dtype().size());
      var offsets = new JsonArray();
      offsets.add(offset);
      offsets.add(end);
      entry.add("data_offsets", offsets);
      root.add(s.name(), entry);
      offset = end;
    }
    byte[] json = new GsonBuilder().disableHtmlEscaping().create().toJson(root).getBytes(StandardCharsets.UTF_8);
    int padded = (json.length + 7) & ~7;
    var out = new byte[padded];
    System.arraycopy(json, 0, out, 0, json.length);
    for (int i = json.length; i < padded; i++) {
      out[i] = ' ';
    }
    return out;
  }

  public Path path() {
    return path;
  }

  private TensorSpec begin(String name, long count, String what) throws SafetensorsException {
    if (closed) {
      throw new SafetensorsException("writer of " + path + " is closed");
    }
    if (current >= specs.size()) {
      throw new SafetensorsException("cannot write tensor " + name + " to " + path
          + ": every declared tensor is already complete");
    }
    var spec = specs.get(current);
    if (!spec.name().equals(name)) {
      throw new SafetensorsException("cannot write tensor " + name + " to " + path + ": tensors are written in "
          + "declared order and " + spec.name() + " is next (" + writtenOfCurrent + " of "
          + spec.elementCount() + " elements written)");
    }
    if (count > spec.elementCount() - writtenOfCurrent) {
      throw new SafetensorsException("cannot write " + count + " more elements to tensor " + name + " in " + path
          + ": it has " + spec.elementCount() + " and " + writtenOfCurrent + " are written");
    }
    var d = spec.dtype();
    boolean ok = switch (what) {
      case "float", "double" -> d == DType.F32 || d == DType.F64 || d == DType.F16 || d == DType.BF16;
      case "long" -> !d.isFloating();
      case "byte" -> d == DType.U8 || d == DType.I8 || d == DType.BOOL;
      default -> false;
    };
    if (!ok) {
      throw new SafetensorsException("cannot write " + what + " values to tensor " + name + " of dtype " + d
          + " in " + path);
    }
    return spec;
  }

  private void advance(long count) throws IOException {
    writtenOfCurrent += count;
    skipCompleted();
  }

  private void skipCompleted() {
    while (current < specs.size() && writtenOfCurrent == specs.get(current).elementCount()) {
      current++;
      writtenOfCurrent = 0;
    }
  }

  private void ensure(int bytes) throws IOException {
    if (buf.remaining() < bytes) {
      flush();
    }
  }

  private void flush() throws IOException {
    buf.flip();
    while (buf.hasRemaining()) {
      channel.write(buf);
    }
    buf.clear();
  }

  private void put(byte[] bytes) throws IOException {
    int i = 0;
    while (i < bytes.length) {
      ensure(1);
      int k = Math.min(buf.remaining(), bytes.length - i);
      buf.put(bytes, i, k);
      i += k;
    }
  }

  public void writeFloats(String name, float[] src) throws IOException {
    writeFloats(name, src, 0, src.length);
  }

  /**
   * Appends {@code src[off..off+len)} to tensor {@code name} (F32, F64 widened, F16/BF16 rounded to nearest
   * even).
   */
  public void writeFloats(String name, float[] src, int off, int len) throws IOException {
    var d = begin(name, len, "float").dtype();
    for (int i = off; i < off + len; i++) {
      ensure(8);
      switch (d) {
        case F32 -> buf.putFloat(src[i]);
        case F64 -> buf.putDouble(src[i]);
        case F16 -> buf.putShort(HalfFloats.floatToF16(src[i]));
        case BF16 -> buf.putShort(HalfFloats.floatToBf16(src[i]));
        default -> throw new AssertionError(d);
      }
    }
    advance(len);
  }

  public void writeDoubles(String name, double[] src) throws IOException {
    writeDoubles(name, src, 0, src.length);
  }

  /**
   * Appends float64 values to tensor {@code name}: F64 exact, F32 rounded; F16/BF16 go through float32 (a
   * double rounding that can differ from direct rounding by one unit in rare halfway cases).
   */
  public void writeDoubles(String name, double[] src, int off, int len) throws IOException {
    var d = begin(name, len, "double").dtype();
    for (int i = off; i < off + len; i++) {
      ensure(8);
      switch (d) {
        case F64 -> buf.putDouble(src[i]);
        case F32 -> buf.putFloat((float) src[i]);
        case F16 -> buf.putShort(HalfFloats.floatToF16((float) src[i]));
        case BF16 -> buf.putShort(HalfFloats.floatToBf16((float) src[i]));
        default -> throw new AssertionError(d);
      }
    }
    advance(len);
  }

  public void writeLongs(String name, long[] src) throws IOException {
    writeLongs(name, src, 0, src.length);
  }

  /** Appends integer values to an integer or BOOL tensor; a value outside the dtype's range is refused. */
  public void writeLongs(String name, long[] src, int off, int len) throws IOException {
    var d = begin(name, len, "long").dtype();
    long min;
    long max;
    switch (d) {
      case I64, U64 -> {
        min = Long.MIN_VALUE;
        max = Long.MAX_VALUE;
      }
      case I32 -> {
        min = Integer.MIN_VALUE;
        max = Integer.MAX_VALUE;
      }
      case U32 -> {
        min = 0;
        max = 0xffffffffL;
      }
      case I16 -> {
        min = Short.MIN_VALUE;
        max = Short.MAX_VALUE;
      }
      case U16 -> {
        min = 0;
        max = 0xffff;
      }
      case I8 -> {
        min = Byte.MIN_VALUE;
        max = Byte.MAX_VALUE;
      }
      case U8 -> {
        min = 0;
        max = 0xff;
      }
      case BOOL -> {
        min = 0;
        max = 1;
      }
      default -> throw new AssertionError(d);
    }
    for (int i = off; i < off + len; i++) {
      long v = src[i];
      if (v < min || v > max) {
        throw new SafetensorsException("tensor " + name + " in " + path + ": value " + v + " at element "
            + (writtenOfCurrent + i - off) + " does not fit " + d);
      }
    }
    for (int i = off; i < off + len; i++) {
      ensure(8);
      long v = src[i];
      switch (d.size()) {
        case 8 -> buf.putLong(v);
        case 4 -> buf.putInt((int) v);
        case 2 -> buf.putShort((short) v);
        default -> buf.put((byte) v);
      }
    }
    advance(len);
  }

  public void writeBytes(String name, byte[] src) throws IOException {
    writeBytes(name, src, 0, src.length);
  }

  /** Appends one-byte values to a U8, I8 or BOOL tensor (BOOL values must be 0 or 1). */
  public void writeBytes(String name, byte[] src, int off, int len) throws IOException {
    var d = begin(name, len, "byte").dtype();
    if (d == DType.BOOL) {
      for (int i = off; i < off + len; i++) {
        if (src[i] != 0 && src[i] != 1) {
          throw new SafetensorsException("tensor " + name + " in " + path + ": BOOL value " + src[i]
              + " at element " + (writtenOfCurrent + i - off) + " is not 0 or 1");
        }
      }
    }
    int i = off;
    while (i < off + len) {
      ensure(1);
      int k = Math.min(buf.remaining(), off + len - i);
      buf.put(src, i, k);
      i += k;
    }
    advance(len);
  }

  /** Deletes the partial file; the destination is left as it was. */
  public void abort() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      channel.close();
    } catch (IOException ignored) {
      // the file is deleted next anyway
    }
    try {
      Files.deleteIfExists(partial);
    } catch (IOException ignored) {
      // best effort: a stale .partial file is harmless and overwritten next time
    }
  }

  /** Completes the file and moves it into place, or, if a tensor is incomplete, deletes it and throws. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    if (current < specs.size()) {
      var spec = specs.get(current);
      long missing = spec.elementCount() - writtenOfCurrent;
      abort();
      throw new SafetensorsException("safetensors file " + path + " not written: tensor " + spec.name() + " lacks "
          + missing + " of " + spec.elementCount() + " elements"
          + (specs.size() - current > 1 ? " and " + (specs.size() - current - 1) + " later tensors are unwritten" : ""));
    }
    try {
      flush();
      channel.force(false);
      channel.close();
      closed = true;
      try {
        Files.move(partial, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(partial, path, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException | RuntimeException e) {
      closed = false;
      abort();
      throw e;
    }
  }
}
