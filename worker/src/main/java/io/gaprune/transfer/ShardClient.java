package io.gaprune.transfer;

import com.google.protobuf.CodedInputStream;
import com.typesafe.config.Config;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.ShardTicket;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;

/**
 * The owner's side of the shard port: pulls one group's chunks with a ticket and hands them, in order, to a sink
 * (the group's staging file). Blocking; callers run it off their actor's thread.
 */
public final class ShardClient {
  /** Where the chunks go. A chunk's bytes are valid only during the call: the buffer is reused for the next. */
  @FunctionalInterface
  public interface ChunkSink {
    void accept(ShardChunk chunk) throws IOException;
  }

  private final TransferTls tls;
  private final Duration connectTimeout;
  private final Duration idleTimeout;

  /**
   * @param tls null for plain TCP
   * @param idleTimeout how long the stream may stay silent before the pull fails (a dead or stalled worker)
   */
  public ShardClient(TransferTls tls, Duration connectTimeout, Duration idleTimeout) {
    this.tls = tls;
    this.connectTimeout = connectTimeout;
    this.idleTimeout = idleTimeout;
  }

  /** A client for a node built from {@code config}: the cluster's TLS, the lease timeout as patience. */
  public static ShardClient from(Config config) throws IOException {
    return new ShardClient(TransferTls.from(config), config.getDuration("gaprune.stream.tcp-handshake-timeout"),
        config.getDuration("gaprune.coordinator.lease-timeout"));
  }

  /** Pulls every chunk of the ticket's offer into {@code sink}; returns the number of chunks. */
  public long pull(ShardTicket ticket, ChunkSink sink) throws IOException {
    String where = ticket.getHost() + ":" + ticket.getPort();
    if (ticket.getSecret().size() != ShardWire.SECRET_BYTES) {
      throw new IOException("shard ticket for " + where + " has a " + ticket.getSecret().size() + "-byte secret, not "
          + ShardWire.SECRET_BYTES);
    }
    Socket plain = new Socket();
    try (plain) {
      plain.setReceiveBufferSize(1 << 20);
      plain.connect(new InetSocketAddress(ticket.getHost(), ticket.getPort()), (int) connectTimeout.toMillis());
      plain.setSoTimeout((int) idleTimeout.toMillis());
      plain.setTcpNoDelay(true);
      Socket s = tls != null ? tls.wrap(plain, ticket.getHost(), ticket.getPort()) : plain;
      try (s) {
        OutputStream out = s.getOutputStream();
        byte[] request = new byte[ShardWire.MAGIC.length + ShardWire.SECRET_BYTES];
        System.arraycopy(ShardWire.MAGIC, 0, request, 0, ShardWire.MAGIC.length);
        ticket.getSecret().copyTo(request, ShardWire.MAGIC.length);
        out.write(request);
        out.flush();
        var in = new DataInputStream(new java.io.BufferedInputStream(s.getInputStream(), 1 << 16));
        int status = in.read();
        if (status < 0) {
          throw new IOException("the shard port " + where + " closed the connection without an answer (it serves"
              + " its maximum number of connections, or it is shutting down)");
        }
        if (status != ShardWire.OK) {
          throw new IOException("the shard port " + where + " refused the pull: " + ShardWire.status(status));
        }
        return frames(in, sink, where);
      }
    } catch (SocketTimeoutException e) {
      throw new IOException("the shard stream from " + where + " was silent for " + idleTimeout.toSeconds()
          + " s: the worker is gone or stalled", e);
    }
  }

  private static long frames(DataInputStream in, ChunkSink sink, String where) throws IOException {
    byte[] buffer = new byte[1 << 16];
    long chunks = 0;
    while (true) {
      int length = Integer.reverseBytes(readInt(in, where, chunks));
      if (length == 0) {
        return chunks;
      }
      if (length < 0 || length > ShardWire.MAX_FRAME) {
        throw new IOException("the shard stream from " + where + " sent a frame of " + Integer.toUnsignedString(length)
            + " bytes; at most " + ShardWire.MAX_FRAME + " are allowed");
      }
      if (buffer.length < length) {
        buffer = new byte[Math.max(length, Math.min(ShardWire.MAX_FRAME, buffer.length * 2))];
      }
      readFully(in, buffer, length, where, chunks);
      CodedInputStream coded = CodedInputStream.newInstance(buffer, 0, length);
      coded.enableAliasing(true); // the values stay in the buffer: one copy less per chunk
      sink.accept(ShardChunk.parseFrom(coded));
      chunks++;
    }
  }

  private static int readInt(DataInputStream in, String where, long chunks) throws IOException {
    try {
      return in.readInt();
    } catch (EOFException e) {
      throw ended(where, chunks, e);
    }
  }

  private static void readFully(DataInputStream in, byte[] into, int length, String where, long chunks)
      throws IOException {
    try {
      in.readFully(into, 0, length);
    } catch (EOFException e) {
      throw ended(where, chunks, e);
    }
  }

  private static IOException ended(String where, long chunks, EOFException e) {
    return new IOException("the shard stream from " + where + " ended after " + chunks + " chunks without its end"
        + " frame (the worker stopped)", e);
  }
}
