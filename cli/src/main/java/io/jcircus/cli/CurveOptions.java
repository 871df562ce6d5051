package io.jcircus.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.zeromq.ZMQ;
import picocli.CommandLine.Option;

/**
 * CURVE for the clients: which server public key to expect and which client key pair to present. Taken from
 * the options, else {@code CIRCUSCTL_CURVE_SERVER_KEY} / {@code CIRCUSCTL_CURVE_KEY}, else the default location
 * {@code ~/.config/jcircus/curve/server.key} and {@code client.key_secret}. With no server key anywhere the
 * connection is plaintext, as Circus's is. Key files use ZeroMQ's zcert format (czmq, JeroMQ, pyzmq).
 */
final class CurveOptions {
  /** Z85 keys of one CURVE client connection. */
  record Keys(String serverPublic, String clientPublic, String clientSecret) { }

  @Option(names = "--curve-server-key", paramLabel = "FILE",
      description = "The server's public certificate (NAME.key); enables CURVE. Default: $CIRCUSCTL_CURVE_SERVER_KEY"
          + " or ~/.config/jcircus/curve/server.key if it exists.")
  Path serverKey;

  @Option(names = "--curve-key", paramLabel = "FILE",
      description = "This client's secret certificate (NAME.key_secret). Default: $CIRCUSCTL_CURVE_KEY or"
          + " ~/.config/jcircus/curve/client.key_secret.")
  Path clientKey;

  /** $HOME as the shell has it (Java's user.home comes from the password database instead). */
  static Path home() {
    String h = System.getenv("HOME");
    return Path.of(h != null && !h.isEmpty() ? h : System.getProperty("user.home"));
  }

  static Path defaultDir() {
    String xdg = System.getenv("XDG_CONFIG_HOME");
    Path base = xdg != null && !xdg.isEmpty() ? Path.of(xdg) : home().resolve(".config");
    return base.resolve("jcircus").resolve("curve");
  }

  /** Null for plaintext. */
  Keys resolve() throws IOException {
    Path server = serverKey != null ? serverKey : env("CIRCUSCTL_CURVE_SERVER_KEY");
    if (server == null) {
      Path def = defaultDir().resolve("server.key");
      server = Files.isReadable(def) ? def : null;
    }
    if (server == null) {
      return null;
    }
    Keys own = clientKeys();
    if (own == null) {
      throw new IOException("CURVE server key " + server + " given but no client key: pass --curve-key FILE"
          + " (make one with: circusctl keygen client)");
    }
    return new Keys(load(server)[0], own.clientPublic(), own.clientSecret());
  }

  /** This client's own key pair ({@code serverPublic} null), for daemons that name only their server key; null if none. */
  Keys clientKeys() throws IOException {
    Path client = clientKey != null ? clientKey : env("CIRCUSCTL_CURVE_KEY");
    if (client == null) {
      client = defaultDir().resolve("client.key_secret");
      if (!Files.isReadable(client)) {
        return null;
      }
    }
    String[] c = load(client);
    if (c[1] == null) {
      throw new IOException(client + " holds no secret-key; --curve-key takes the .key_secret file");
    }
    return new Keys(null, c[0], c[1]);
  }

  private static Path env(String name) {
    String v = System.getenv(name);
    return v == null || v.isEmpty() ? null : Path.of(v);
  }

  private static final Pattern KEY = Pattern.compile("^\\s*(public|secret)-key\\s*=\\s*\"?([^\"\\s]+)\"?\\s*$");

  /** {public, secret-or-null} Z85 keys of a zcert file. */
  static String[] load(Path file) throws IOException {
    String[] keys = new String[2];
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      Matcher m = KEY.matcher(line);
      if (m.matches()) {
        if (m.group(2).length() != 40) {
          throw new IOException(file + ": " + m.group(1) + "-key is not a 40-character Z85 key");
        }
        keys[m.group(1).equals("public") ? 0 : 1] = m.group(2);
      }
    }
    if (keys[0] == null) {
      throw new IOException(file + ": no public-key in a curve block");
    }
    return keys;
  }

  /** Writes NAME.key and NAME.key_secret into {@code dir}, both created with mode 0600; returns both paths. */
  static Path[] generate(Path dir, String name, boolean force) throws IOException {
    Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    ZMQ.Curve.KeyPair kp = ZMQ.Curve.generateKeyPair();
    Path pub = dir.resolve(name + ".key");
    Path sec = dir.resolve(name + ".key_secret");
    for (Path p : new Path[] {pub, sec}) {
      if (Files.exists(p) && !force) {
        throw new IOException(p + " exists; pass --force to replace it");
      }
    }
    String when = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss"));
    write(pub, "#   ****  Generated on " + when + " by jcircus  ****\n"
        + "#   ZeroMQ CURVE Public Certificate\n"
        + "#   Exchange securely, or use a secure mechanism to verify the contents\n"
        + "#   of this file after exchange. Store public certificates in your home\n"
        + "#   directory, in the .curve subdirectory.\n\n"
        + "metadata\ncurve\n    public-key = \"" + kp.publicKey + "\"\n");
    write(sec, "#   ****  Generated on " + when + " by jcircus  ****\n"
        + "#   ZeroMQ CURVE **Secret** Certificate\n"
        + "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
        + "metadata\ncurve\n    public-key = \"" + kp.publicKey + "\"\n    secret-key = \"" + kp.secretKey + "\"\n");
    return new Path[] {pub, sec};
  }

  private static void write(Path p, String text) throws IOException {
    Path tmp = p.resolveSibling(p.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(tmp, text, StandardCharsets.US_ASCII, StandardOpenOption.TRUNCATE_EXISTING);
    Files.move(tmp, p, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }
}
