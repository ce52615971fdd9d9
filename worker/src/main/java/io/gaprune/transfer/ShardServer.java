package io.gaprune.transfer;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.typesafe.config.Config;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.ShardTicket;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import javax.net.ssl.SSLServerSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker's shard port: it serves each offered merger group's chunks once, to whoever presents the offer's
 * ticket, over a TCP connection of its own (TLS when the cluster runs TLS) rather than through Artery, whose
 * StreamRefs reach a fifth of a raw socket here (docs/cluster.md, "Shard bytes over the worker's shard port").
 * Back-pressure is TCP's: the server writes a chunk only when the socket takes it, and builds the next chunk
 * only then, so a unit's chunks never sit in memory as a whole.
 *
 * <p>Who may pull: a ticket's secret is 32 bytes from {@link SecureRandom}, reaches the owner only inside the
 * cluster's own messages, is good for one connection and expires after {@code offerTimeout}. A connection that
 * does not present a known ticket within {@code handshakeTimeout} is closed having received one status byte and
 * no data; at most {@code maxConnections} are served at once (more are answered busy and closed).
 * Threads: one accepts, each connection is served on a pool thread; nothing here runs in an actor.
 */
public final class ShardServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ShardServer.class);

  /**
   * @param host the address this port binds and advertises (the node's cluster hostname)
   * @param closeWait how long a served connection waits for the puller to close after the end frame
   */
  public record Settings(String host, int port, int maxConnections, Duration offerTimeout, Duration handshakeTimeout,
      Duration closeWait) {
    public static Settings from(Config c) {
      String bind = c.hasPath("pekko.remote.artery.bind.hostname") ? c.getString("pekko.remote.artery.bind.hostname") : "";
      return new Settings(bind.isBlank() ? c.getString("pekko.remote.artery.canonical.hostname") : bind,
          c.getInt("gaprune.stream.tcp-port"),
          c.getInt("gaprune.stream.tcp-max-connections"),
          c.getDuration("gaprune.stream.tcp-offer-timeout"),
          c.getDuration("gaprune.stream.tcp-handshake-timeout"),
          c.getDuration("gaprune.coordinator.lease-timeout"));
    }
  }

  private record Offer(Supplier<Iterator<ShardChunk>> chunks, long expiresAt) {}

  private final Settings settings;
  private final String advertised;
  private final ServerSocket server;
  private final ThreadPoolExecutor connections;
  private final Thread acceptor;
  private final SecureRandom random = new SecureRandom();
  private final Map<ByteString, Offer> offers = new ConcurrentHashMap<>();
  private final AtomicInteger served = new AtomicInteger();
  private volatile boolean closed;

  private ShardServer(Settings settings, String advertised, TransferTls tls) throws IOException {
    this.settings = settings;
    this.advertised = advertised;
    InetAddress bind = InetAddress.getByName(settings.host());
    if (tls != null) {
      SSLServerSocket s = (SSLServerSocket) tls.context().getServerSocketFactory().createServerSocket();
      tls.configure(s);
      server = s;
    } else {
      server = new ServerSocket();
    }
    server.setReuseAddress(true);
    server.setReceiveBufferSize(1 << 20);
    try {
      server.bind(new InetSocketAddress(bind, settings.port()), 64);
    } catch (IOException e) {
      server.close();
      throw new IOException("cannot open the shard port on " + settings.host() + ":" + settings.port()
          + " (gaprune.cluster.hostname, gaprune.stream.tcp-port): " + e.getMessage(), e);
    }
    connections = new ThreadPoolExecutor(0, settings.maxConnections(), 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
        r -> {
          Thread t = new Thread(r, "gaprune-shard-port-" + served.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    acceptor = new Thread(this::acceptLoop, "gaprune-shard-port-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** Opens the node's shard port as {@code config} says (TLS exactly when the cluster runs TLS). */
  public static ShardServer start(Config config) throws IOException {
    Settings s = Settings.from(config);
    return new ShardServer(s, config.getString("pekko.remote.artery.canonical.hostname"), TransferTls.from(config));
  }

  /** For tests: a port on {@code settings.host()} that advertises that host. */
  public static ShardServer start(Settings settings, TransferTls tls) throws IOException {
    return new ShardServer(settings, settings.host(), tls);
  }

  public int port() {
    return server.getLocalPort();
  }

  /**
   * Registers one group's chunks and returns the ticket to pull them with. {@code chunks} is called once, on the
   * connection's thread, when the ticket is presented; it must read state that no longer changes. Each chunk is
   * written out before the next is asked for, so the iterator may reuse one buffer for all of them.
   */
  public ShardTicket offer(Supplier<Iterator<ShardChunk>> chunks) {
    long now = System.nanoTime();
    offers.values().removeIf(o -> o.expiresAt() - now < 0);
    byte[] secret = new byte[ShardWire.SECRET_BYTES];
    random.nextBytes(secret);
    ByteString key = ByteString.copyFrom(secret);
    offers.put(key, new Offer(chunks, now + settings.offerTimeout().toNanos()));
    return ShardTicket.newBuilder().setHost(advertised).setPort(port()).setSecret(key).build();
  }

  /** Forgets an offer not pulled yet (the unit is durable elsewhere, or re-offered with a fresh ticket). */
  public void withdraw(ShardTicket ticket) {
    offers.remove(ticket.getSecret());
  }

  /** Offers registered and neither pulled, withdrawn nor expired (for tests and diagnostics). */
  public int pending() {
    long now = System.nanoTime();
    return (int) offers.values().stream().filter(o -> o.expiresAt() - now >= 0).count();
  }

  private void acceptLoop() {
    while (!closed) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        if (!closed) {
          LOG.warn("shard port: accept failed: {}", e.getMessage());
          pause(); // e.g. out of file descriptors: do not spin
        }
        continue;
      }
      try {
        connections.execute(() -> serve(s));
      } catch (RejectedExecutionException busy) {
        // closed unanswered: a status byte would need a TLS handshake, on this thread
        closeQuietly(s);
      }
    }
  }

  private void serve(Socket s) {
    try (s) {
      s.setSoTimeout((int) settings.handshakeTimeout().toMillis());
      s.setTcpNoDelay(true);
      s.setSendBufferSize(1 << 20);
      var in = new DataInputStream(s.getInputStream());
      byte[] magic = new byte[ShardWire.MAGIC.length];
      in.readFully(magic);
      if (!Arrays.equals(magic, ShardWire.MAGIC)) {
        status(s.getOutputStream(), ShardWire.BAD_REQUEST);
        return;
      }
      byte[] secret = new byte[ShardWire.SECRET_BYTES];
      in.readFully(secret);
      Offer offer = offers.remove(ByteString.copyFrom(secret));
      OutputStream out = s.getOutputStream();
      if (offer == null || offer.expiresAt() - System.nanoTime() < 0) {
        status(out, ShardWire.UNKNOWN_TICKET);
        return;
      }
      // a reader that stops reading stalls our writes (no timeout covers a blocking write): the puller's own idle
      // timeout, the lease timeout, closes such a connection from its side
      s.setSoTimeout((int) settings.closeWait().toMillis());
      status(out, ShardWire.OK);
      CodedOutputStream coded = CodedOutputStream.newInstance(out, 64 * 1024);
      for (Iterator<ShardChunk> it = offer.chunks().get(); it.hasNext(); ) {
        ShardChunk c = it.next();
        coded.writeFixed32NoTag(c.getSerializedSize());
        c.writeTo(coded);
      }
      coded.writeFixed32NoTag(0);
      coded.flush();
      s.shutdownOutput();
      // wait for the puller to close: a reset before it read the end frame would lose the tail
      while (in.read() >= 0) {
        // nothing is expected after the request
      }
    } catch (SocketException e) {
      if (!closed) {
        LOG.debug("shard port: connection ended: {}", e.getMessage());
      }
    } catch (IOException | RuntimeException e) {
      if (!closed) {
        LOG.warn("shard port: serving a connection failed: {}", e.toString());
      }
    }
  }

  private static void pause() {
    try {
      Thread.sleep(100);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // the peer is gone already
    }
  }

  private static void status(OutputStream out, int code) throws IOException {
    out.write(code);
    out.flush();
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    connections.shutdownNow();
    offers.clear();
  }
}
