package io.jcircus.cluster;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.NoSuchAlgorithmException;
import java.util.Set;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * ZooKeeper digest credentials ({@code user:password}, one line) from a file only its owner may read: the fleet's
 * members write the registry with them, anyone may read it (it holds endpoints and public keys, never a secret).
 */
public record Credentials(String user, String password) {
  /** Reads {@code file}; an error names the file and the rule it breaks. */
  public static Credentials read(Path file) throws IOException {
    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
    for (PosixFilePermission p : perms) {
      if (p != PosixFilePermission.OWNER_READ && p != PosixFilePermission.OWNER_WRITE) {
        throw new IOException(file + ": may be read by others (" + java.nio.file.attribute.PosixFilePermissions
            .toString(perms) + "); make it readable by its owner only (chmod 600)");
      }
    }
    String line = Files.readString(file, StandardCharsets.UTF_8).strip();
    int colon = line.indexOf(':');
    if (colon <= 0 || colon == line.length() - 1 || line.contains("\n")) {
      throw new IOException(file + ": expected one line USER:PASSWORD");
    }
    return new Credentials(line.substring(0, colon), line.substring(colon + 1));
  }

  /** {@code user:password}, as ZooKeeper's digest scheme takes it. */
  public byte[] auth() {
    return (user + ":" + password).getBytes(StandardCharsets.UTF_8);
  }

  /** The ACL id ZooKeeper stores: {@code user:base64(sha1(user:password))}. */
  public String digestId() {
    try {
      return DigestAuthenticationProvider.generateDigest(user + ":" + password);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return "Credentials[" + user + ":…]"; // never the password in a log line
  }
}
