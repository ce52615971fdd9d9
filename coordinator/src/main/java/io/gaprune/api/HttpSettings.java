package io.gaprune.api;

import com.typesafe.config.Config;
import io.gaprune.ops.OperatorAccess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The operator API's settings ({@code gaprune.http.*}), the token resolved from the environment first.
 *
 * @param token the configured token (environment or file); empty when none is configured, and then the front
 *     uses the one it generates in {@code workDir} ({@link OperatorToken})
 * @param tls the HTTPS key material, or null for plain HTTP
 */
public record HttpSettings(String hostname, int port, String token, int maxBody, Duration askTimeout,
    Duration healthTimeout, Duration requestTimeout, Duration headerTimeout, Duration idleTimeout,
    int maxConnections, List<String> allowedHosts, Tls tls, Path workDir) {

  /** A PKCS12 (or JKS) key store holding the API's private key and certificate chain. */
  public record Tls(Path keyStore, String keyStorePassword, String keyPassword, String protocol) {}

  public static HttpSettings from(Config config, Map<String, String> env) {
    long maxBody = config.getBytes("gaprune.http.max-body");
    if (maxBody < 1 || maxBody > 16L << 20) {
      throw new IllegalArgumentException("gaprune.http.max-body must be between 1 byte and 16 MiB, got " + maxBody);
    }
    int maxConnections = config.getInt("gaprune.http.max-connections");
    if (maxConnections < 1) {
      throw new IllegalArgumentException("gaprune.http.max-connections must be at least 1, got " + maxConnections);
    }
    for (String key : List.of("ask-timeout", "health-timeout", "request-timeout", "header-timeout", "idle-timeout")) {
      if (config.getDuration("gaprune.http." + key).isNegative() || config.getDuration("gaprune.http." + key).isZero()) {
        throw new IllegalArgumentException("gaprune.http." + key + " must be positive");
      }
    }
    String token = OperatorAccess.token(config, env);
    if (!token.isEmpty() && !OperatorToken.wellFormed(token)) {
      throw new IllegalArgumentException("the operator token (" + OperatorAccess.TOKEN_KEY + " or "
          + OperatorAccess.TOKEN_ENV + ") may hold only letters, digits and - . _ ~ + / (RFC 6750's b64token,"
          + " '=' at the end): it travels as Authorization: Bearer TOKEN");
    }
    Tls tls = null;
    if (config.getBoolean("gaprune.http.tls.enabled")) {
      String store = config.getString("gaprune.http.tls.key-store");
      String password = config.getString("gaprune.http.tls.key-store-password");
      if (store.isEmpty()) {
        throw new IllegalArgumentException("gaprune.http.tls.enabled = on, but gaprune.http.tls.key-store is not set"
            + " (it defaults to gaprune.tls.key-store; or set GAPRUNE_HTTP_KEYSTORE)");
      }
      if (password.isEmpty()) {
        throw new IllegalArgumentException("gaprune.http.tls.enabled = on, but the key store's password is empty: set"
            + " GAPRUNE_HTTP_KEYSTORE_PASSWORD (or GAPRUNE_TLS_KEYSTORE_PASSWORD) in the environment");
      }
      tls = new Tls(Path.of(store), password, config.getString("gaprune.http.tls.key-password"),
          config.getString("gaprune.http.tls.protocol"));
    }
    List<String> allowed = config.getStringList("gaprune.http.allowed-hosts").stream()
        .map(h -> h.strip().toLowerCase(Locale.ROOT)).filter(h -> !h.isEmpty()).toList();
    return new HttpSettings(config.getString("gaprune.http.hostname"), config.getInt("gaprune.http.port"), token,
        (int) maxBody, config.getDuration("gaprune.http.ask-timeout"),
        config.getDuration("gaprune.http.health-timeout"), config.getDuration("gaprune.http.request-timeout"),
        config.getDuration("gaprune.http.header-timeout"), config.getDuration("gaprune.http.idle-timeout"),
        maxConnections, allowed, tls, Path.of(config.getString("gaprune.work-dir")));
  }

  /**
   * Throws, naming the keys, when the API would be reachable from other hosts without a configured token (a
   * generated one lies in this node's work dir, out of reach of the operators elsewhere who would need it).
   */
  public HttpSettings check() {
    OperatorAccess.requireSafeBinding("the operator HTTP API", "gaprune.http.hostname", hostname, token);
    return this;
  }

  /** Whether a token is configured (else the front generates one in the work dir). */
  public boolean tokenConfigured() {
    return !token.isEmpty();
  }

  public HttpSettings withToken(String t) {
    return new HttpSettings(hostname, port, t, maxBody, askTimeout, healthTimeout, requestTimeout, headerTimeout,
        idleTimeout, maxConnections, allowedHosts, tls, workDir);
  }

  public String scheme() {
    return tls == null ? "http" : "https";
  }
}
