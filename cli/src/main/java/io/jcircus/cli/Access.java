package io.jcircus.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.security.crypto.bcrypt.BCrypt;

/**
 * Who may use the console. Accounts come from a file of {@code NAME ROLE SECRET} lines: ROLE is {@code admin}
 * (every command) or {@code viewer} (what only reads); SECRET is a bcrypt hash of a password ({@code $2…}, made by
 * {@code circus-httpd --hash-password}) or {@code sha256:HEX} of a bearer token (made by {@code --new-token}).
 * A browser logs in with a password and gets a session cookie ({@code HttpOnly}, {@code SameSite=Strict},
 * {@code Secure} over TLS) and a CSRF token every action must carry; a script sends
 * {@code Authorization: Bearer TOKEN}. Sessions expire after 12 idle hours; at most 1 000 are kept.
 */
final class Access {
  /** Commands a viewer may run: those that change nothing. */
  static final Set<String> READ_ONLY = Set.of("list", "status", "stats", "dstats", "options", "get",
      "globaloptions", "listsockets", "numwatchers", "numprocesses");
  static final String COOKIE = "jcircus_session";
  private static final long IDLE_NANOS = 12L * 3600 * 1_000_000_000L;
  private static final int MAX_SESSIONS = 1000;
  /** Failed logins per minute per address past which logins are refused for that minute. */
  private static final int MAX_FAILURES = 10;

  record Account(String name, boolean admin, String secret) {}

  record Session(String id, Account account, String csrf, long[] lastUsed) {}

  private final Map<String, Account> accounts;
  private final Map<String, Session> sessions = new ConcurrentHashMap<>();
  private final Map<String, long[]> failures = new ConcurrentHashMap<>();
  private final SecureRandom random = new SecureRandom();

  private Access(Map<String, Account> accounts) {
    this.accounts = accounts;
  }

  /** Reads the accounts file; every error names the file and line. */
  static Access load(Path file) throws IOException {
    Map<String, Account> accounts = new LinkedHashMap<>();
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i).strip();
      if (l.isEmpty() || l.startsWith("#")) {
        continue;
      }
      String[] f = l.split("\\s+");
      String where = file + ":" + (i + 1) + ": ";
      if (f.length != 3) {
        throw new IOException(where + "expected NAME ROLE SECRET; got " + f.length + " field(s)");
      }
      if (!f[1].equals("admin") && !f[1].equals("viewer")) {
        throw new IOException(where + "role must be admin or viewer; got '" + f[1] + "'");
      }
      if (!f[2].startsWith("$2") && !f[2].matches("sha256:[0-9a-f]{64}")) {
        throw new IOException(where + "secret must be a bcrypt hash (circus-httpd --hash-password) or sha256:HEX"
            + " of a token (circus-httpd --new-token)");
      }
      if (accounts.put(f[0] + (f[2].startsWith("sha256:") ? "#token" : ""),
          new Account(f[0], f[1].equals("admin"), f[2])) != null) {
        throw new IOException(where + "'" + f[0] + "' is already defined");
      }
    }
    if (accounts.isEmpty()) {
      throw new IOException(file + ": no account");
    }
    return new Access(accounts);
  }

  static String hashPassword(String password) {
    return BCrypt.hashpw(password, BCrypt.gensalt());
  }

  /** bcrypt's check; a malformed hash is a mismatch (the file was checked at load for the $2 prefix only). */
  private static boolean checkpw(String password, String hash) {
    try {
      return BCrypt.checkpw(password, hash);
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  static String sha256(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
          .digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  String newSecret() {
    byte[] b = new byte[32];
    random.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /** A password login from {@code address}: a new session, or null (wrong, unknown, or too many failures). */
  Session login(String address, String user, String password) {
    long minute = System.nanoTime() / 60_000_000_000L;
    long[] f = failures.compute(address, (k, v) -> v == null || v[0] != minute ? new long[] {minute, 0} : v);
    if (f[1] >= MAX_FAILURES) {
      return null;
    }
    Account a = accounts.get(user);
    if (a == null || !a.secret().startsWith("$2") || !checkpw(password, a.secret())) {
      synchronized (f) {
        f[1]++;
      }
      if (failures.size() > 10_000) {
        failures.clear(); // bounded: a flood of addresses forgets the oldest minute rather than growing
      }
      return null;
    }
    prune();
    Session s = new Session(newSecret(), a, newSecret(), new long[] {System.nanoTime()});
    sessions.put(s.id(), s);
    return s;
  }

  void logout(String sessionId) {
    if (sessionId != null) {
      sessions.remove(sessionId);
    }
  }

  /** The session of this cookie value, if it exists and has not expired. */
  Session session(String id) {
    if (id == null) {
      return null;
    }
    Session s = sessions.get(id);
    if (s == null) {
      return null;
    }
    long now = System.nanoTime();
    if (now - s.lastUsed()[0] > IDLE_NANOS) {
      sessions.remove(id);
      return null;
    }
    s.lastUsed()[0] = now;
    return s;
  }

  /** The account of this bearer token, or null. */
  Account bearer(String token) {
    if (token == null || token.isEmpty()) {
      return null;
    }
    String h = "sha256:" + sha256(token);
    for (Account a : accounts.values()) {
      if (MessageDigest.isEqual(a.secret().getBytes(StandardCharsets.US_ASCII), h.getBytes(StandardCharsets.US_ASCII))) {
        return a;
      }
    }
    return null;
  }

  private void prune() {
    if (sessions.size() < MAX_SESSIONS) {
      return;
    }
    long now = System.nanoTime();
    sessions.values().removeIf(s -> now - s.lastUsed()[0] > IDLE_NANOS);
    while (sessions.size() >= MAX_SESSIONS) { // the least recently used go first
      sessions.values().stream().min((x, y) -> Long.compare(x.lastUsed()[0], y.lastUsed()[0]))
          .ifPresent(s -> sessions.remove(s.id()));
    }
  }
}
