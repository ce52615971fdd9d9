package io.gaprune.session;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.gaprune.config.GapruneConfig;
import io.gaprune.protocol.SessionConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Shared set-up of the cluster tests: configuration files, free ports, calibration files. */
final class ClusterTestSupport {
  private ClusterTestSupport() {}

  /**
   * A test kit on a cluster-provider system bound to 127.0.0.1 on a free port, not joined to any cluster, Java
   * serialization off: enough for real StreamRefs and sharded entities' messages within one JVM.
   */
  static org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit localClusterKit(String name, String extra) {
    return org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit.create(name, ConfigFactory.parseString("""
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = 127.0.0.1
        pekko.remote.artery.canonical.port = 0
        pekko.actor.allow-java-serialization = off
        """ + extra).withFallback(ConfigFactory.load()));
  }

  /** A fresh directory under target/cluster-tests (kept after the run: the process logs are there). */
  static Path testDir(String name) throws IOException {
    Path d = Path.of("target", "cluster-tests", name).toAbsolutePath();
    if (Files.exists(d)) {
      try (var walk = Files.walk(d)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
    return Files.createDirectories(d);
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /**
   * gaprune settings for a test node (HOCON text), synthetic runtime unless overridden. The model is called
   * "synthetic" (what the sessions of the tests name); the work dir's parent, where the tests write their
   * calibration files, is the data root the operator API accepts them from.
   */
  static String settings(Path workDir, int port, String seed, String extra) {
    return """
        gaprune {
          work-dir = "%s"
          model = "synthetic"
          data-roots = ["%s"]
          cluster { port = %d, seed-nodes = [%s], stable-after = 2s }
          http { enabled = on, port = 0 }
          management { port = 0, worker-port = 0 }
          coordinator { lease-timeout = 4s, lease-check-interval = 500ms, retry-after = 300ms }
          worker { unit-computer = "io.gaprune.worker.testing.SyntheticRuntime", progress-interval = 500ms,
                   retry-interval = 1s, ack-timeout = 20s }
        }
        pekko.loglevel = INFO
        pekko.cluster.failure-detector.acceptable-heartbeat-pause = 2s
        pekko.cluster.failure-detector.heartbeat-interval = 500ms
        %s
        """.formatted(workDir.toString().replace("\\", "/"),
            workDir.toAbsolutePath().getParent().toString().replace("\\", "/"), port, seed == null ? "" : "\"" + seed + "\"", extra);
  }

  static Config load(Path file) {
    return GapruneConfig.load(file, ConfigFactory.empty());
  }

  static Path write(Path dir, String name, String text) throws IOException {
    Files.createDirectories(dir);
    Path f = dir.resolve(name);
    Files.writeString(f, text);
    return f;
  }

  /** A calibration file of n synthetic triplets (the synthetic runtime only uses their indices). */
  static Path triplets(Path dir, String name, int n) throws IOException {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      sb.append(i == 0 ? "" : ",").append("{\"query\":\"q").append(i).append("\",\"positive\":\"p").append(i)
          .append("\",\"negative\":\"n").append(i).append("\"}");
    }
    return write(dir, name, sb.append("]").toString());
  }

  static SessionConfig session(Path general, Path domain, String id) {
    return SessionConfig.newBuilder().setSessionId(id).setModel("synthetic")
        .setGeneralPath(general.toString()).setDomainPath(domain.toString())
        .setSeed(42).setBatchSize(4).setBatchesPerUnit(1).setPartitionBudgetBytes(48 * 16 * 32 * 2)
        .setCandidates("mlp").setSparsity(0.5).setAlpha(0.2).setBeta(1.0).setGamma(0.5).setBudget("global")
        .build();
  }

  /**
   * A gaprune CLI process ({@code coordinator --config F}, {@code worker --config F --device cpu}, ...) on
   * this JVM's class path, output in {@code log}; {@code env} adds environment variables (the passwords
   * nodes read from the environment: TLS stores, PostgreSQL).
   */
  static Process startNode(Path log, Map<String, String> env, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx1g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        "io.gaprune.cli.Main"));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().putAll(env);
    return pb.start();
  }

  /** The JSON body of {@code POST /api/v1/sessions} for {@link #session}'s settings with a partition budget. */
  static String sessionJson(Path general, Path domain, String id, long partitionBudgetBytes) {
    return "{\"session_id\":\"" + id + "\",\"general_path\":\"" + general + "\",\"domain_path\":\"" + domain
        + "\",\"seed\":42,\"batch_size\":4,\"batches_per_unit\":1,\"partition_budget_bytes\":" + partitionBudgetBytes
        + ",\"candidates\":\"mlp\",\"sparsity\":0.5,\"alpha\":0.2,\"beta\":1.0,\"gamma\":0.5,\"budget\":\"global\","
        + "\"model\":\"synthetic\"}";
  }
}
