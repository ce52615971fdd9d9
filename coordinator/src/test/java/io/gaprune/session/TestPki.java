package io.gaprune.session;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A throw-away certificate authority made at test time with the JDK's keytool, running the same commands
 * docs/security.md gives operators (so the documented recipe is what the TLS test proves). Passwords are
 * random per store and reach keytool through the environment ({@code -storepass:env}), never an argument.
 */
final class TestPki {
  /** A store on disk and its password (the tests hand the password to a node through its environment). */
  record Store(Path path, String password) {}

  /** A CA: its PKCS12 store (key + self-signed certificate) and the exported certificate (PEM). */
  record Ca(Store store, Path certificate) {}

  private static final SecureRandom RANDOM = new SecureRandom();
  private final Path dir;

  TestPki(Path dir) throws IOException {
    this.dir = Files.createDirectories(dir);
  }

  static String password() {
    byte[] b = new byte[12];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /** A self-signed CA certificate that may sign node certificates (basic constraints CA:true). */
  Ca ca(String name) throws Exception {
    Store s = new Store(dir.resolve(name + ".p12"), password());
    keytool(Map.of("PW", s.password()), "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1",
        "-dname", "CN=" + name, "-ext", "bc:c=ca:true", "-ext", "KeyUsage:c=keyCertSign,cRLSign", "-validity", "2",
        "-keystore", s.path().toString(), "-storetype", "PKCS12", "-storepass:env", "PW");
    Path cert = dir.resolve(name + ".crt");
    keytool(Map.of("PW", s.password()), "-exportcert", "-rfc", "-alias", "ca", "-keystore", s.path().toString(),
        "-storepass:env", "PW", "-file", cert.toString());
    return new Ca(s, cert);
  }

  /** A trust store holding only this CA's certificate: a node using it accepts exactly the CA's nodes. */
  Store trustStore(Ca ca, String name) throws Exception {
    Store s = new Store(dir.resolve(name + ".p12"), password());
    keytool(Map.of("PW", s.password()), "-importcert", "-noprompt", "-alias", "ca", "-file", ca.certificate().toString(),
        "-keystore", s.path().toString(), "-storetype", "PKCS12", "-storepass:env", "PW");
    return s;
  }

  /**
   * A node's key store: a fresh EC key, a certificate signed by {@code ca} for TLS server and client use,
   * valid for the host names and addresses in {@code san} (e.g. "ip:127.0.0.1,dns:localhost").
   */
  Store node(Ca ca, String name, String san) throws Exception {
    Store s = new Store(dir.resolve(name + ".p12"), password());
    Map<String, String> env = Map.of("PW", s.password(), "CA_PW", ca.store().password());
    String ks = s.path().toString();
    keytool(env, "-genkeypair", "-alias", "node", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + name,
        "-validity", "2", "-keystore", ks, "-storetype", "PKCS12", "-storepass:env", "PW");
    Path csr = dir.resolve(name + ".csr");
    Path crt = dir.resolve(name + ".crt");
    keytool(env, "-certreq", "-alias", "node", "-keystore", ks, "-storepass:env", "PW", "-file", csr.toString());
    keytool(env, "-gencert", "-rfc", "-alias", "ca", "-keystore", ca.store().path().toString(), "-storepass:env", "CA_PW",
        "-infile", csr.toString(), "-outfile", crt.toString(), "-validity", "2",
        "-ext", "KeyUsage:c=digitalSignature", "-ext", "ExtendedKeyUsage=serverAuth,clientAuth",
        "-ext", "SubjectAlternativeName=" + san);
    // keytool chains the signed certificate to a CA it already holds: import the CA first, then the reply.
    keytool(env, "-importcert", "-noprompt", "-alias", "ca", "-file", ca.certificate().toString(), "-keystore", ks,
        "-storepass:env", "PW");
    keytool(env, "-importcert", "-alias", "node", "-file", crt.toString(), "-keystore", ks, "-storepass:env", "PW");
    return s;
  }

  private void keytool(Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).directory(dir.toFile());
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IllegalStateException("keytool " + String.join(" ", args) + " failed:\n" + out);
    }
  }
}
