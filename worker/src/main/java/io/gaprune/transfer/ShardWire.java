package io.gaprune.transfer;

import java.nio.charset.StandardCharsets;

/**
 * The shard port's protocol, both ends. The puller opens a connection and sends {@link #MAGIC} (5 bytes: the
 * name and the version) and the ticket's secret ({@link #SECRET_BYTES}); the server answers one status byte and,
 * on {@link #OK}, the offer's chunks as frames (a 4-byte little-endian length, then a serialized {@code ShardChunk}),
 * ended by a frame of length 0, after which it closes. No frame is longer than {@link #MAX_FRAME}; a longer or
 * negative length is a protocol error on the puller's side. Integrity end to end: the owner checks the chunks'
 * order, count, bytes and CRC32C against the digest the worker sent over the cluster.
 */
public final class ShardWire {
  static final byte[] MAGIC = "GPSH\u0001".getBytes(StandardCharsets.US_ASCII);
  public static final int SECRET_BYTES = 32;
  static final int OK = 0;
  static final int UNKNOWN_TICKET = 1;
  static final int BAD_REQUEST = 2;

  /** The largest chunk of values a worker may send over the shard port ({@code gaprune.stream.tcp-chunk-bytes}). */
  public static final int MAX_CHUNK_BYTES = 16 << 20;
  /** A chunk's values plus its tensor name, statistic and offset. */
  static final int MAX_FRAME = MAX_CHUNK_BYTES + 64 * 1024;

  private ShardWire() {}

  static String status(int code) {
    return switch (code) {
      case OK -> "ok";
      case UNKNOWN_TICKET -> "unknown or already used ticket (the offer expired, or the shards were pulled already)";
      case BAD_REQUEST -> "bad request";
      default -> "unknown status " + code;
    };
  }
}
