package io.gaprune.ops;

import com.typesafe.config.Config;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;

/**
 * Who may talk to a node's operator endpoints (the coordinator's HTTP API, Pekko Management on every node):
 * the shared token and the rule that an endpoint reachable from other hosts must have one. Kept apart from
 * the servers so both apply exactly the same rule.
 */
public final class OperatorAccess {
  /** The environment variable that overrides {@code gaprune.http.token}. */
  public static final String TOKEN_ENV = "GAPRUNE_HTTP_TOKEN";
  public static final String TOKEN_KEY = "gaprune.http.token";

  private OperatorAccess() {}

  /**
   * The operator token: the environment variable when set (so a secret need not be written into a config
   * file), else {@code gaprune.http.token}; empty when neither is set.
   */
  public static String token(Config config, Map<String, String> env) {
    String fromEnv = env.get(TOKEN_ENV);
    if (fromEnv != null && !fromEnv.isBlank()) {
      return fromEnv.strip();
    }
    return config.hasPath(TOKEN_KEY) ? config.getString(TOKEN_KEY).strip() : "";
  }

  /**
   * Refuses to expose an endpoint beyond loopback without a token: returns normally when {@code hostname}
   * is a loopback address or a token is set, else throws naming the keys that fix it.
   */
  public static void requireSafeBinding(String endpoint, String hostKey, String hostname, String token) {
    InetAddress address;
    try {
      address = InetAddress.getByName(hostname);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(hostKey + " = \"" + hostname + "\" does not resolve to an address");
    }
    if (!address.isLoopbackAddress() && token.isEmpty()) {
      throw new IllegalArgumentException(endpoint + " would listen on " + hostname + " (" + hostKey
          + "), which is not a loopback address, and no token is set: set " + TOKEN_KEY + " (or the environment"
          + " variable " + TOKEN_ENV + ") to require a bearer token, or set " + hostKey + " = \"127.0.0.1\"");
    }
  }

  /** Whether {@code hostname} is a loopback address (an unresolvable name is not). */
  public static boolean isLoopback(String hostname) {
    try {
      return InetAddress.getByName(hostname).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /**
   * Compares a presented secret with the token in time independent of where they differ and of their
   * lengths: both are hashed first, and the digests compared with {@link MessageDigest#isEqual}.
   */
  public static boolean matches(String token, String presented) {
    if (token.isEmpty() || presented == null) {
      return false;
    }
    return MessageDigest.isEqual(sha256(token), sha256(presented));
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java 17 runtime", e);
    }
  }
}
