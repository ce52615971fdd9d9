package io.gaprune.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import io.gaprune.config.GapruneConfig;
import java.io.InputStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The images and the compose file checked without a Docker engine: compose's structure (services, health
 * checks, volumes, scaling), each node service's environment run through the real entrypoint together with
 * its image's ENV (the configuration it would start with, read back), the Dockerfile's COPY sources against
 * the repository and .dockerignore, what its build stage produces against the poms and the launcher, and the
 * GPU image's CUDA flavour against the JNI glue the pytorch-jni jar ships.
 */
class ComposeAndImagesTest {
  static Map<String, Object> compose;
  static List<String> instructions;
  static Map<String, DeployFiles.Stage> stages;
  static Map<String, String> args;
  static Path dir;

  /** Values for the variables compose requires (${VAR:?...}); everything else takes its default. */
  static final Map<String, String> SHELL = Map.of("GAPRUNE_PG_PASSWORD", "pg-secret", "GAPRUNE_HTTP_TOKEN", "api-token",
      "GAPRUNE_TLS_PASSWORD", "tls-secret");
  /** Where the nodes mount the pki volume. */
  static final String TLS_DIR = "/etc/gaprune/tls";
  /** The stores docker/make-pki.sh makes for the pki service's command, standing in for the pki volume. */
  static DeployFiles.Pki pki;

  @BeforeAll
  @SuppressWarnings("unchecked")
  static void load() throws Exception {
    String text = DeployFiles.interpolate(Files.readString(DeployFiles.docker("compose.yaml")), SHELL);
    compose = (Map<String, Object>) new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
    instructions = DeployFiles.instructions(DeployFiles.docker("Dockerfile"));
    stages = DeployFiles.stages(instructions);
    args = DeployFiles.globalArgs(instructions);
    dir = DeployFiles.testDir("compose");
    List<String> command = list(service("pki").get("command"));
    pki = DeployFiles.pki(dir.resolve("pki"), command.subList(1, command.size()).toArray(String[]::new));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o, String what) {
    assertTrue(o instanceof Map, what + " should be a mapping: " + o);
    return (Map<String, Object>) o;
  }

  static Map<String, Object> service(String name) {
    return map(map(compose.get("services"), "services").get(name), "service " + name);
  }

  static Map<String, String> environment(String name) {
    Map<String, String> env = new LinkedHashMap<>();
    map(service(name).get("environment"), name + ".environment").forEach((k, v) -> env.put(k, String.valueOf(v)));
    return env;
  }

  @SuppressWarnings("unchecked")
  static List<String> list(Object o) {
    return o == null ? List.of() : ((List<Object>) o).stream().map(String::valueOf).toList();
  }

