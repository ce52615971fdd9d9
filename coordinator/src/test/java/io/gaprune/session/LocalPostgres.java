package io.gaprune.session;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A private PostgreSQL server for one test: initdb into a fresh temporary directory, started with pg_ctl on
 * a free 127.0.0.1 port with its unix socket in that directory (no system-wide server, nothing shared), and
 * an administrator whose password is random. PostgreSQL refuses to run as root, so when the tests run as
 * root every server command runs as the {@code postgres} account through {@code runuser}.
 */
final class LocalPostgres implements AutoCloseable {
  static final String ADMIN = "gaprune_admin";
  static final String INSTALL_HINT = "install the PostgreSQL server (Debian/Ubuntu: apt-get install -y postgresql) "
      + "or set GAPRUNE_PG_BIN to the folder holding initdb and pg_ctl";

  private final Path bin;
  private final Path dir;
  private final List<String> asUser;
  private final int port;
  private final String adminPassword;
  private final Thread shutdownHook;

  private LocalPostgres(Path bin, Path dir, List<String> asUser, int port, String adminPassword) {
    this.bin = bin;
    this.dir = dir;
    this.asUser = asUser;
    this.port = port;
    this.adminPassword = adminPassword;
    // A test JVM stopped early (Ctrl-C, surefire's timeout) must not leave a server running.
    this.shutdownHook = new Thread(this::stop, "stop-test-postgres");
  }

  /** The folder holding initdb and pg_ctl: GAPRUNE_PG_BIN, else Debian's /usr/lib/postgresql/N/bin (newest), else PATH. */
  static Path findBinaries() throws IOException {
    String env = System.getenv("GAPRUNE_PG_BIN");
    if (env != null && !env.isBlank()) {
      return hasServer(Path.of(env)) ? Path.of(env) : null;
    }
    Path debian = Path.of("/usr/lib/postgresql");
    if (Files.isDirectory(debian)) {
      try (Stream<Path> versions = Files.list(debian)) {
        var found = versions.map(v -> v.resolve("bin")).filter(LocalPostgres::hasServer)
            .max(Comparator.comparing(LocalPostgres::majorVersion));
        if (found.isPresent()) {
          return found.get();
        }
      }
    }
    for (String p : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!p.isEmpty() && hasServer(Path.of(p))) {
        return Path.of(p);
      }
    }
    return null;
  }

  private static boolean hasServer(Path bin) {
    return Files.isExecutable(bin.resolve("initdb")) && Files.isExecutable(bin.resolve("pg_ctl"));
  }

  private static int majorVersion(Path bin) {
    try {
      return Integer.parseInt(bin.getParent().getFileName().toString());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /**
   * initdb and start. As root the server runs as {@code postgres} (the account Debian's package creates);
   * {@link Unavailable} says why that is impossible here, and the caller should skip.
   */
  static LocalPostgres start(Path bin, int port) throws Exception {
    Path dir = Files.createTempDirectory("gaprune-pg-");
    List<String> asUser;
    try {
      asUser = unprivileged(dir);
    } catch (Unavailable e) {
      Files.delete(dir);
      throw e;
    }
    boolean root = !asUser.isEmpty();
    String password = TestPki.password();
    Path pwfile = Files.writeString(dir.resolve("admin.pw"), password + "\n");
    Path sockets = Files.createDirectories(dir.resolve("sockets"));
    if (root) {
      Files.setOwner(pwfile, Files.getOwner(dir));
      Files.setOwner(sockets, Files.getOwner(dir));
    }
    LocalPostgres pg = new LocalPostgres(bin, dir, asUser, port, password);
    Runtime.getRuntime().addShutdownHook(pg.shutdownHook);
    try {
      // scram-sha-256 for every connection, as in production: the coordinator must bring its password.
      pg.run(120, "initdb", "-D", dir.resolve("data").toString(), "-U", ADMIN, "--pwfile=" + pwfile,
          "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync");
      pg.run(120, "pg_ctl", "-D", dir.resolve("data").toString(), "-l", pg.serverLog().toString(), "-w",
          "-t", "90", "-o", "-p " + port + " -k " + sockets + " -c listen_addresses=127.0.0.1", "start");
    } catch (Exception e) {
      pg.close();
      throw e;
    }
    return pg;
  }

  /**
   * The command prefix that runs a server tool as a user PostgreSQL accepts: nothing when this JVM is not
   * root; as root, runuser to the {@code postgres} account, which then owns {@code dir}.
   */
  private static List<String> unprivileged(Path dir) throws IOException, Unavailable {
    // A directory this process just made is owned by its effective user.
    if (((Integer) Files.getAttribute(dir, "unix:uid")) != 0) {
      return List.of();
    }
    // runuser comes with util-linux (every Debian); the postgres account with the server package.
    Path runuser = Stream.of("/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser").map(Path::of)
        .filter(Files::isExecutable).findFirst()
        .orElseThrow(() -> new Unavailable("running as root, and runuser is not installed to run PostgreSQL "
            + "as another user (PostgreSQL refuses to run as root)"));
    UserPrincipal postgres;
    try {
      postgres = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
    } catch (IOException e) {
      throw new Unavailable("running as root and there is no \"postgres\" account to run PostgreSQL as "
          + "(PostgreSQL refuses to run as root); " + INSTALL_HINT);
    }
    Files.setOwner(dir, postgres);
    return List.of(runuser.toString(), "-u", "postgres", "--");
  }

  /** PostgreSQL cannot be run here (see the message); the test is skipped, not failed. */
  static final class Unavailable extends Exception {
    Unavailable(String message) {
      super(message);
    }
  }

  String jdbcUrl(String database) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
  }

  Connection connect(String database, String user, String password) throws Exception {
    return DriverManager.getConnection(jdbcUrl(database), user, password);
  }

  /** A login role that owns a new database: what a deployment gives the coordinator (no superuser). */
  void createDatabase(String database, String owner, String ownerPassword) throws Exception {
    try (Connection c = connect("postgres", ADMIN, adminPassword); Statement s = c.createStatement()) {
      s.execute("CREATE ROLE " + owner + " LOGIN PASSWORD '" + ownerPassword.replace("'", "''") + "'");
      s.execute("CREATE DATABASE " + database + " OWNER " + owner);
    }
  }

  Path serverLog() {
    return dir.resolve("server.log");
  }

  private void run(int timeoutSeconds, String tool, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(asUser);
    cmd.add(bin.resolve(tool).toString());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).directory(dir.toFile()).start();
    // Read the output before waiting: a tool blocked on a full pipe would never exit.
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      String log = Files.exists(serverLog()) ? "\nserver log:\n" + Files.readString(serverLog()) : "";
      throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + out + log);
    }
  }

  private synchronized void stop() {
    if (!Files.isDirectory(dir)) {
      return;
    }
    if (Files.exists(dir.resolve("data").resolve("postmaster.pid"))) {
      try {
        run(60, "pg_ctl", "-D", dir.resolve("data").toString(), "-m", "fast", "-w", "stop");
      } catch (Exception e) {
        // Keep the directory: a server may still be using it, and its log says why it did not stop.
        System.err.println("could not stop the test PostgreSQL in " + dir + ": " + e.getMessage());
        return;
      }
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      System.err.println("could not delete " + dir + ": " + e);
    }
  }

  @Override
  public void close() {
    stop();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // the JVM is already shutting down: the hook runs (and finds nothing left to stop)
    }
  }
}
