package io.gaprune.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.gaprune.config.GapruneConfig;
import io.gaprune.ops.ClusterTransport;
import io.gaprune.worker.WorkerNode;
import io.gaprune.worker.testing.SyntheticRuntime;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A node refuses to start with its cluster port beyond loopback over plain TCP (whoever reaches the port could
 * join and send statistics), naming the setting that turns TLS on and the explicit opt-out for a trusted
 * private network; and a node's file with a key reference.conf does not know is refused with the closest one.
 * Both before anything binds a port or loads a model.
 */
class ClusterTransportTest {

  @Test
  void aPlaintextNodeBeyondLoopbackIsRefusedAtStart() throws Exception {
    Path dir = ClusterTestSupport.testDir("cluster-transport");
    // 192.0.2.1 (TEST-NET-1): never this host; nothing is bound before the refusal.
    Path conf = ClusterTestSupport.write(dir, "open.conf", ClusterTestSupport.settings(dir.resolve("work"), 0, null,
        "gaprune.cluster.hostname = \"192.0.2.1\""));
    var config = ClusterTestSupport.load(conf);
    var coordinator = assertThrows(IllegalArgumentException.class, () -> CoordinatorNode.start(config,
        new SyntheticRuntime(config), List.of("coordinator"), new AccumulatorPlanner()));
    assertNamesBoth(coordinator.getMessage());
    assertTrue(coordinator.getMessage().startsWith("the cluster address 192.0.2.1 (gaprune.cluster.hostname) is not a"
        + " loopback address and TLS is off"), coordinator.getMessage());
    var worker = assertThrows(IllegalArgumentException.class, () -> new WorkerNode(config, "cpu").run());
    assertNamesBoth(worker.getMessage());
    // The CLI: one line, exit 1, before the model loads.
    var cli = OperatorApiTest.cli("coordinator", "--config", conf.toString());
    assertEquals(1, cli.code());
    assertTrue(cli.err().startsWith("gaprune coordinator: the cluster address 192.0.2.1"), cli.err());
    var workerCli = OperatorApiTest.cli("worker", "--config", conf.toString(), "--device", "cpu");
    assertEquals(1, workerCli.code(), workerCli.err());
    assertTrue(workerCli.err().contains("gaprune.cluster.allow-plaintext = on"), workerCli.err());

    // A loopback address with Artery bound to every interface is beyond loopback too.
    var bound = ClusterTestSupport.load(ClusterTestSupport.write(dir, "bound.conf", ClusterTestSupport.settings(
        dir.resolve("work"), 0, null, "pekko.remote.artery.bind.hostname = \"0.0.0.0\"")));
    var b = assertThrows(IllegalArgumentException.class, () -> ClusterTransport.requireSafeTransport(bound));
    assertTrue(b.getMessage().contains("0.0.0.0 (pekko.remote.artery.bind.hostname)"), b.getMessage());

    // The explicit opt-out, and TLS, are accepted; loopback needs neither.
    ClusterTransport.requireSafeTransport(ClusterTestSupport.load(ClusterTestSupport.write(dir, "trusted.conf",
        ClusterTestSupport.settings(dir.resolve("work"), 0, null,
            "gaprune.cluster.hostname = \"192.0.2.1\"\ngaprune.cluster.allow-plaintext = on"))));
    Path ks = Files.writeString(dir.resolve("node.p12"), "x");
    ClusterTransport.requireSafeTransport(GapruneConfig.load(ClusterTestSupport.write(dir, "tls.conf",
        ClusterTestSupport.settings(dir.resolve("work"), 0, null, "gaprune.cluster.hostname = \"192.0.2.1\"\n"
            + "gaprune.tls { enabled = on, key-store = \"" + ks + "\", trust-store = \"" + ks + "\" }")),
        ConfigFactory.parseString("gaprune.tls { key-store-password = a, trust-store-password = b }")));
    ClusterTransport.requireSafeTransport(ClusterTestSupport.load(ClusterTestSupport.write(dir, "local.conf",
        ClusterTestSupport.settings(dir.resolve("work"), 0, null, ""))));
  }

  @Test
  void aNodeFileWithAnUnknownKeyIsRefusedNamingTheClosest() throws Exception {
    Path dir = ClusterTestSupport.testDir("unknown-key");
    Path conf = ClusterTestSupport.write(dir, "typo.conf", ClusterTestSupport.settings(dir.resolve("work"), 0, null,
        "gaprune.tls.enable = on"));
    var cli = OperatorApiTest.cli("coordinator", "--config", conf.toString());
    assertEquals(1, cli.code());
    assertTrue(cli.err().contains("unknown setting gaprune.tls.enable") && cli.err().contains("did you mean"
        + " gaprune.tls.enabled?"), cli.err());
  }

  static void assertNamesBoth(String message) {
    assertTrue(message.contains("gaprune.tls.enabled = on") && message.contains("gaprune.cluster.allow-plaintext = on")
        && message.contains("docs/security.md"), message);
  }
}