  @Test
  void composeHasTheServicesHealthChecksAndVolumes() {
    assertEquals(Set.of("pki", "postgres", "coordinator", "worker", "worker-gpu"),
        map(compose.get("services"), "services").keySet());
    Map<String, Object> pg = service("postgres");
    assertTrue(String.valueOf(pg.get("image")).startsWith("postgres:"), "official postgres image");
    assertTrue(String.join(" ", list(map(pg.get("healthcheck"), "pg healthcheck").get("test"))).contains("pg_isready"));
    assertTrue(list(pg.get("volumes")).contains("pgdata:/var/lib/postgresql/data"));
    assertEquals("pg-secret", String.valueOf(map(pg.get("environment"), "pg env").get("POSTGRES_PASSWORD")));

    for (String node : List.of("coordinator", "worker", "worker-gpu")) {
      Map<String, Object> s = service(node);
      assertEquals(List.of("CMD", "/app/docker/healthcheck.sh"), list(map(s.get("healthcheck"), node).get("test")), node);
      assertEquals("docker/Dockerfile", map(s.get("build"), node).get("dockerfile"), node);
      assertEquals("..", map(s.get("build"), node).get("context"), node);
      String target = String.valueOf(map(s.get("build"), node).get("target"));
      assertTrue(stages.containsKey(target), node + ": no stage " + target + " in docker/Dockerfile");
      assertEquals(Boolean.TRUE, s.get("init"), node + ": an init forwards signals to the JVM");
    }
    // the coordinator: its journal moves to postgres once postgres is healthy; HTTP port published as configured
    Map<String, Object> coordinator = service("coordinator");
    assertEquals("service_healthy", map(map(coordinator.get("depends_on"), "depends_on").get("postgres"), "pg").get("condition"));
    Map<String, String> cenv = environment("coordinator");
    assertTrue(list(coordinator.get("ports")).stream().anyMatch(p -> p.endsWith(":" + cenv.get("GAPRUNE_HTTP_PORT"))),
        "the published port is the HTTP front's");
    assertTrue(list(coordinator.get("volumes")).contains("coordinator-work:" + cenv.get("GAPRUNE_WORK_DIR")),
        "the work dir (journal, accumulators, masks) is a named volume");
    assertTrue(list(coordinator.get("volumes")).stream().anyMatch(v -> v.startsWith("outputs:")));
    // workers scale: no fixed name, no host port
    for (String w : List.of("worker", "worker-gpu")) {
      assertFalse(service(w).containsKey("container_name"), w);
      assertFalse(service(w).containsKey("ports"), w);
      assertEquals("worker", environment(w).get("ROLE"));
    }
    assertEquals(List.of("gpu"), list(service("worker-gpu").get("profiles")));
    // TLS by default: the pki service makes the keys before any node starts; every node mounts them read-only,
    // and only the pki service holds the CA.
    Map<String, Object> p = service("pki");
    assertEquals(List.of("/app/docker/make-pki.sh"), list(p.get("entrypoint")));
    assertEquals("no", String.valueOf(p.get("restart")));
    List<String> command = list(p.get("command"));
    assertTrue(list(p.get("volumes")).contains("pki:" + command.get(0)), "the pki volume is where it writes");
    assertEquals("tls-secret", String.valueOf(map(p.get("environment"), "pki env").get("GAPRUNE_TLS_PASSWORD")));
    for (String node : List.of("coordinator", "worker", "worker-gpu")) {
      Map<String, Object> s = service(node);
      assertEquals("service_completed_successfully",
          map(map(s.get("depends_on"), node).get("pki"), node + " pki").get("condition"), node);
      assertTrue(list(s.get("volumes")).contains("pki:" + TLS_DIR + ":ro"), node);
      assertFalse(list(s.get("volumes")).stream().anyMatch(v -> v.startsWith("pki-ca:")), node + " must not see the CA");
      Map<String, String> env = environment(node);
      assertEquals("on", env.get("GAPRUNE_TLS"), node);
      String keyStore = env.get("GAPRUNE_TLS_KEYSTORE");
      assertTrue(keyStore.startsWith(TLS_DIR + "/") && command.contains(Path.of(keyStore).getFileName().toString()
          .replace(".p12", "")), node + ": its key store " + keyStore + " is one the pki service makes");
      assertEquals("tls-secret", env.get("GAPRUNE_TLS_KEYSTORE_PASSWORD"), node);
      assertEquals("tls-secret", env.get("GAPRUNE_TLS_TRUSTSTORE_PASSWORD"), node);
    }
    // every named volume a service mounts is declared, and every declared one is used
    Set<String> declared = map(compose.get("volumes"), "volumes").keySet();
    Set<String> used = new TreeSet<>();
    for (String s : map(compose.get("services"), "services").keySet()) {
      for (String v : list(service(s).get("volumes"))) {
        String source = v.substring(0, v.indexOf(':'));
        if (!source.startsWith(".") && !source.startsWith("/")) {
          used.add(source);
        }
      }
    }
    assertEquals(new TreeSet<>(declared), used);
  }

