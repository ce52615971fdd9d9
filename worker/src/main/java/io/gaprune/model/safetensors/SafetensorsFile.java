package io.gaprune.model.safetensors;

import io.gaprune.model.Shapes;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One safetensors file: an 8-byte little-endian header length {@code N}, {@code N} bytes of UTF-8 JSON (padded
 * with spaces), then the data section. The header is parsed and validated when the file is opened; tensor data
 * are memory-mapped on each read, in windows of at most 1 GiB, so files and tensors above 2 GB are fine.
 *
 * <p>Validation follows the reference {@code safetensors} library: the header length is at most 100,000,000
 * bytes and inside the file, the JSON is a strict object without duplicate names, every dtype is known, every
 * shape's element count times the dtype size equals its byte range, and the ranges tile the data section
 * exactly (no overlap, no hole, nothing past the end or left over).
 */
public final class SafetensorsFile implements SafetensorsReader {

  /** The reference implementation's limit: larger headers are refused as malformed or hostile. */
  public static final long MAX_HEADER_BYTES = 100_000_000L;

  /** Largest mapping per read; a smaller one (tests) exercises the windowing on small files. */
  static final long DEFAULT_WINDOW_BYTES = 1L << 30;

  private final Path path;
  private final FileChannel channel;
  private final long dataStart;
  private final long windowBytes;
  private final Map<String, TensorInfo> byName;
  private final List<TensorInfo> ordered;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path path, FileChannel channel, long dataStart, List<TensorInfo> ordered,
      Map<String, String> metadata, long windowBytes) {
    this.path = path;
    this.windowBytes = windowBytes;
    this.channel = channel;
    this.dataStart = dataStart;
    this.ordered = List.copyOf(ordered);
    var map = new LinkedHashMap<String, TensorInfo>();
    for (var t : ordered) {
      map.put(t.name(), t);
    }
    this.byName = Collections.unmodifiableMap(map);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /** Opens and validates {@code path}; the channel stays open until {@link #close()}. */
  public static SafetensorsFile open(Path path) throws IOException {
    return open(path, DEFAULT_WINDOW_BYTES);
  }

  static SafetensorsFile open(Path path, long windowBytes) throws IOException {
    FileChannel channel;
    try {
      channel = FileChannel.open(path, StandardOpenOption.READ);
    } catch (IOException e) {
      throw new SafetensorsException("cannot open safetensors file " + path + ": " + e, e);
    }
    try {
      return parse(path, channel, windowBytes);
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
  }

  private static SafetensorsFile parse(Path path, FileChannel channel, long windowBytes) throws IOException {
    long size = channel.size();
    if (size < 8) {
      throw new SafetensorsException("safetensors file " + path + " is truncated: " + size
          + " bytes, fewer than the 8-byte header length");
    }
    var lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(channel, lenBuf, 0, path);
    long headerLen = lenBuf.flip().getLong();
    if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
      throw new SafetensorsException("safetensors file " + path + " has an implausible header length "
          + headerLen + " (must be 2.." + MAX_HEADER_BYTES + "): not a safetensors file?");
    }
    if (8 + headerLen > size) {
      throw new SafetensorsException("safetensors file " + path + " is truncated: header length " + headerLen
          + " but only " + (size - 8) + " bytes follow");
    }
    var headerBuf = ByteBuffer.allocate((int) headerLen);
    readFully(channel, headerBuf, 8, path);
    headerBuf.flip();
    String json;
    try {
      json = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(headerBuf).toString();
    } catch (CharacterCodingException e) {
      throw new SafetensorsException("safetensors file " + path + ": header is not valid UTF-8", e);
    }
    long dataStart = 8 + headerLen;
    long dataLen = size - dataStart;
    var metadata = new LinkedHashMap<String, String>();
    var tensors = parseHeader(path, json, metadata);
    validateLayout(path, tensors, dataLen);
    return new SafetensorsFile(path, channel, dataStart, tensors, metadata, windowBytes);
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path path) throws IOException {
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new SafetensorsException("safetensors file " + path + " is truncated at byte " + pos);
      }
      pos += n;
    }
  }

  private static List<TensorInfo> parseHeader(Path path, String json, Map<String, String> metadata)
      throws SafetensorsException {
    var tensors = new ArrayList<TensorInfo>();
    var seen = new java.util.HashSet<String>();
    String current = null;
    try (var r = new JsonReader(new StringReader(json))) {
      r.setStrictness(Strictness.STRICT);
      if (r.peek() != JsonToken.BEGIN_OBJECT) {
        throw new SafetensorsException("safetensors file " + path + ": bad header JSON: expected an object, found "
            + r.peek());
      }
      r.beginObject();
      while (r.hasNext()) {
        String name = r.nextName();
        current = name;
        if (!seen.add(name)) {
          throw new SafetensorsException("safetensors file " + path + ": bad header JSON: \"" + name
              + "\" appears twice");
        }
        if (name.equals("__metadata__")) {
          r.beginObject();
          while (r.hasNext()) {
            String k = r.nextName();
            if (r.peek() != JsonToken.STRING) {
              throw new SafetensorsException("safetensors file " + path + ": __metadata__ value of \"" + k
                  + "\" is " + r.peek() + ", the format allows only strings");
            }
            metadata.put(k, r.nextString());
          }
          r.endObject();
        } else {
          tensors.add(parseTensor(path, name, r));
        }
      }
      r.endObject();
      if (r.peek() != JsonToken.END_DOCUMENT) {
        throw new SafetensorsException("safetensors file " + path + ": bad header JSON: content after the object");
      }
    } catch (SafetensorsException e) {
      throw e;
    } catch (IOException | IllegalStateException | NumberFormatException e) {
      throw new SafetensorsException("safetensors file " + path + ": bad header JSON"
          + (current == null ? "" : " (at entry \"" + current + "\")") + ": " + e.getMessage(), e);
    }
    return tensors;
  }

  private static TensorInfo parseTensor(Path path, String name, JsonReader r) throws IOException {
    DType dtype = null;
    long[] shape = null;
    long[] offsets = null;
    r.beginObject();
    while (r.hasNext()) {
      String key = r.nextName();
      switch (key) {
        case "dtype" -> {
          String d = r.nextString();
          try {
            dtype = DType.parse(d);
          } catch (IllegalArgumentException e) {
            throw new SafetensorsException("safetensors file " + path + ": tensor " + name + ": " + e.getMessage());
          }
        }
        case "shape" -> shape = readLongArray(r);
        case "data_offsets" -> offsets = readLongArray(r);
        default -> throw new SafetensorsException("safetensors file " + path + ": tensor " + name
            + ": unexpected header field \"" + key + "\"");
      }
    }
    r.endObject();
    if (dtype == null || shape == null || offsets == null) {
      throw new SafetensorsException("safetensors file " + path + ": tensor " + name
          + ": header entry lacks " + (dtype == null ? "dtype" : shape == null ? "shape" : "data_offsets"));
    }
    if (offsets.length != 2) {
      throw new SafetensorsException("safetensors file " + path + ": tensor " + name
          + ": data_offsets must have 2 entries, has " + offsets.length);
    }
    long begin = offsets[0];
    long end = offsets[1];
    if (begin < 0 || end < begin) {
      throw new SafetensorsException("safetensors file " + path + ": tensor " + name + ": bad data_offsets ["
          + begin + ", " + end + "]");
    }
    long count;
    try {
      count = Shapes.elementCount(shape);
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw new SafetensorsException("safetensors file " + path + ": tensor " + name + ": bad shape "
          + java.util.Arrays.toString(shape));
    }
    long bytes;
    try {
      bytes = Math.multiplyExact(count, dtype.size());
    } catch (ArithmeticException e) {
      throw new SafetensorsException("safetensors file " + path + ": tensor " + name + ": shape too large");
    }
    if (bytes != end - begin) {
      throw new SafetensorsException("safetensors file " + path + ": tensor " + name + ": shape "
          + java.util.Arrays.toString(shape) + " of " + dtype + " needs " + bytes + " bytes, data_offsets give "
          + (end - begin));
    }
    return new TensorInfo(name, dtype, shape, begin, end);
  }

  private static long[] readLongArray(JsonReader r) throws IOException {
    var out = new ArrayList<Long>();
    r.beginArray();
    while (r.hasNext()) {
      out.add(r.nextLong());
    }
    r.endArray();
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  private static void validateLayout(Path path, List<TensorInfo> tensors, long dataLen)
      throws SafetensorsException {
    // Data order; ties (empty tensors at the same offset) by name so that the order is fixed.
    tensors.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end)
        .thenComparing(TensorInfo::name));
    long expected = 0;
    TensorInfo previous = null;
    for (var t : tensors) {
      if (t.end() > dataLen) {
        throw new SafetensorsException("safetensors file " + path + ": tensor " + t.name() + " lies out of bounds: "
            + "bytes [" + t.begin() + ", " + t.end() + ") of a data section of " + dataLen
            + " bytes (truncated file?)");
      }
      if (t.begin() < expected) {
        throw new SafetensorsException("safetensors file " + path + ": tensor " + t.name() + " at ["
            + t.begin() + ", " + t.end() + ") overlaps " + previous.name() + " at [" + previous.begin() + ", "
            + previous.end() + ")");
      }
      if (t.begin() > expected) {
        throw new SafetensorsException("safetensors file " + path + ": hole in the data section at bytes ["
            + expected + ", " + t.begin() + ") before tensor " + t.name());
      }
      expected = t.end();
      previous = t;
    }
    if (expected != dataLen) {
      throw new SafetensorsException("safetensors file " + path + ": data section has " + dataLen
          + " bytes but the tensors cover " + expected);
    }
  }

  public Path path() {
    return path;
  }

  /** Byte position of the data section in the file (8 + header length). */
  public long dataStart() {
    return dataStart;
  }

  @Override
  public List<TensorInfo> tensors() {
    return ordered;
  }

  @Override
  public Map<String, String> metadata() {
    return metadata;
  }

  @Override
  public Optional<TensorInfo> find(String name) {
    return Optional.ofNullable(byName.get(name));
  }

  @Override
  public Path fileOf(String name) throws SafetensorsException {
    info(name);
    return path;
  }

  @Override
  public TensorInfo info(String name) throws SafetensorsException {
    var t = byName.get(name);
    if (t == null) {
      throw new SafetensorsException("tensor " + name + " is missing from safetensors file " + path + " ("
          + ordered.size() + " tensors)");
    }
    return t;
  }

  /** Receives consecutive windows of a tensor's data: {@code buf} holds {@code count} elements for {@code at}. */
  @FunctionalInterface
  private interface WindowConsumer {
    void accept(ByteBuffer buf, int at, int count) throws IOException;
  }

  private void forEachWindow(TensorInfo t, long offset, int count, int arrayLength, int dstOffset,
      WindowConsumer consumer) throws IOException {
    long n = t.elementCount();
    if (offset < 0 || count < 0 || offset > n - count) {
      throw new SafetensorsException("tensor " + t.name() + " in " + path + ": range [" + offset + ", "
          + (offset + count) + ") outside its " + n + " elements");
    }
    if (dstOffset < 0 || dstOffset > arrayLength - count) {
      throw new IndexOutOfBoundsException("destination range [" + dstOffset + ", " + (dstOffset + count)
          + ") outside an array of " + arrayLength);
    }
    int size = t.dtype().size();
    int perWindow = (int) Math.max(1, windowBytes / size);
    int done = 0;
    while (done < count) {
      int k = Math.min(perWindow, count - done);
      long pos = dataStart + t.begin() + (offset + done) * size;
      var buf = channel.map(FileChannel.MapMode.READ_ONLY, pos, (long) k * size).order(ByteOrder.LITTLE_ENDIAN);
      consumer.accept(buf, dstOffset + done, k);
      done += k;
    }
  }

  @Override
  public void readFloats(String name, long offset, float[] dst, int dstOffset, int count) throws IOException {
    var t = info(name);
    var dtype = t.dtype();
    if (!dtype.isFloating()) {
      throw new SafetensorsException("tensor " + name + " in " + path + " is " + dtype
          + ", not a floating-point type: read it with readLongs");
    }
    forEachWindow(t, offset, count, dst.length, dstOffset, (buf, at, k) -> {
      switch (dtype) {
        case F32 -> buf.asFloatBuffer().get(dst, at, k);
        case F64 -> {
          var d = buf.asDoubleBuffer();
          for (int i = 0; i < k; i++) {
            dst[at + i] = (float) d.get(i);
          }
        }
        case F16 -> {
          var s = buf.asShortBuffer();
          for (int i = 0; i < k; i++) {
            dst[at + i] = HalfFloats.f16ToFloat(s.get(i));
          }
        }
        case BF16 -> {
          var s = buf.asShortBuffer();
          for (int i = 0; i < k; i++) {
            dst[at + i] = HalfFloats.bf16ToFloat(s.get(i));
          }
        }
        case F8_E5M2 -> {
          for (int i = 0; i < k; i++) {
            dst[at + i] = HalfFloats.f8e5m2ToFloat(buf.get(i));
          }
        }
        case F8_E4M3 -> {
          for (int i = 0; i < k; i++) {
            dst[at + i] = HalfFloats.f8e4m3ToFloat(buf.get(i));
          }
        }
        default -> throw new AssertionError(dtype);
      }
    });
  }

  @Override
  public void readDoubles(String name, long offset, double[] dst, int dstOffset, int count) throws IOException {
    var t = info(name);
    var dtype = t.dtype();
    if (!dtype.isFloating()) {
      throw new SafetensorsException("tensor " + name + " in " + path + " is " + dtype
          + ", not a floating-point type: read it with readLongs");
    }
    if (dtype == DType.F64) {
      forEachWindow(t, offset, count, dst.length, dstOffset, (buf, at, k) -> buf.asDoubleBuffer().get(dst, at, k));
      return;
    }
    // Narrower types: convert through float32 in chunks (exact, every such value is a float).
    var chunk = new float[(int) Math.min(count, 1 << 16)];
    int done = 0;
    while (done < count) {
      int k = Math.min(chunk.length, count - done);
      readFloats(name, offset + done, chunk, 0, k);
      for (int i = 0; i < k; i++) {
        dst[dstOffset + done + i] = chunk[i];
      }
      done += k;
    }
  }

  @Override
  public void readLongs(String name, long offset, long[] dst, int dstOffset, int count) throws IOException {
    var t = info(name);
    var dtype = t.dtype();
    if (dtype.isFloating()) {
      throw new SafetensorsException("tensor " + name + " in " + path + " is " + dtype
          + ", a floating-point type: read it with readFloats or readDoubles");
    }
    forEachWindow(t, offset, count, dst.length, dstOffset, (buf, at, k) -> {
      switch (dtype) {
        case I64, U64 -> buf.asLongBuffer().get(dst, at, k);
        case I32 -> {
          var b = buf.asIntBuffer();
          for (int i = 0; i < k; i++) {
            dst[at + i] = b.get(i);
          }
        }
        case U32 -> {
          var b = buf.asIntBuffer();
          for (int i = 0; i < k; i++) {
            dst[at + i] = Integer.toUnsignedLong(b.get(i));
          }
        }
        case I16 -> {
          var b = buf.asShortBuffer();
          for (int i = 0; i < k; i++) {
            dst[at + i] = b.get(i);
          }
        }
        case U16 -> {
          var b = buf.asShortBuffer();
          for (int i = 0; i < k; i++) {
            dst[at + i] = b.get(i) & 0xffff;
          }
        }
        case I8 -> {
          for (int i = 0; i < k; i++) {
            dst[at + i] = buf.get(i);
          }
        }
        case U8 -> {
          for (int i = 0; i < k; i++) {
            dst[at + i] = buf.get(i) & 0xff;
          }
        }
        case BOOL -> {
          for (int i = 0; i < k; i++) {
            byte v = buf.get(i);
            if (v != 0 && v != 1) {
              throw new SafetensorsException("tensor " + name + " in " + path + ": BOOL element "
                  + (offset + (at - dstOffset) + i) + " is " + (v & 0xff) + ", not 0 or 1");
            }
            dst[at + i] = v;
          }
        }
        default -> throw new AssertionError(dtype);
      }
    });
  }

  @Override
  public byte[] readRawBytes(String name) throws IOException {
    var t = info(name);
    if (t.byteSize() > MAX_ARRAY) {
      throw new SafetensorsException("tensor " + name + " in " + path + " has " + t.byteSize()
          + " bytes, more than one Java array holds");
    }
    var out = new byte[(int) t.byteSize()];
    var buf = ByteBuffer.wrap(out);
    long pos = dataStart + t.begin();
    readFully(channel, buf, pos, path);
    return out;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  @Override
  public String toString() {
    return "SafetensorsFile[" + path + ", " + ordered.size() + " tensors]";
  }
}
