package io.gaprune.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator API's token when none is configured: generated at a coordinator's first start (256 random bits,
 * base64url), kept in {@code WORK_DIR/operator-token} readable and writable by the owner only (rw-------), and
 * read back at every later start, so it survives restarts. {@code gaprune session ...} on the same host finds it
 * there. The token itself is never logged: the start prints where it is and how to use it.
 */
public final class OperatorToken {
  private static final Logger log = LoggerFactory.getLogger(OperatorToken.class);
  /** The file's name inside the work dir. */
  public static final String FILE = "operator-token";
  /** RFC 6750's b64token: what may follow "Bearer " in an Authorization header. */
  static final Pattern B64TOKEN = Pattern.compile("[A-Za-z0-9\\-._~+/]+=*");
  private static final Set<PosixFilePermission> OWNER_ONLY =
      EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);

  private OperatorToken() {}

  public static Path file(Path workDir) {
    return workDir.resolve(FILE);
  }

  /** Whether {@code token} can travel as {@code Authorization: Bearer TOKEN} (RFC 6750 §2.1). */
  public static boolean wellFormed(String token) {
    return token != null && B64TOKEN.matcher(token).matches();
  }

  /**
   * The token of {@code workDir}: read from its file, or generated and written there when there is none.
   * Refuses a file that others may read (a token they could use) or that holds no well-formed token.
   */
  public static String ensure(Path workDir) {
    Path f = file(workDir);
    try {
      Files.createDirectories(workDir);
      if (!Files.exists(f)) {
        String token = generate();
        Path tmp = workDir.resolve(FILE + ".tmp-" + ProcessHandle.current().pid());
        Files.deleteIfExists(tmp);
        if (posix(workDir)) {
          Files.createFile(tmp, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        } else {
          Files.createFile(tmp);
        }
        Files.writeString(tmp, token + "\n", StandardCharsets.UTF_8);
        try {
          Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(tmp, f);
        } catch (FileAlreadyExistsException e) {
          Files.deleteIfExists(tmp); // another coordinator of this work dir was first: use its token
          return read(f).orElseThrow();
        }
        log.warn("The operator API needs a bearer token and none is configured (gaprune.http.token or"
            + " GAPRUNE_HTTP_TOKEN): generated one in {} (readable by this user only). `gaprune session ...` on this"
            + " host reads it from there (--work-dir {} or GAPRUNE_WORK_DIR, when not run from the work dir's"
            + " parent); curl: curl -H \"Authorization: Bearer $(cat {})\" ...; or configure a token of your own.",
            f, workDir, f);
        return token;
      }
      return read(f).orElseThrow(() -> new IllegalStateException("the operator token file " + f
          + " holds no token (letters, digits, - . _ ~ + /): delete it and restart to generate a new one"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create or read the operator token file " + f + ": " + e.getMessage(), e);
    }
  }

  /**
   * The token in {@code f}, if it holds a well-formed one. Throws when others than the owner may read or write
   * it: a token they could read is no secret.
   */
  public static Optional<String> read(Path f) throws IOException {
    if (posix(f)) {
      Set<PosixFilePermission> p = Files.getPosixFilePermissions(f);
      if (!OWNER_ONLY.containsAll(p)) {
        throw new IllegalStateException("the operator token file " + f + " is " + PosixFilePermissions.toString(p)
            + ": others may read or change it; make it the owner's only (chmod 600 " + f + ") or delete it");
      }
    }
    String t = Files.readString(f, StandardCharsets.UTF_8).strip();
    return wellFormed(t) ? Optional.of(t) : Optional.empty();
  }

  static String generate() {
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static boolean posix(Path p) {
    Path existing = p;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    return existing != null && Files.getFileAttributeView(existing, PosixFileAttributeView.class) != null;
  }
}