  /** The entrypoint with exactly what a container of this service would have: image ENV, then compose's. */
  Config startUp(String service, String hostname, String... expectedCommand) throws Exception {
    String target = String.valueOf(map(service(service).get("build"), service).get("target"));
    Map<String, String> env = new HashMap<>(DeployFiles.env(stages, target, args));
    env.putAll(environment(service));
    env.put("HOSTNAME", hostname); // what Docker sets: the container's hostname
    env.put("GAPRUNE_HOME", DeployFiles.root().toString()); // /app in the image
    env.remove("PATH");
    Path file = dir.resolve(service + ".conf");
    env.put("GAPRUNE_NODE_CONFIG", file.toString());
    env.put("GAPRUNE_DRY_RUN", "1");
    // The pki volume as the pki service fills it: stores made by docker/make-pki.sh.
    env.replaceAll((k, v) -> v.startsWith(TLS_DIR + "/") ? pki.dir().resolve(v.substring(TLS_DIR.length() + 1)).toString() : v);
    var r = DeployFiles.run(DeployFiles.script("entrypoint.sh", env));
    assertEquals(0, r.exit(), service + ": " + r.stderr());
    List<String> cmd = r.lines();
    assertEquals(List.of(expectedCommand), cmd.subList(1, cmd.size()).stream()
        .map(a -> a.equals(file.toString()) ? "FILE" : a).toList(), service);
    assertFalse(Files.readString(file).contains("tls-secret"), "a password in " + file);
    // The passwords: what the JVM reads from the container's environment.
    return GapruneConfig.load(file, pki.passwords());
  }

  @Test
  void eachNodeServiceStartsWithAConsistentConfiguration() throws Exception {
    Config coordinator = startUp("coordinator", "coordinator", "coordinator", "--config", "FILE");
    String host = coordinator.getString("pekko.remote.artery.canonical.hostname");
    int port = coordinator.getInt("pekko.remote.artery.canonical.port");
    String self = "pekko://" + coordinator.getString("gaprune.cluster.system-name") + "@" + host + ":" + port;
    assertEquals("coordinator", host);
    assertEquals(service("coordinator").get("hostname"), host, "the canonical hostname resolves to the container");
    assertEquals(List.of(self), coordinator.getStringList("pekko.cluster.seed-nodes"));
    assertEquals("0.0.0.0", coordinator.getString("gaprune.http.hostname"));
    assertEquals("postgres", coordinator.getString("gaprune.persistence.backend"));
    assertEquals("jdbc:postgresql://postgres:5432/gaprune", coordinator.getString("pekko-persistence-jdbc.shared-databases.slick.db.url"));
    assertEquals(map(service("postgres").get("environment"), "pg").get("POSTGRES_USER"),
        coordinator.getString("pekko-persistence-jdbc.shared-databases.slick.db.user"));
    assertEquals("/var/lib/gaprune/work", coordinator.getString("gaprune.work-dir"));
    assertEquals("minilm", coordinator.getString("gaprune.model"));
    // Artery over TLS with the pki service's stores: a node beyond loopback that may start.
    assertEquals("tls-tcp", coordinator.getString("pekko.remote.artery.transport"));
    assertEquals(pki.store("coordinator").toString(), coordinator.getString("gaprune.tls.key-store"));
    assertEquals(pki.store("truststore").toString(), coordinator.getString("gaprune.tls.trust-store"));
    io.gaprune.ops.ClusterTransport.requireSafeTransport(coordinator);
    // The API answers to the container's name (Prometheus in the compose network) and reads sessions' files
    // from the mounted data.
    assertTrue(coordinator.getStringList("gaprune.http.allowed-hosts").contains("coordinator"));
    assertEquals(List.of("/data", "/app/data"), coordinator.getStringList("gaprune.data-roots"));

    for (String w : List.of("worker", "worker-gpu")) {
      String device = environment(w).get("DEVICE");
      Config worker = startUp(w, "a1b2c3d4e5f6", "worker", "--config", "FILE", "--device", device);
      assertEquals("a1b2c3d4e5f6", worker.getString("pekko.remote.artery.canonical.hostname"), w);
      assertEquals(List.of(self), worker.getStringList("pekko.cluster.seed-nodes"), w + " seeds the coordinator");
      assertEquals(coordinator.getString("gaprune.model"), worker.getString("gaprune.model"), w + ": same model");
      assertEquals(coordinator.getString("gaprune.cluster.system-name"), worker.getString("gaprune.cluster.system-name"));
      Config node = io.gaprune.worker.WorkerNode.workerConfig(worker);
      assertEquals(environment(w).get("GAPRUNE_MANAGEMENT_PORT"), node.getString("pekko.management.http.port"),
          w + ": the health check's port is the one Pekko Management binds");
      assertEquals(environment(w).get("GAPRUNE_MANAGEMENT_BIND"), node.getString("pekko.management.http.hostname"), w);
      assertEquals("tls-tcp", worker.getString("pekko.remote.artery.transport"), w);
      assertEquals(pki.store("worker").toString(), worker.getString("gaprune.tls.key-store"), w);
      io.gaprune.ops.ClusterTransport.requireSafeTransport(worker);
    }
  }

