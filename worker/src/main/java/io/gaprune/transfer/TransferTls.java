package io.gaprune.transfer;

import com.typesafe.config.Config;
import io.gaprune.ops.ClusterTransport;
import io.gaprune.ops.KeyStores;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS for the shard port, with exactly the cluster's settings: when Artery runs over TLS
 * ({@code gaprune.tls.enabled}), the shard port uses the same key store, trust store, protocol, cipher suites,
 * mutual authentication and hostname verification (read from {@code pekko.remote.artery.ssl.config-ssl-engine},
 * which gaprune-tls.conf fills from {@code gaprune.tls.*}), so whoever may not join the cluster may not pull or
 * serve shards either. Without TLS the port is plain TCP, which {@link ClusterTransport#requireSafeTransport}
 * allows only on loopback or with the operator's explicit {@code allow-plaintext}.
 */
public record TransferTls(SSLContext context, String[] protocols, String[] cipherSuites, boolean mutual,
    boolean hostnameVerification) {

  private static final String ENGINE = "pekko.remote.artery.ssl.config-ssl-engine.";

  /** The shard port's TLS for a node built from {@code config}, or null when the cluster runs without TLS. */
  public static TransferTls from(Config config) throws IOException {
    if (!ClusterTransport.tls(config)) {
      return null;
    }
    try {
      KeyStore keys = KeyStores.load(Path.of(config.getString(ENGINE + "key-store")),
          config.getString(ENGINE + "key-store-password"));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, config.getString(ENGINE + "key-password").toCharArray());
      KeyStore trust = KeyStores.load(Path.of(config.getString(ENGINE + "trust-store")),
          config.getString(ENGINE + "trust-store-password"));
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      String protocol = config.getString(ENGINE + "protocol");
      SSLContext ctx = SSLContext.getInstance(protocol);
      ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return new TransferTls(ctx, new String[] {protocol},
          config.getStringList(ENGINE + "enabled-algorithms").toArray(String[]::new),
          config.getBoolean(ENGINE + "require-mutual-authentication"),
          config.getBoolean(ENGINE + "hostname-verification"));
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot set up TLS for the shard port from the cluster's key and trust stores "
          + "(gaprune.tls.*): " + e.getMessage(), e);
    }
  }

  void configure(SSLServerSocket server) {
    server.setEnabledProtocols(protocols);
    server.setEnabledCipherSuites(cipherSuites);
    server.setNeedClientAuth(mutual);
  }

  /** A client socket over {@code plain} (already connected), set up and handshaken. */
  SSLSocket wrap(Socket plain, String host, int port) throws IOException {
    SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(plain, host, port, true);
    s.setUseClientMode(true);
    s.setEnabledProtocols(protocols);
    s.setEnabledCipherSuites(cipherSuites);
    if (hostnameVerification) {
      SSLParameters p = s.getSSLParameters();
      p.setEndpointIdentificationAlgorithm("HTTPS");
      s.setSSLParameters(p);
    }
    s.startHandshake();
    return s;
  }
}
