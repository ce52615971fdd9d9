package io.gaprune.deploy;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The deployment files of the repository (docker/, the launcher) as the tests read and run them: the
 * entrypoint run as a process with a chosen environment, Dockerfile stages and their ENV, compose's variable
 * interpolation, and a distribution laid out like coordinator/target but made of this test's class path.
 */
final class DeployFiles {
  private DeployFiles() {}

  static Path root() {
    return Path.of(System.getProperty("gaprune.root", "..")).toAbsolutePath().normalize();
  }

  static Path docker(String name) {
    return root().resolve("docker").resolve(name);
  }

  /** A fresh directory under target/deploy-tests (kept after the run: logs and generated files are there). */
  static Path testDir(String name) throws IOException {
    Path d = Path.of("target", "deploy-tests", name).toAbsolutePath();
    if (Files.exists(d)) {
      try (Stream<Path> walk = Files.walk(d)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
    return Files.createDirectories(d);
  }

  /** PATH with this JVM's bin first, so the launcher's {@code java} is the one running the tests. */
  static String path() {
    return Path.of(System.getProperty("java.home"), "bin") + File.pathSeparator
        + System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
  }

  /** A shell script of docker/ run with exactly this environment (plus PATH). */
  static ProcessBuilder script(String name, Map<String, String> env, String... args) {
    List<String> cmd = new ArrayList<>(List.of("sh", docker(name).toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().clear();
    pb.environment().put("PATH", path());
    pb.environment().putAll(env);
    return pb;
  }

  record Result(int exit, String stdout, String stderr) {
    List<String> lines() {
      return stdout.isEmpty() ? List.of() : List.of(stdout.split("\n"));
    }
  }

  static Result run(ProcessBuilder pb) throws IOException, InterruptedException {
    Path out = Files.createTempFile("deploy-out", ".txt");
    Path err = Files.createTempFile("deploy-err", ".txt");
    try {
      Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("script did not end within 60 s: " + pb.command());
      }
      return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  // ------------------------------------------------------------------ Dockerfile

  /** One build stage: its base (image or earlier stage), its instructions with continuation lines joined. */
  record Stage(String name, String from, List<String> instructions) {}

  private static final Pattern ARG = Pattern.compile("ARG\\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\\S*))?");

  static Map<String, String> globalArgs(List<String> instructions) {
    Map<String, String> args = new LinkedHashMap<>();
    for (String line : instructions) {
      if (line.startsWith("FROM ")) {
        break;
      }
      Matcher m = ARG.matcher(line);
      if (m.matches() && m.group(2) != null) {
        args.put(m.group(1), m.group(2));
      }
    }
    return args;
  }

  /** The Dockerfile's instructions, comments dropped and continuation lines joined. */
  static List<String> instructions(Path dockerfile) throws IOException {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    for (String raw : Files.readAllLines(dockerfile)) {
      String line = raw.strip();
      if (line.startsWith("#") || (line.isEmpty() && cur.isEmpty())) {
        continue;
      }
      boolean continued = line.endsWith("\\");
      cur.append(continued ? line.substring(0, line.length() - 1) : line).append(' ');
      if (!continued) {
        out.add(cur.toString().strip().replaceAll("\\s+", " "));
        cur.setLength(0);
      }
    }
    return out;
  }

  static Map<String, Stage> stages(List<String> instructions) {
    Map<String, Stage> stages = new LinkedHashMap<>();
    Stage cur = null;
    Pattern from = Pattern.compile("FROM (\\S+)(?: AS (\\S+))?", Pattern.CASE_INSENSITIVE);
    for (String line : instructions) {
      Matcher m = from.matcher(line);
      if (m.matches()) {
        String name = m.group(2) == null ? "stage-" + stages.size() : m.group(2);
        cur = new Stage(name, m.group(1), new ArrayList<>());
        stages.put(name, cur);
      } else if (cur != null) {
        cur.instructions().add(line);
      }
    }
    return stages;
  }

  /** ENV of a stage, inherited from the stages it is built on; ${ARG} replaced by the global defaults. */
  static Map<String, String> env(Map<String, Stage> stages, String name, Map<String, String> args) {
    Stage s = stages.get(name);
    Map<String, String> env = new LinkedHashMap<>(
        stages.containsKey(s.from()) ? env(stages, s.from(), args) : Map.of());
    Pattern pair = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|\\S*)");
    for (String line : s.instructions()) {
      if (line.startsWith("ENV ")) {
        Matcher m = pair.matcher(line.substring(4));
        while (m.find()) {
          String v = m.group(2);
          if (v.startsWith("\"")) {
            v = v.substring(1, v.length() - 1);
          }
          for (var a : args.entrySet()) {
            v = v.replace("${" + a.getKey() + "}", a.getValue());
          }
          env.put(m.group(1), v);
        }
      }
    }
    return env;
  }

  // ------------------------------------------------------------------ compose

  private static final Pattern VAR = Pattern.compile(
      "\\$\\$|\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?}|\\$([A-Za-z_][A-Za-z0-9_]*)");

  /** Compose's interpolation: ${V}, ${V:-default}, ${V-default}, ${V:?error}, ${V?error}, $V, $$. */
  static String interpolate(String s, Map<String, String> env) {
    Matcher m = VAR.matcher(s);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String rep;
      if (m.group().equals("$$")) {
        rep = "$";
      } else if (m.group(4) != null) {
        rep = env.getOrDefault(m.group(4), "");
      } else {
        String v = env.get(m.group(1));
        String op = m.group(2);
        boolean unset = op != null && op.startsWith(":") ? v == null || v.isEmpty() : v == null;
        if (op == null) {
          rep = v == null ? "" : v;
        } else if (op.endsWith("-")) {
          rep = unset ? m.group(3) : v;
        } else if (unset) {
          throw new IllegalArgumentException("compose would stop: " + m.group(1) + ": " + m.group(3));
        } else {
          rep = v;
        }
      }
      m.appendReplacement(out, Matcher.quoteReplacement(rep));
    }
    m.appendTail(out);
    return out.toString();
  }

  // ------------------------------------------------------------------ a distribution from the class path

  /** The jar name the launcher runs (its {@code jar="$dist/NAME"} line). */
  static String launcherJar() throws IOException {
    Matcher m = Pattern.compile("jar=\"\\$dist/([^\"]+)\"").matcher(Files.readString(root().resolve("gaprune")));
    if (!m.find()) {
      throw new AssertionError("the launcher names no jar");
    }
    return m.group(1);
  }

  /**
   * A folder laid out like a distribution (the real launcher, coordinator/target/NAME.jar, lib/*.jar) whose
   * jars are this test's class path: the module classes jarred, the dependencies linked. The worker's test
   * classes come along (the synthetic model runtime); the coordinator's tests do not.
   */
  static Path distribution(Path home) throws IOException {
    Path launcher = home.resolve("gaprune");
    Path dist = home.resolve("coordinator").resolve("target");
    Path lib = Files.createDirectories(dist.resolve("lib"));
    Files.copy(root().resolve("gaprune"), launcher, StandardCopyOption.REPLACE_EXISTING);
    if (!launcher.toFile().setExecutable(true)) {
      throw new IOException("cannot make " + launcher + " executable");
    }
    Path main = root().resolve("coordinator/target/classes");
    Path tests = root().resolve("coordinator/target/test-classes");
    int i = 0;
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path p = Path.of(e).toAbsolutePath().normalize();
      if (p.equals(tests)) {
        continue;
      }
      if (p.equals(main)) {
        jar(p, dist.resolve(launcherJar()));
      } else if (Files.isDirectory(p)) {
        jar(p, lib.resolve(String.format("%03d-%s-%s.jar", i++, p.getParent().getParent().getFileName(), p.getFileName())));
      } else if (p.toString().endsWith(".jar") && Files.isRegularFile(p)) {
        Files.createSymbolicLink(lib.resolve(String.format("%03d-%s", i++, p.getFileName())), p);
      }
    }
    if (!Files.exists(dist.resolve(launcherJar()))) {
      throw new AssertionError("coordinator classes not on the class path: " + main);
    }
    return home;
  }

  private static void jar(Path dir, Path jar) throws IOException {
    try (OutputStream os = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(os);
         Stream<Path> walk = Files.walk(dir)) {
      for (Path f : (Iterable<Path>) walk.filter(Files::isRegularFile).sorted()::iterator) {
        if (f.getFileName().toString().equals("logback-test.xml")) {
          continue;
        }
        out.putNextEntry(new JarEntry(dir.relativize(f).toString().replace(File.separatorChar, '/')));
        Files.copy(f, out);
        out.closeEntry();
      }
    }
  }

  static String read(Path p) {
    try {
      return Files.readString(p, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The stores docker/make-pki.sh made in a folder, and their password. */
  record Pki(Path dir, String password) {
    Path store(String name) {
      return dir.resolve(name + ".p12");
    }

    /** What a node's JVM reads from its environment: the stores' passwords (as configuration overrides). */
    com.typesafe.config.Config passwords() {
      return com.typesafe.config.ConfigFactory.parseMap(Map.of("gaprune.tls.key-store-password", password,
          "gaprune.tls.trust-store-password", password));
    }
  }

  /** Runs docker/make-pki.sh into {@code dir} (the CA beside it, in dir/ca) for {@code names}. */
  static Pki pki(Path dir, String... names) throws IOException, InterruptedException {
    String password = "pki-" + Long.toHexString(new java.security.SecureRandom().nextLong());
    List<String> args = new ArrayList<>(List.of(dir.toString()));
    args.addAll(List.of(names));
    // keytool is a short-lived JVM, started a dozen times: the quick JIT tier halves the script's time here.
    Result r = run(script("make-pki.sh", Map.of("GAPRUNE_TLS_PASSWORD", password,
        "JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"), args.toArray(String[]::new)));
    if (r.exit() != 0) {
      throw new AssertionError("make-pki.sh failed: " + r.stderr());
    }
    return new Pki(dir, password);
  }
}

