package io.gaprune.ops;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Locale;

/** Key and trust stores as every TLS end of a node reads them: JKS when the file is named so, else PKCS12. */
public final class KeyStores {
  private KeyStores() {}

  public static KeyStore load(Path path, String password) throws IOException, GeneralSecurityException {
    try (InputStream in = Files.newInputStream(path)) {
      KeyStore ks = KeyStore.getInstance(path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".jks")
          ? "JKS" : "PKCS12");
      ks.load(in, password.toCharArray());
      return ks;
    }
  }
}
