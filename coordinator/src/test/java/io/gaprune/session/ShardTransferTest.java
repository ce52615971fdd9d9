package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.gaprune.protocol.ShardChunk;
import io.gaprune.protocol.ShardTicket;
import io.gaprune.protocol.Statistic;
import io.gaprune.transfer.ShardClient;
import io.gaprune.transfer.ShardServer;
import io.gaprune.transfer.ShardWire;
import io.gaprune.transfer.TransferTls;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The worker's shard port, both ends, over real loopback sockets: the chunks arrive as offered, and the port
 * refuses what it must (a wrong, reused, withdrawn or expired ticket, a bad request, a silent client, more
 * connections than allowed, a peer without the deployment's certificate); the puller refuses a server that
 * sends an oversized frame or stops early. Traffic goes to 127.0.0.1 only, a bounded number of connections.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ShardTransferTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);

  private static ShardServer.Settings settings(int maxConnections, Duration offerTimeout, Duration handshake) {
    return new ShardServer.Settings("127.0.0.1", 0, maxConnections, offerTimeout, handshake, Duration.ofSeconds(30));
  }

  private static ShardClient client() {
    return new ShardClient(null, PATIENCE, PATIENCE);
  }

  /** Chunks of several sizes, the largest at the port's limit, one of them empty (an empty statistic). */
  static List<ShardChunk> chunks(long seed) {
    Random random = new Random(seed);
    List<ShardChunk> out = new ArrayList<>();
    int[] sizes = {4, 65_536, 0, 1 << 20, 12_345 * 4, ShardWire.MAX_CHUNK_BYTES};
    for (int i = 0; i < sizes.length; i++) {
      byte[] values = new byte[sizes[i]];
      random.nextBytes(values);
      out.add(ShardChunk.newBuilder().setTensor("layer." + i + ".weight").setStatistic(Statistic.SUM_SQ_DOMAIN)
          .setOffset(i * 1000L).setValues(ByteString.copyFrom(values)).build());
    }
    return out;
  }

  /** What a sink receives, copied: the client reuses its buffer for the next chunk. */
  static List<ShardChunk> pull(ShardClient client, ShardTicket ticket) throws IOException {
    List<ShardChunk> got = new ArrayList<>();
    client.pull(ticket, c -> got.add(c.toBuilder().setValues(ByteString.copyFrom(c.getValues().toByteArray())).build()));
    return got;
  }

  @Test
  void chunksArriveAsOfferedOnceAndOnlyOnce() throws Exception {
    try (ShardServer server = ShardServer.start(settings(4, Duration.ofMinutes(1), PATIENCE), null)) {
      List<ShardChunk> offered = chunks(1);
      ShardTicket ticket = server.offer(offered::iterator);
      assertEquals("127.0.0.1", ticket.getHost());
      assertEquals(server.port(), ticket.getPort());
      assertEquals(ShardWire.SECRET_BYTES, ticket.getSecret().size());
      assertEquals(1, server.pending());

      assertEquals(offered, pull(client(), ticket));
      assertEquals(0, server.pending());

      // single use: the same ticket again gets nothing
      var again = assertThrows(IOException.class, () -> pull(client(), ticket));
      assertTrue(again.getMessage().contains("unknown or already used ticket"), again.getMessage());

      // two offers at once, pulled concurrently, each gets its own chunks
      List<ShardChunk> a = chunks(2);
      List<ShardChunk> b = chunks(3);
      ShardTicket ta = server.offer(a::iterator);
      ShardTicket tb = server.offer(b::iterator);
      var fa = CompletableFuture.supplyAsync(() -> unchecked(ta));
      var fb = CompletableFuture.supplyAsync(() -> unchecked(tb));
      assertEquals(a, fa.get(60, TimeUnit.SECONDS));
      assertEquals(b, fb.get(60, TimeUnit.SECONDS));
    }
  }

  private static List<ShardChunk> unchecked(ShardTicket t) {
    try {
      return pull(client(), t);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void aWrongWithdrawnOrExpiredTicketGetsNoData() throws Exception {
    try (ShardServer server = ShardServer.start(settings(4, Duration.ofMillis(300), PATIENCE), null)) {
      List<ShardChunk> offered = chunks(4);
      ShardTicket real = server.offer(offered::iterator);
      byte[] guess = new byte[ShardWire.SECRET_BYTES];
      new Random(5).nextBytes(guess);
      List<ShardChunk> got = new ArrayList<>();
      var wrong = assertThrows(IOException.class,
          () -> client().pull(real.toBuilder().setSecret(ByteString.copyFrom(guess)).build(), got::add));
      assertTrue(wrong.getMessage().contains("refused the pull: unknown or already used ticket"), wrong.getMessage());
      var shortSecret = assertThrows(IOException.class,
          () -> client().pull(real.toBuilder().setSecret(ByteString.copyFrom(new byte[8])).build(), got::add));
      assertTrue(shortSecret.getMessage().contains("8-byte secret"), shortSecret.getMessage());
      assertTrue(got.isEmpty());

      server.withdraw(real);
      var withdrawn = assertThrows(IOException.class, () -> client().pull(real, got::add));
      assertTrue(withdrawn.getMessage().contains("unknown or already used ticket"), withdrawn.getMessage());

      ShardTicket late = server.offer(offered::iterator);
      Thread.sleep(600);
      var expired = assertThrows(IOException.class, () -> client().pull(late, got::add));
      assertTrue(expired.getMessage().contains("unknown or already used ticket"), expired.getMessage());
      assertTrue(got.isEmpty());
    }
  }

  @Test
  void badRequestsAndSilentClientsAreClosedAndTheConnectionLimitHolds() throws Exception {
    try (ShardServer server = ShardServer.start(settings(4, Duration.ofMinutes(1), Duration.ofMillis(800)), null)) {
      // not the protocol: one status byte (bad request), then the server closes
      try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
        s.setSoTimeout(10_000);
        s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n0123456789".getBytes(StandardCharsets.US_ASCII));
        InputStream in = s.getInputStream();
        assertEquals(2, in.read());
        assertEquals(-1, in.read());
      }
      // a client that says nothing is closed after the handshake timeout, having received nothing
      try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
        s.setSoTimeout(10_000);
        long t0 = System.nanoTime();
        assertEquals(-1, s.getInputStream().read());
        long millis = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(millis >= 500 && millis < 8_000, "closed after " + millis + " ms");
      }
    }
    try (ShardServer server = ShardServer.start(settings(1, Duration.ofMinutes(1), Duration.ofMillis(800)), null)) {
      // one connection at a time: while a silent client holds the only slot, a pull is closed unanswered
      List<ShardChunk> offered = chunks(6);
      ShardTicket ticket = server.offer(offered::iterator);
      try (Socket holder = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
        Thread.sleep(200);
        var busy = assertThrows(IOException.class, () -> pull(client(), ticket));
        assertTrue(busy.getMessage().contains("without an answer"), busy.getMessage());
      }
      // the refused pull did not spend the ticket: once the slot is free it is served
      Thread.sleep(1_500);
      assertEquals(offered, pull(client(), ticket));
    }
  }

  @Test
  void thePullerRefusesOversizedFramesAndStreamsThatStopEarly() throws Exception {
    byte[] secret = new byte[ShardWire.SECRET_BYTES];
    try (ServerSocket fake = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
      ShardTicket ticket = ShardTicket.newBuilder().setHost("127.0.0.1").setPort(fake.getLocalPort())
          .setSecret(ByteString.copyFrom(secret)).build();
      // a frame announcing 2 GB: refused before anything is allocated or read
      var oversized = serveOnce(fake, out -> {
        out.write(0);
        out.write(le(Integer.MAX_VALUE));
      });
      List<ShardChunk> got = new ArrayList<>();
      var big = assertThrows(IOException.class, () -> client().pull(ticket, got::add));
      assertTrue(big.getMessage().contains("sent a frame of 2147483647 bytes; at most"), big.getMessage());
      oversized.get(10, TimeUnit.SECONDS);
      // one good chunk, then the connection closes without the end frame
      ShardChunk one = chunks(7).get(0);
      var truncated = serveOnce(fake, out -> {
        out.write(0);
        out.write(le(one.getSerializedSize()));
        one.writeTo(out);
      });
      var early = assertThrows(IOException.class, () -> client().pull(ticket, got::add));
      assertTrue(early.getMessage().contains("ended after 1 chunks without its end frame"), early.getMessage());
      assertEquals(1, got.size());
      truncated.get(10, TimeUnit.SECONDS);
    }
  }

  private interface Script {
    void run(OutputStream out) throws IOException;
  }

  /** Accepts one connection on {@code fake}, reads the request, plays {@code script}, closes. */
  private static CompletableFuture<Void> serveOnce(ServerSocket fake, Script script) {
    return CompletableFuture.runAsync(() -> {
      try (Socket s = fake.accept()) {
        s.getInputStream().readNBytes(5 + ShardWire.SECRET_BYTES);
        script.run(s.getOutputStream());
        s.getOutputStream().flush();
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
  }

  private static byte[] le(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
  }

  @Test
  void withTlsOnlyTheDeploymentsNodesPullOrServe() throws Exception {
    Path dir = ClusterTestSupport.testDir("shard-port-tls");
    TestPki pki = new TestPki(dir.resolve("pki"));
    TestPki.Ca ca = pki.ca("shard-ca");
    TestPki.Store trust = pki.trustStore(ca, "truststore");
    TestPki.Store worker = pki.node(ca, "worker", "ip:127.0.0.1,dns:localhost");
    TestPki.Store owner = pki.node(ca, "owner", "ip:127.0.0.1,dns:localhost");
    TestPki.Store stranger = pki.node(pki.ca("stranger-ca"), "stranger", "ip:127.0.0.1,dns:localhost");

    try (ShardServer server = ShardServer.start(settings(4, Duration.ofMinutes(1), PATIENCE),
        TransferTls.from(tls(worker, trust)))) {
      List<ShardChunk> offered = chunks(8);
      ShardTicket ticket = server.offer(offered::iterator);
      // a node of the deployment: served, over TLS
      ShardClient member = new ShardClient(TransferTls.from(tls(owner, trust)), PATIENCE, PATIENCE);
      assertEquals(offered, pull(member, ticket));

      ShardTicket another = server.offer(offered::iterator);
      // plain TCP to the TLS port: no data
      List<ShardChunk> got = new ArrayList<>();
      assertThrows(IOException.class, () -> client().pull(another, got::add));
      // a certificate from another CA, holding a valid ticket: the handshake fails
      ShardClient outsider = new ShardClient(TransferTls.from(tls(stranger, trust)), PATIENCE, PATIENCE);
      assertThrows(IOException.class, () -> outsider.pull(another, got::add));
      assertTrue(got.isEmpty());
      // neither spent the ticket (neither got past the handshake): the member still pulls it
      assertEquals(offered, pull(member, another));
    }
  }

  /** A node's config with Artery over TLS, as gaprune-tls.conf sets it, from test stores. */
  private static Config tls(TestPki.Store keys, TestPki.Store trust) {
    String engine = "pekko.remote.artery.ssl.config-ssl-engine.";
    return ConfigFactory.parseMap(Map.of(
        "pekko.remote.artery.transport", "tls-tcp",
        engine + "key-store", keys.path().toString(),
        engine + "key-store-password", keys.password(),
        engine + "key-password", keys.password(),
        engine + "trust-store", trust.path().toString(),
        engine + "trust-store-password", trust.password(),
        engine + "protocol", "TLSv1.3",
        engine + "enabled-algorithms", List.of("TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"),
        engine + "require-mutual-authentication", true,
        engine + "hostname-verification", false));
  }
}
