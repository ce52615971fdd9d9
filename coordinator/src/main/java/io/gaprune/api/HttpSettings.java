package io.gaprune.api;

import com.typesafe.config.Config;
import io.gaprune.ops.OperatorAccess;
import java.time.Duration;
import java.util.Map;

/** The operator API's settings ({@code gaprune.http.*}), the token resolved from the environment first. */
public record HttpSettings(String hostname, int port, String token, int maxBody, Duration askTimeout,
    Duration healthTimeout) {

  public static HttpSettings from(Config config, Map<String, String> env) {
    long maxBody = config.getBytes("gaprune.http.max-body");
    if (maxBody < 1 || maxBody > 16L << 20) {
      throw new IllegalArgumentException("gaprune.http.max-body must be between 1 byte and 16 MiB, got " + maxBody);
    }
    return new HttpSettings(config.getString("gaprune.http.hostname"), config.getInt("gaprune.http.port"),
        OperatorAccess.token(config, env), (int) maxBody, config.getDuration("gaprune.http.ask-timeout"),
        config.getDuration("gaprune.http.health-timeout"));
  }

  /** Throws, naming the keys, when the API would be reachable from other hosts without a token. */
  public HttpSettings check() {
    OperatorAccess.requireSafeBinding("the operator HTTP API", "gaprune.http.hostname", hostname, token);
    return this;
  }

  public boolean tokenRequired() {
    return !token.isEmpty();
  }
}
