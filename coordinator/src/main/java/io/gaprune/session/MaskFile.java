package io.gaprune.session;

import io.gaprune.protocol.MaskChunk;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The wire form of masks for a writer on another node, and the SHA-256 of mask files. Bit-packed keep-masks (bit i of byte i/8, LSB first, 1 = keep) as a sequence of length-delimited
 * {@link MaskChunk}s of at most 64 KiB: the same pieces that travel to a writer over the cluster.
 */
public final class MaskFile {
  public static final int CHUNK_BYTES = 64 * 1024;

  private MaskFile() {}

  public static String write(Path file, Map<String, byte[]> masks) throws IOException {
    Files.createDirectories(file.getParent());
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp))) {
      for (var e : masks.entrySet()) {
        byte[] bits = e.getValue();
        for (int off = 0; off < bits.length || off == 0; off += CHUNK_BYTES) {
          int len = Math.min(CHUNK_BYTES, bits.length - off);
          MaskChunk.newBuilder().setTensor(e.getKey()).setBitOffset((long) off * 8)
              .setBits(com.google.protobuf.ByteString.copyFrom(bits, off, len)).build().writeDelimitedTo(out);
          if (bits.length == 0) {
            break;
          }
        }
      }
    }
    try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    AccumulatorStore.moveAtomically(tmp, file);
    return sha256(file);
  }

  public static Map<String, byte[]> read(Path file) throws IOException {
    Map<String, java.io.ByteArrayOutputStream> parts = new LinkedHashMap<>();
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
      MaskChunk c;
      while ((c = MaskChunk.parseDelimitedFrom(in)) != null) {
        c.getBits().writeTo(parts.computeIfAbsent(c.getTensor(), k -> new java.io.ByteArrayOutputStream()));
      }
    }
    Map<String, byte[]> out = new LinkedHashMap<>();
    parts.forEach((k, v) -> out.put(k, v.toByteArray()));
    return out;
  }

  public static String sha256(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      int r;
      while ((r = in.read(buf)) > 0) {
        md.update(buf, 0, r);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

}
