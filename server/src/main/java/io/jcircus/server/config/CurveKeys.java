package io.jcircus.server.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CURVE certificates in ZeroMQ's ZPL "zcert" format, the one czmq, JeroMQ's ZCert and pyzmq's
 * {@code zmq.auth.create_certificates} write: a {@code curve} block with {@code public-key = "Z85"} and, in the
 * {@code .key_secret} file, {@code secret-key = "Z85"}.
 */
public final class CurveKeys {
  private static final Pattern KEY = Pattern.compile("^\\s*(public|secret)-key\\s*=\\s*\"?([^\"\\s]+)\"?\\s*$");

  /** Z85 keys; {@code secretKey} is null for a public certificate. */
  public record Cert(String publicKey, String secretKey) { }

  private CurveKeys() { }

  public static Cert load(Path file) throws IOException {
    String pub = null;
    String sec = null;
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (String line : lines) {
      Matcher m = KEY.matcher(line);
      if (m.matches()) {
        String v = m.group(2);
        if (v.length() != 40) {
          throw new IOException(file + ": " + m.group(1) + "-key is not a 40-character Z85 key");
        }
        if (m.group(1).equals("public")) {
          pub = v;
        } else {
          sec = v;
        }
      }
    }
    if (pub == null) {
      throw new IOException(file + ": no public-key in a curve block");
    }
    return new Cert(pub, sec);
  }

  public static boolean readableByOthers(Path file) throws IOException {
    try {
      Set<PosixFilePermission> p = Files.getPosixFilePermissions(file);
      return p.contains(PosixFilePermission.GROUP_READ) || p.contains(PosixFilePermission.OTHERS_READ);
    } catch (UnsupportedOperationException e) {
      return false;
    }
  }

  /** The public keys of every {@code *.key} file in {@code dir}; unreadable files are skipped. */
  public static Set<String> authorized(Path dir) {
    Set<String> keys = new HashSet<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.key")) {
      for (Path p : ds) {
        try {
          keys.add(load(p).publicKey());
        } catch (IOException e) {
          // a broken certificate authorises nobody
        }
      }
    } catch (IOException e) {
      // a missing directory authorises nobody
    }
    return keys;
  }
}
