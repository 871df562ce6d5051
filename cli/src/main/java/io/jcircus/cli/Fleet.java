package io.jcircus.cli;

import io.jcircus.protocol.ConfigException;
import io.jcircus.protocol.IniFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.zeromq.ZContext;

/**
 * The daemons one console watches, in the order they were named: those of the command line ({@code --endpoint},
 * repeatable), those of its config file ({@code --config}: one {@code [daemon:NAME]} section each), and those
 * added in the page, which are saved to that file when there is one. The first is the page's default.
 *
 * <pre>
 * [daemon:web-1]
 * endpoint = tcp://10.0.0.5:5555
 * curve_server_key = /etc/circus/web-1.key     ; the daemon's public certificate, or its Z85 public key
 * curve_key = /etc/circus/console.key_secret   ; this console's certificate (default: the console's --curve-key)
 * </pre>
 */
final class Fleet implements AutoCloseable {
  /** A daemon's name in the console: also its query parameter, so plain characters only. */
  static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}");
  private static final Pattern ENDPOINT = Pattern.compile("(tcp://[^\\s/]+:\\d{1,5}|ipc:///?[^\\s]+)");
  private static final Pattern Z85_KEY = Pattern.compile("[0-9a-zA-Z.\\-:+=^!/*?&<>()\\[\\]{}@%$#]{40}");
  /** Daemons one console follows at most: each costs two threads and three connections. */
  static final int MAX = 64;
  private static final List<String> KEYS = List.of("endpoint", "curve_server_key", "curve_key");

  private final ZContext ctx;
  private final long timeoutMs;
  /** The client key pair of daemons that name a server key and no key of their own; null if the console has none. */
  private final CurveOptions defaults;
  private final Path config;
  private final LinkedHashMap<String, Daemon> daemons = new LinkedHashMap<>();

  Fleet(ZContext ctx, long timeoutMs, CurveOptions defaults, Path config) {
    this.ctx = ctx;
    this.timeoutMs = timeoutMs;
    this.defaults = defaults;
    this.config = config;
  }

  /** The name a daemon of the command line gets: {@code NAME=ENDPOINT} names it, else its endpoint's host:port. */
  static String[] named(String arg) {
    int eq = arg.indexOf('=');
    if (eq > 0 && NAME.matcher(arg.substring(0, eq)).matches()) {
      return new String[] {arg.substring(0, eq), arg.substring(eq + 1)};
    }
    String rest = arg.replaceFirst("^[a-z]+://", "");
    String name = rest.contains("/") ? rest.substring(rest.lastIndexOf('/') + 1) : rest;
    name = name.replaceAll("[^A-Za-z0-9_.:-]", "_").replaceFirst("^[^A-Za-z0-9]+", "");
    return new String[] {name.isEmpty() ? "circusd" : name.substring(0, Math.min(64, name.length())), arg};
  }

  /** A daemon of the command line, with the console's own CURVE options. */
  synchronized void addFromCommandLine(String name, String endpoint, CurveOptions.Keys curve) throws IOException {
    check(name, endpoint, "--endpoint");
    put(new Daemon(ctx, name, endpoint, curve, timeoutMs, false));
  }

  /** Reads the config file's {@code [daemon:NAME]} sections; an error names the file, line, section and key. */
  synchronized void load() throws ConfigException, IOException {
    if (config == null || !Files.exists(config)) {
      return; // a file the page will write when a daemon is added
    }
    IniFile ini = new IniFile();
    ini.read(config);
    for (IniFile.Section s : ini.sections()) {
      if (!s.name().startsWith("daemon:")) {
        throw new ConfigException(config, s.line(), s.name(), null,
            "unknown section: the console's config has [daemon:NAME] sections only");
      }
      String name = s.name().substring("daemon:".length()).strip();
      for (IniFile.Entry e : s.entries()) {
        if (!KEYS.contains(e.key())) {
          throw ConfigException.at(e, s.name(), "unknown key; a daemon has " + String.join(", ", KEYS));
        }
      }
      IniFile.Entry ep = s.get("endpoint");
      if (ep == null) {
        throw new ConfigException(config, s.line(), s.name(), "endpoint", "missing: the daemon's control endpoint");
      }
      if (!NAME.matcher(name).matches()) {
        throw new ConfigException(config, s.line(), s.name(), null, "a daemon's name is 1 to 64 letters, digits,"
            + " '_', '.', ':' or '-'");
      }
      if (!ENDPOINT.matcher(ep.value()).matches()) {
        throw ConfigException.at(ep, s.name(), "not an endpoint: tcp://HOST:PORT or ipc:///PATH");
      }
      if (daemons.containsKey(name)) {
        throw new ConfigException(config, s.line(), s.name(), null, "a daemon named '" + name + "' exists already");
      }
      CurveOptions.Keys curve;
      try {
        curve = keys(s.get("curve_server_key") == null ? null : s.get("curve_server_key").value(),
            s.get("curve_key") == null ? null : s.get("curve_key").value());
      } catch (IOException | IllegalArgumentException e) {
        IniFile.Entry at = s.get("curve_server_key") != null ? s.get("curve_server_key") : s.get("curve_key");
        throw ConfigException.at(at, s.name(), e.getMessage());
      }
      put(new Daemon(ctx, name, ep.value(), curve, timeoutMs, true));
    }
  }

  /**
   * CURVE keys of a daemon: {@code server} is a zcert file or the 40-character Z85 public key itself; the client
   * pair is {@code client}'s file, else the console's. Null (plaintext) without a server key.
   */
  private CurveOptions.Keys keys(String server, String client) throws IOException {
    if (server == null || server.isBlank()) {
      return null;
    }
    String serverPublic = Z85_KEY.matcher(server).matches() && !Files.exists(Path.of(server))
        ? server : CurveOptions.load(Path.of(server))[0];
    String[] pair;
    if (client != null && !client.isBlank()) {
      pair = CurveOptions.load(Path.of(client));
    } else {
      CurveOptions.Keys own = defaults.clientKeys();
      if (own == null) {
        throw new IOException("a CURVE server key needs a client key: give curve_key, or --curve-key to the console");
      }
      pair = new String[] {own.clientPublic(), own.clientSecret()};
    }
    if (pair[1] == null) {
      throw new IOException(client + " holds no secret-key; curve_key takes the .key_secret file");
    }
    return new CurveOptions.Keys(serverPublic, pair[0], pair[1]);
  }

  /** Adds a daemon from the page and saves it to the config file; the error text is the page's to show. */
  synchronized String add(String name, String endpoint, String serverKey) {
    try {
      check(name, endpoint, "the page");
      if (serverKey != null && !serverKey.isBlank() && !Z85_KEY.matcher(serverKey.strip()).matches()) {
        return "curve_server_key: the daemon's public key, 40 Z85 characters (as in its .key file)";
      }
      CurveOptions.Keys curve = keys(serverKey == null ? null : serverKey.strip(), null);
      Daemon d = new Daemon(ctx, name, endpoint, curve, timeoutMs, true);
      if (config != null) {
        StringBuilder section = new StringBuilder("\n[daemon:").append(name).append("]\nendpoint = ").append(endpoint)
            .append('\n');
        if (curve != null) {
          section.append("curve_server_key = ").append(curve.serverPublic()).append('\n');
        }
        String before = Files.exists(config) ? Files.readString(config, StandardCharsets.UTF_8) : "";
        save(before + section);
      }
      put(d);
      d.start();
      return null;
    } catch (IOException | IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  /** Stops following a daemon and takes it out of the config file. */
  synchronized String remove(String name) {
    Daemon d = daemons.get(name);
    if (d == null) {
      return "no daemon named '" + name + "'";
    }
    if (!d.added) {
      return "'" + name + "' comes from the command line; it cannot be removed here";
    }
    try {
      if (config != null && Files.exists(config)) {
        save(without(Files.readAllLines(config, StandardCharsets.UTF_8), "daemon:" + name));
      }
    } catch (IOException e) {
      return e.getMessage();
    }
    daemons.remove(name);
    d.close();
    return null;
  }

  /** The file's text without the section {@code name} (its header up to the next header); the rest as it was. */
  static String without(List<String> lines, String name) {
    StringBuilder sb = new StringBuilder();
    boolean skipping = false;
    for (String line : lines) {
      String t = line.strip();
      if (t.startsWith("[") && t.endsWith("]")) {
        skipping = t.substring(1, t.length() - 1).strip().equals(name);
      }
      if (!skipping) {
        sb.append(line).append('\n');
      }
    }
    return sb.toString();
  }

  private void save(String text) throws IOException {
    Path tmp = config.resolveSibling(config.getFileName() + ".tmp");
    Files.writeString(tmp, text, StandardCharsets.UTF_8);
    Files.move(tmp, config, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private void check(String name, String endpoint, String from) throws IOException {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IOException("a daemon's name is 1 to 64 letters, digits, '_', '.', ':' or '-'; got '" + name + "'");
    }
    if (endpoint == null || !ENDPOINT.matcher(endpoint).matches()) {
      throw new IOException("not an endpoint: '" + endpoint + "' (tcp://HOST:PORT or ipc:///PATH)");
    }
    if (daemons.containsKey(name)) {
      throw new IOException("a daemon named '" + name + "' exists already");
    }
    if (daemons.size() >= MAX) {
      throw new IOException("one console follows at most " + MAX + " daemons");
    }
  }

  private void put(Daemon d) {
    daemons.put(d.name, d);
  }

  /** Daemons that come from a cluster's registry (followed while registered there). */
  private final java.util.Set<String> fromCluster = new java.util.HashSet<>();

  /**
   * The registry's nodes now: a node not followed yet is followed (its record's endpoint, its published CURVE key
   * with the console's client keys), one that left the registry is dropped. Daemons named on the command line or in
   * the config file are left as they are.
   */
  synchronized void sync(Map<String, Map<String, Object>> nodes, CurveOptions.Keys client) {
    for (String gone : new ArrayList<>(fromCluster)) {
      if (!nodes.containsKey(gone)) {
        Daemon d = daemons.remove(gone);
        fromCluster.remove(gone);
        if (d != null) {
          d.close();
        }
      }
    }
    for (Map.Entry<String, Map<String, Object>> e : nodes.entrySet()) {
      if (daemons.containsKey(e.getKey())) {
        continue;
      }
      ClusterFanOut.Node n = new ClusterFanOut.Node(e.getKey(), e.getValue());
      if (n.endpoint() == null || !NAME.matcher(n.name()).matches() || daemons.size() >= MAX) {
        continue;
      }
      CurveOptions.Keys keys = null;
      if (e.getValue().get("curve_public_key") instanceof String pub && client != null && client.clientSecret() != null) {
        keys = new CurveOptions.Keys(pub, client.clientPublic(), client.clientSecret());
      }
      Daemon d = new Daemon(ctx, n.name(), n.endpoint(), keys, timeoutMs, false);
      put(d);
      fromCluster.add(n.name());
      d.start();
    }
  }

  /** Starts following every daemon. */
  synchronized void start() {
    daemons.values().forEach(Daemon::start);
  }

  /** The daemon named {@code name}, the first one for null; null if there is no such daemon. */
  synchronized Daemon get(String name) {
    if (name == null || name.isEmpty()) {
      return daemons.isEmpty() ? null : daemons.values().iterator().next();
    }
    return daemons.get(name);
  }

  synchronized List<Daemon> all() {
    return new ArrayList<>(daemons.values());
  }

  /** The {@code /api/daemons} reply: every daemon with its endpoint and health. */
  synchronized Map<String, Object> describe() {
    List<Object> list = new ArrayList<>();
    for (Daemon d : daemons.values()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", d.name);
      m.put("endpoint", d.endpoint);
      m.put("curve", d.curve != null);
      m.put("removable", d.added);
      m.putAll(d.health().toMap());
      list.add(m);
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("status", "ok");
    m.put("daemons", list);
    m.put("saved_to", config == null ? null : config.toString());
    return m;
  }

  @Override
  public synchronized void close() {
    daemons.values().forEach(Daemon::close);
    daemons.clear();
  }
}
