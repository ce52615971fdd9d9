package io.gaprune.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * docker/healthcheck.sh against a stand-in endpoint on loopback: the coordinator's /health (with the bearer
 * token, which must not be needed on the command line) and a worker's Pekko Management /health/alive. The
 * script is healthy on 2xx only; 503, 404, a wrong token or nothing listening are unhealthy.
 */
class HealthcheckTest {

  @BeforeAll
  static void curl() throws Exception {
    // the images carry curl; a machine without it cannot run the script
    var r = DeployFiles.run(new ProcessBuilder("sh", "-c", "command -v curl"));
    Assumptions.assumeTrue(r.exit() == 0, "curl is not installed");
  }

  @Test
  void coordinatorHealthFollowsTheStatusAndSendsTheToken() throws Exception {
    AtomicInteger status = new AtomicInteger(200);
    List<String> auth = new CopyOnWriteArrayList<>();
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4);
    server.createContext("/health", ex -> {
      try (ex) {
        String a = ex.getRequestHeaders().getFirst("Authorization");
        auth.add(String.valueOf(a));
        int code = ("Bearer s3cret".equals(a) && ex.getRequestURI().getPath().equals("/health")) ? status.get() : 401;
        ex.sendResponseHeaders(code, -1);
      }
    });
    server.start();
    String port = Integer.toString(server.getAddress().getPort());
    try {
      Map<String, String> env = Map.of("ROLE", "coordinator", "GAPRUNE_HTTP_BIND", "0.0.0.0",
          "GAPRUNE_HTTP_PORT", port, "GAPRUNE_HTTP_TOKEN", "s3cret");
      assertEquals(0, check(env));
      assertEquals("Bearer s3cret", auth.get(0));
      status.set(503);
      assertEquals(1, check(env));
      status.set(200);
      assertEquals(1, check(Map.of("ROLE", "coordinator", "GAPRUNE_HTTP_PORT", port, "GAPRUNE_HTTP_TOKEN", "wrong")));
    } finally {
      server.stop(0);
    }
    assertEquals(1, check(Map.of("ROLE", "coordinator", "GAPRUNE_HTTP_PORT", port)));
  }

  @Test
  void workerHealthIsPekkoManagementAlive() throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4);
    server.createContext("/health/alive", ex -> {
      try (ex) {
        ex.sendResponseHeaders(200, -1);
      }
    });
    server.start();
    String port = Integer.toString(server.getAddress().getPort());
    try {
      assertEquals(0, check(Map.of("ROLE", "worker", "GAPRUNE_MANAGEMENT_PORT", port)));
      assertEquals(0, check(Map.of("ROLE", "worker", "GAPRUNE_MANAGEMENT_BIND", "127.0.0.1",
          "GAPRUNE_MANAGEMENT_PORT", port)));
      // the coordinator's path is not the worker's
      assertEquals(1, check(Map.of("ROLE", "coordinator", "GAPRUNE_HTTP_PORT", port)));
    } finally {
      server.stop(0);
    }
    assertNotEquals(0, check(Map.of("ROLE", "")));
  }

  static int check(Map<String, String> env) throws Exception {
    var r = DeployFiles.run(DeployFiles.script("healthcheck.sh", env));
    return r.exit();
  }
}