  /**
   * The keys docker/make-pki.sh makes do what Artery's TLS needs: the coordinator's and the worker's stores
   * complete a TLS 1.3 handshake with mutual authentication against the trust store, and a store from another
   * run of the script (another CA) is refused on both sides.
   */
  @Test
  void theKeysOfThePkiServiceAuthenticateBothWays() throws Exception {
    assertTrue(handshake(pki, "coordinator", pki, "worker"), "coordinator and worker");
    assertTrue(handshake(pki, "worker", pki, "worker"), "two scaled workers share one store");
    DeployFiles.Pki other = DeployFiles.pki(dir.resolve("other-pki"), "worker");
    // (each side trusts the cluster's CA: only the check of the other side's certificate can refuse)
    assertFalse(handshake(pki, "coordinator", other, "worker"), "a worker of another CA joined");
    assertFalse(handshake(other, "worker", pki, "worker"), "a server of another CA was trusted");
    // Owner-only files: the stores hold private keys.
    for (String f : List.of("coordinator.p12", "worker.p12", "truststore.p12")) {
      assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
          Files.getPosixFilePermissions(pki.dir().resolve(f))), f);
    }
    assertFalse(Files.exists(pki.dir().resolve("ca.p12")), "the CA stays out of the nodes' folder");
  }

  /** A TLS 1.3 handshake on loopback, the server demanding the client's certificate, as Artery's TLS does. */
  static boolean handshake(DeployFiles.Pki serverPki, String server, DeployFiles.Pki clientPki, String client)
      throws Exception {
    javax.net.ssl.SSLContext serverCtx = context(serverPki, server);
    javax.net.ssl.SSLContext clientCtx = context(clientPki, client);
    try (var listener = (javax.net.ssl.SSLServerSocket) serverCtx.getServerSocketFactory()
        .createServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      listener.setNeedClientAuth(true);
      listener.setEnabledProtocols(new String[] {"TLSv1.3"});
      var accepted = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
        try (var s = (javax.net.ssl.SSLSocket) listener.accept()) {
          s.setSoTimeout(10_000);
          s.startHandshake();
          s.getOutputStream().write(1);
          s.getOutputStream().flush();
          return true;
        } catch (Exception e) {
          return false;
        }
      });
      boolean clientOk;
      try (var s = (javax.net.ssl.SSLSocket) clientCtx.getSocketFactory().createSocket(
          java.net.InetAddress.getLoopbackAddress(), listener.getLocalPort())) {
        s.setSoTimeout(10_000);
        s.setEnabledProtocols(new String[] {"TLSv1.3"});
        s.startHandshake();
        // TLS 1.3: the server checks the client's certificate after the client's handshake is done
        clientOk = s.getInputStream().read() == 1;
      } catch (Exception e) {
        clientOk = false;
      }
      return accepted.get(20, java.util.concurrent.TimeUnit.SECONDS) && clientOk;
    }
  }

  /** A node's TLS context: its key store from {@code pki}, the cluster's trust store. */
  static javax.net.ssl.SSLContext context(DeployFiles.Pki pki, String name) throws Exception {
    char[] pw = pki.password().toCharArray();
    var ks = java.security.KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(pki.store(name))) {
      ks.load(in, pw);
    }
    var ts = java.security.KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(ComposeAndImagesTest.pki.store("truststore"))) {
      ts.load(in, ComposeAndImagesTest.pki.password().toCharArray());
    }
    var kmf = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, pw);
    var tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ts);
    var ctx = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  @Test
  void everyVariableTheEntrypointReadsIsDocumented() throws Exception {
    String script = Files.readString(DeployFiles.docker("entrypoint.sh"));
    String header = script.substring(0, script.indexOf("set -eu"));
    String runbook = Files.readString(DeployFiles.root().resolve("docs/runbook.md"));
    Matcher m = Pattern.compile("\\$\\{?([A-Z][A-Z0-9_]*)").matcher(script.substring(header.length()));
    Set<String> read = new TreeSet<>();
    while (m.find()) {
      read.add(m.group(1));
    }
    read.remove("IFS");
    assertTrue(read.contains("ROLE") && read.contains("GAPRUNE_SEED_NODES") && read.size() > 20, read.toString());
    for (String v : read) {
      assertTrue(header.contains(v), "entrypoint.sh reads " + v + " but its header does not document it");
      assertTrue(runbook.contains("`" + v + "`"), "docs/runbook.md does not document " + v);
    }
  }

  @Test
  void dockerfileCopiesOnlyWhatTheRepositoryHasAndTheContextKeeps() throws Exception {
    List<String> ignore = Files.readAllLines(DeployFiles.root().resolve(".dockerignore")).stream()
        .map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
    assertFalse(ignore.stream().anyMatch(l -> l.startsWith("!")), "no exceptions: the check below does not model them");
    for (String excluded : List.of("coordinator/target", "worker/target", ".git")) {
      assertTrue(ignored(ignore, excluded), ".dockerignore should keep " + excluded + " out of the context");
    }
    int copies = 0;
    for (String line : instructions) {
      if (!line.startsWith("COPY ") || line.contains("--from=")) {
        continue;
      }
      List<String> words = new ArrayList<>(List.of(line.substring(5).split(" ")));
      words.removeIf(w -> w.startsWith("--"));
      for (String source : words.subList(0, words.size() - 1)) {
        copies++;
        assertTrue(Files.exists(DeployFiles.root().resolve(source)), "COPY source missing from the repository: " + source);
        assertFalse(ignored(ignore, source), "COPY source excluded by .dockerignore: " + source);
      }
    }
    assertTrue(copies >= 8, "COPY sources checked: " + copies);
  }

  /** Docker excludes a path when it or a folder above it matches a pattern. */
  static boolean ignored(List<String> patterns, String path) {
    for (String pattern : patterns) {
      for (String p : List.of(pattern, pattern.replaceFirst("^\\*\\*/", ""))) {
        var matcher = FileSystems.getDefault().getPathMatcher("glob:" + p);
        for (Path q = Path.of(path); q != null; q = q.getParent()) {
          if (matcher.matches(q)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  @Test
  void theBuildStageProducesWhatTheRuntimeStagesTake() throws Exception {
    DeployFiles.Stage build = stages.get("build");
    assertTrue(build.from().startsWith("maven:3-eclipse-temurin-17"), build.from());
    assertTrue(build.instructions().stream().anyMatch(l -> l.contains("mvn -B -ntp -DskipTests package")));
    String jar = DeployFiles.launcherJar();
    String pom = Files.readString(DeployFiles.root().resolve("coordinator/pom.xml"));
    assertTrue(pom.contains("<artifactId>" + jar.substring(0, jar.indexOf("-0")) + "</artifactId>"), jar);
    assertTrue(pom.contains("<outputDirectory>${project.build.directory}/lib</outputDirectory>"),
        "the distribution's lib/ is where the image copies it from");
    assertTrue(Files.readString(DeployFiles.root().resolve("worker/pom.xml")).contains("<artifactId>pytorch-native-cpu</artifactId>"));
    DeployFiles.Stage runtime = stages.get("runtime");
    assertEquals("eclipse-temurin:17-jre", runtime.from());
    List<String> copied = runtime.instructions().stream().filter(l -> l.startsWith("COPY --from=build")).toList();
    assertTrue(copied.stream().anyMatch(l -> l.contains("/src/coordinator/target/gaprune-coordinator-*.jar /app/coordinator/target/")
        && jar.matches("gaprune-coordinator-.*\\.jar")), copied.toString());
    assertTrue(copied.stream().anyMatch(l -> l.endsWith("/src/coordinator/target/lib /app/coordinator/target/lib")), copied.toString());
    assertTrue(build.instructions().stream().anyMatch(l -> l.contains("mv coordinator/target/lib/pytorch-native-cpu-*.jar /natives-cpu/")));
    for (String cpu : List.of("coordinator", "worker-cpu")) {
      assertTrue(stages.get(cpu).instructions().contains("COPY --from=build /natives-cpu/ /app/coordinator/target/lib/"), cpu);
    }
    // the launcher, the entrypoint and the health check where ENTRYPOINT, HEALTHCHECK and GAPRUNE_HOME say
    assertTrue(runtime.instructions().contains("COPY --chmod=0755 gaprune /app/gaprune"));
    assertTrue(runtime.instructions().contains("COPY --chmod=0755 docker/entrypoint.sh docker/healthcheck.sh /app/docker/"));
    assertTrue(runtime.instructions().contains("COPY --chmod=0755 docker/make-pki.sh /app/docker/"),
        "the pki service's script is where its entrypoint says");
    assertTrue(runtime.instructions().contains("ENTRYPOINT [\"/app/docker/entrypoint.sh\"]"));
    assertTrue(runtime.instructions().stream().anyMatch(l -> l.startsWith("HEALTHCHECK") && l.endsWith("CMD [\"/app/docker/healthcheck.sh\"]")));
    for (String target : List.of("coordinator", "worker-cpu", "worker-gpu")) {
      Map<String, String> env = DeployFiles.env(stages, target, args);
      assertEquals("/app", env.get("GAPRUNE_HOME"), target);
      assertEquals(target.startsWith("worker") ? "worker" : "coordinator", env.get("ROLE"), target);
      assertEquals("runtime", stages.get(target).from(), target);
    }
    // not root at run time
    String user = runtime.instructions().stream().filter(l -> l.startsWith("USER ")).reduce((a, b) -> b).orElseThrow();
    assertFalse(user.matches("USER (root|0)(:.*)?"), user);
  }

  @Test
  void theGpuImageFetchesTheFlavourThePyTorchJniShips() throws Exception {
    String flavour = args.get("DJL_CUDA_FLAVOR");
    assertNotNull(flavour, "ARG DJL_CUDA_FLAVOR with a default");
    ClassLoader cl = getClass().getClassLoader();
    assertNotNull(cl.getResource("jnilib/linux-x86_64/" + flavour + "/libdjl_torch.so"),
        "pytorch-jni has no JNI glue for " + flavour + ": the GPU image's natives would not load");
    String parent = Files.readString(DeployFiles.root().resolve("pom.xml"));
    String pytorch = tag(parent, "pytorch.version");
    String djl = tag(parent, "djl.version");
    Properties jni = new Properties();
    try (InputStream in = cl.getResourceAsStream("jnilib/pytorch.properties")) {
      jni.load(in);
    }
    assertTrue(jni.getProperty("jni_version").startsWith(pytorch + "-" + djl), jni.toString());
    Map<String, String> gpu = DeployFiles.env(stages, "worker-gpu", args);
    assertEquals(flavour, gpu.get("PYTORCH_FLAVOR"));
    assertEquals("/opt/libtorch", gpu.get("PYTORCH_LIBRARY_PATH"));
    assertTrue(stages.get("cuda-natives").instructions().stream().anyMatch(l -> l.contains("<pytorch.version>")),
        "the natives follow the pom's PyTorch version");
    assertFalse(stages.get("worker-gpu").instructions().stream().anyMatch(l -> l.contains("/natives-cpu")),
        "no CPU natives beside the CUDA ones");
  }

  static String tag(String xml, String name) {
    Matcher m = Pattern.compile("<" + Pattern.quote(name) + ">([^<]+)</").matcher(xml);
    assertTrue(m.find(), name);
    return m.group(1);
  }
}
