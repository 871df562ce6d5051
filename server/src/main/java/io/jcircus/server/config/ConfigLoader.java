package io.jcircus.server.config;

import io.jcircus.protocol.ConfigException;
import io.jcircus.protocol.IniFile;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Turns circus.ini (and what it includes) into a {@link CircusConfig}. Every error is a
 * {@link ConfigException} naming file, line, section and key.
 */
public final class ConfigLoader {
  static final Set<String> CIRCUS_KEYS =
      Set.of(
          "endpoint", "endpoint_owner", "pubsub_endpoint", "multicast_endpoint", "stats_endpoint", "statsd", "output_endpoint",
          "check_delay", "include", "include_dir", "warmup_delay", "httpd", "httpd_host", "httpd_port", "debug",
          "debug_gc", "pidfile", "umask", "loglevel", "logoutput", "loggerconfig", "fqdn_prefix",
          "statsd_close_outputs", "httpd_close_outputs", "stream_backend", "ssh_server", "curve_secret_key",
          "curve_authorized_keys", "fdpass_socket", "fdpass_uids", "max_message_size", "metrics_endpoint",
          "metrics_sample_interval", "cluster", "node_name", "node_tags", "cluster_auth", "cluster_session_timeout",
          "cluster_update_interval");

  static final Set<String> SOCKET_KEYS =
      Set.of(
          "host", "port", "path", "family", "type", "proto", "backlog", "umask", "replace", "so_reuseport",
          "interface", "blocking", "defer_accept");

  private final Map<String, String> environ;
  private final UserLookup users;

  /** Resolves user and group names; jnr-posix in production, loaded only when a uid or gid is set. */
  public interface UserLookup {
    /** [uid, primary gid] and home, or null. */
    User user(String nameOrId);

    /** gid or -1. */
    int group(String nameOrId);

    record User(String name, int uid, int gid, String home) {}
  }

  public ConfigLoader(Map<String, String> environ, UserLookup users) {
    this.environ = environ;
    this.users = users;
  }

  /** The watcher keys circus.ini knows. */
  public static Set<String> watcherKeys() {
    return WatcherOptions.keys();
  }

  /** The production user lookup (jnr-posix, loaded on first use). */
  public static UserLookup users() {
    return PosixUsers.INSTANCE;
  }

  public static CircusConfig load(Path file) throws ConfigException {
    return new ConfigLoader(System.getenv(), PosixUsers.INSTANCE).loadFile(file);
  }

  public CircusConfig loadFile(Path file) throws ConfigException {
    Path abs = file.toAbsolutePath().normalize();
    if (!Files.isRegularFile(abs)) {
      throw new ConfigException(abs, "configuration file not found");
    }
    IniFile ini = new IniFile();
    ini.read(abs);
    CircusConfig cfg = new CircusConfig();
    cfg.file = abs;
    readIncludes(ini, abs, cfg);
    build(ini, cfg);
    return cfg;
  }

  /** For tests: parse text as if it were the file {@code name}. */
  public CircusConfig loadText(Path name, String text) throws ConfigException {
    IniFile ini = new IniFile();
    ini.read(name, text);
    CircusConfig cfg = new CircusConfig();
    cfg.file = name;
    readIncludes(ini, name.toAbsolutePath(), cfg);
    build(ini, cfg);
    return cfg;
  }

  private void readIncludes(IniFile ini, Path main, CircusConfig cfg) throws ConfigException {
    IniFile.Section circus = ini.section("circus");
    if (circus == null) {
      return;
    }
    Path base = main.getParent() == null ? Path.of(".") : main.getParent();
    IniFile.Entry inc = circus.get("include");
    if (inc != null) {
      for (String pattern : inc.value().split("\\s+")) {
        if (pattern.isEmpty()) {
          continue;
        }
        List<Path> found = glob(base, pattern);
        if (found.isEmpty()) {
          cfg.warnings.add(where(inc) + ": include '" + pattern + "' matched no file");
        }
        for (Path p : found) {
          ini.read(p);
        }
      }
    }
    IniFile.Entry dirs = circus.get("include_dir");
    if (dirs != null) {
      for (String d : dirs.value().split("\\s+")) {
        if (d.isEmpty()) {
          continue;
        }
        Path dir = base.resolve(d).normalize();
        if (!Files.isDirectory(dir)) {
          throw ConfigException.at(dirs, "circus", "include_dir '" + d + "' is not a directory (" + dir + ")");
        }
        for (Path p : glob(dir, "*.ini")) {
          ini.read(p);
        }
      }
    }
  }

  private static List<Path> glob(Path base, String pattern) throws ConfigException {
    Path full = base.resolve(pattern).normalize();
    Path dir = full.getParent();
    String leaf = full.getFileName().toString();
    List<Path> out = new ArrayList<>();
    if (!leaf.contains("*") && !leaf.contains("?") && !leaf.contains("[")) {
      if (Files.isRegularFile(full)) {
        out.add(full);
      }
      return out;
    }
    if (dir == null || !Files.isDirectory(dir)) {
      return out;
    }
    PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + leaf);
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        if (m.matches(p.getFileName()) && Files.isRegularFile(p)) {
          out.add(p);
        }
      }
    } catch (IOException e) {
      throw new ConfigException(dir, "cannot list: " + e);
    }
    out.sort(null);
    return out;
  }

  private void build(IniFile ini, CircusConfig cfg) throws ConfigException {
    // [env] and [env:patterns] first: they feed $(circus.env.X) everywhere.
    Map<String, String> globalEnv = new LinkedHashMap<>();
    List<IniFile.Section> envSections = new ArrayList<>();
    for (IniFile.Section s : ini.sections()) {
      if (s.name().equals("env")) {
        for (IniFile.Entry e : s.entries()) {
          globalEnv.put(e.key(), Substitution.expandDollarVars(e.value(), environ));
        }
      } else if (s.name().startsWith("env:")) {
        envSections.add(s);
      }
    }
    Map<String, String> loadEnv = new HashMap<>(environ);
    loadEnv.putAll(globalEnv);

    List<IniFile.Section> watchers = new ArrayList<>();
    List<IniFile.Section> sockets = new ArrayList<>();
    pluginSections.clear(); // a loader may load several files (reloadconfig, tests)
    for (IniFile.Section s : ini.sections()) {
      String n = s.name();
      int colon = n.indexOf(':');
      String kind = colon < 0 ? n : n.substring(0, colon);
      String rest = colon < 0 ? "" : n.substring(colon + 1).strip();
      switch (kind) {
        case "circus":
          if (colon >= 0) {
            throw sectionError(s, "unknown section [" + n + "]");
          }
          readCircus(s, cfg, loadEnv);
          break;
        case "env":
          break;
        case "watcher":
          if (rest.isEmpty()) {
            throw sectionError(s, "watcher section needs a name: [watcher:NAME]");
          }
          watchers.add(s);
          break;
        case "socket":
          if (rest.isEmpty()) {
            throw sectionError(s, "socket section needs a name: [socket:NAME]");
          }
          sockets.add(s);
          break;
        case "plugin":
          readPlugin(s, rest, cfg, loadEnv);
          break;
        default:
          String hint = Names.suggest(kind, Set.of("circus", "watcher", "socket", "plugin", "env"));
          if (colon >= 0 || hint != null) {
            throw sectionError(
                s, "unknown section [" + n + "]" + (hint == null ? "" : "; did you mean [" + hint
                    + (colon >= 0 ? ":" + rest : "") + "]?"));
          }
          cfg.warnings.add(s.file() + ":" + s.line() + ": ignoring unknown section [" + n + "]");
      }
    }
    if (cfg.httpd) {
      httpd(ini.section("circus"), cfg, sockets, watchers);
    }
    externalPlugins(cfg, watchers);
    sockets.sort((a, b) -> a.name().compareToIgnoreCase(b.name()));
    for (IniFile.Section s : sockets) {
      SocketConfig sc = readSocket(s, loadEnv, cfg);
      if (cfg.socket(sc.name()) != null) {
        throw sectionError(s, "duplicate socket name '" + sc.name() + "' (socket names are case-insensitive)");
      }
      for (SocketConfig other : cfg.sockets) {
        if (sc.isUnix() && other.isUnix() && sc.path().equals(other.path())) {
          throw sectionError(s, "socket path " + sc.path() + " is also used by [socket:" + other.name() + "]");
        }
      }
      cfg.sockets.add(sc);
    }
    watchers.sort((a, b) -> a.name().compareToIgnoreCase(b.name()));
    Map<String, String> seen = new HashMap<>();
    for (IniFile.Section s : watchers) {
      WatcherConfig w = new WatcherReader(environ, users).read(s, globalEnv, envSections, socketNames(cfg), cfg.warnings);
      String prev = seen.put(w.name.toLowerCase(Locale.ROOT), w.name);
      if (prev != null) {
        throw sectionError(s, "duplicate watcher name '" + w.name + "' (names are case-insensitive; see [watcher:"
            + prev + "])");
      }
      cfg.watchers.add(w);
    }
  }

  /**
   * {@code httpd = True}, as Circus does it: a socket {@code circushttpd} on httpd_host:httpd_port and a singleton
   * watcher {@code circushttpd} running the console on it ({@code --fd $(circus.sockets.circushttpd)}), so it is
   * restarted like any worker. Sections of those names in the file are the user's own and win.
   */
  private static void httpd(IniFile.Section circus, CircusConfig cfg, List<IniFile.Section> sockets,
      List<IniFile.Section> watchers) throws ConfigException {
    Path console = circusHttpd();
    if (!Files.isExecutable(console)) {
      IniFile.Entry e = circus.get("httpd");
      throw ConfigException.at(e, "circus", "httpd = True needs circus-httpd, not found at " + console);
    }
    Path source = circus.file();
    if (sockets.stream().noneMatch(x -> x.name().equalsIgnoreCase("socket:circushttpd"))) {
      Map<String, String> sock = new LinkedHashMap<>();
      sock.put("host", cfg.httpdHost);
      sock.put("port", Integer.toString(cfg.httpdPort));
      sockets.add(IniFile.Section.of("socket:circushttpd", source, sock));
    }
    if (watchers.stream().noneMatch(x -> x.name().equalsIgnoreCase("watcher:circushttpd"))) {
      Map<String, String> w = new LinkedHashMap<>();
      w.put("cmd", Shlex.quote(console.toString()) + " --endpoint " + Shlex.quote(cfg.endpoint)
          + " --fd $(circus.sockets.circushttpd)");
      w.put("use_sockets", "true");
      w.put("singleton", "true");
      watchers.add(IniFile.Section.of("watcher:circushttpd", source, w));
    }
  }

  /** bin/circus-httpd of this installation: beside circusd's own jar (or classes) two levels up. */
  static Path circusHttpd() {
    try {
      Path here = Path.of(ConfigLoader.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return here.getParent().getParent().getParent().resolve("bin/circus-httpd");
    } catch (java.net.URISyntaxException | RuntimeException e) {
      return Path.of("bin/circus-httpd");
    }
  }

  private static ConfigException sectionError(IniFile.Section s, String msg) {
    return new ConfigException(s.file(), s.line(), null, null, msg);
  }

  static String where(IniFile.Entry e) {
    return e.file() + ":" + e.line();
  }

  /** cluster, node_name, node_tags, cluster_auth, cluster_session_timeout, cluster_update_interval. */
  private static void readCluster(IniFile.Section s, Values v, CircusConfig cfg) throws ConfigException {
    String cluster = v.str("cluster", "").strip();
    if (cluster.isEmpty()) {
      return;
    }
    try {
      cfg.cluster = io.jcircus.cluster.ClusterAddress.parse(cluster);
    } catch (IllegalArgumentException e) {
      throw v.error("cluster", e.getMessage());
    }
    String name = v.str("node_name", "").strip();
    if (name.isEmpty()) {
      try {
        name = java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.io.IOException e) {
        name = System.getenv().getOrDefault("HOSTNAME", "localhost");
      }
    }
    if (!name.matches("[A-Za-z0-9_.-]{1,200}")) {
      throw v.error("node_name", "expected letters, digits, '_', '.' or '-' (at most 200); got '" + name + "'");
    }
    cfg.nodeName = name;
    java.util.List<String> tags = new java.util.ArrayList<>();
    for (String t : v.str("node_tags", "").split(",")) {
      if (!t.isBlank()) {
        if (!t.strip().matches("[A-Za-z0-9_.:-]{1,100}")) {
          throw v.error("node_tags", "a tag is letters, digits, '_', '.', ':' or '-'; got '" + t.strip() + "'");
        }
        tags.add(t.strip());
      }
    }
    cfg.nodeTags = java.util.List.copyOf(tags);
    String auth = v.str("cluster_auth", "").strip();
    if (!auth.isEmpty()) {
      Path base = s.get("cluster_auth").file().toAbsolutePath().getParent();
      Path file = (base == null ? Path.of(auth) : base.resolve(auth)).normalize();
      try {
        io.jcircus.cluster.Credentials.read(file);
      } catch (java.io.IOException e) {
        throw v.error("cluster_auth", e.getMessage());
      }
      cfg.clusterAuth = file;
    }
    cfg.clusterSessionTimeout = v.seconds("cluster_session_timeout", cfg.clusterSessionTimeout);
    if (cfg.clusterSessionTimeout < 2 || cfg.clusterSessionTimeout > 600) {
      throw v.error("cluster_session_timeout", "must be between 2 and 600 seconds; got " + cfg.clusterSessionTimeout);
    }
    cfg.clusterUpdateInterval = v.seconds("cluster_update_interval", cfg.clusterUpdateInterval);
  }

  /** CURVE is all or nothing: both keys, a readable private certificate, an existing directory. */
  private static void readCurve(IniFile.Section s, Values v, CircusConfig cfg) throws ConfigException {
    String secret = v.str("curve_secret_key", null);
    String dir = v.str("curve_authorized_keys", null);
    if (secret == null && dir == null) {
      return;
    }
    if (secret == null || secret.isEmpty() || dir == null || dir.isEmpty()) {
      String missing = secret == null || secret.isEmpty() ? "curve_secret_key" : "curve_authorized_keys";
      String present = missing.equals("curve_secret_key") ? "curve_authorized_keys" : "curve_secret_key";
      throw v.error(present, "CURVE needs both curve_secret_key and curve_authorized_keys; " + missing + " is not set");
    }
    Path base = s.get("curve_secret_key").file().toAbsolutePath().getParent();
    Path key = (base == null ? Path.of(secret) : base.resolve(secret)).normalize();
    try {
      CurveKeys.Cert cert = CurveKeys.load(key);
      if (cert.secretKey() == null) {
        throw v.error("curve_secret_key", key + " holds no secret-key (give the .key_secret file, not the public one)");
      }
      if (CurveKeys.readableByOthers(key)) {
        throw v.error("curve_secret_key", key + " is readable by group or others; chmod 600 it");
      }
    } catch (java.io.IOException e) {
      throw v.error("curve_secret_key", "cannot read " + key + ": " + e.getMessage());
    }
    Path dbase = s.get("curve_authorized_keys").file().toAbsolutePath().getParent();
    Path d = (dbase == null ? Path.of(dir) : dbase.resolve(dir)).normalize();
    if (!java.nio.file.Files.isDirectory(d)) {
      throw v.error("curve_authorized_keys", d + " is not a directory");
    }
    cfg.curveSecretKey = key;
    cfg.curveAuthorizedKeys = d;
  }

  private void readCircus(IniFile.Section s, CircusConfig cfg, Map<String, String> env) throws ConfigException {
    Values v = new Values(s, "circus", env);
    cfg.endpoint = v.str("endpoint", cfg.endpoint);
    cfg.endpointOwner = v.str("endpoint_owner", null);
    cfg.pubsubEndpoint = v.str("pubsub_endpoint", cfg.pubsubEndpoint);
    cfg.multicastEndpoint = v.str("multicast_endpoint", cfg.multicastEndpoint);
    if (s.get("stats_endpoint") != null) {
      cfg.statsEndpoint = v.str("stats_endpoint", cfg.statsEndpoint);
      cfg.statsd = true;
    }
    cfg.statsd = v.bool("statsd", cfg.statsd);
    cfg.outputEndpoint = v.str("output_endpoint", cfg.outputEndpoint).strip();
    cfg.checkDelay = v.seconds("check_delay", cfg.checkDelay);
    cfg.warmupDelay = v.seconds("warmup_delay", 0);
    cfg.httpd = v.bool("httpd", false);
    String metrics = v.str("metrics_endpoint", "").strip();
    if (!metrics.isEmpty()) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("http://([^/:\\s]+|\\[[0-9a-fA-F:]+\\]):(\\d{1,5})(/\\S*)?")
          .matcher(metrics);
      if (!m.matches() || Integer.parseInt(m.group(2)) > 65535) {
        throw ConfigException.at(s.get("metrics_endpoint"), "circus", "expected http://HOST:PORT/PATH (e.g."
            + " http://127.0.0.1:9273/metrics); got '" + metrics + "'");
      }
      cfg.metricsEndpoint = metrics;
    }
    cfg.metricsSampleInterval = v.seconds("metrics_sample_interval", cfg.metricsSampleInterval);
    readCluster(s, v, cfg);
    cfg.httpdHost = v.str("httpd_host", cfg.httpdHost);
    cfg.httpdPort = v.port("httpd_port", cfg.httpdPort);
    cfg.debug = v.bool("debug", false);
    cfg.pidfile = v.str("pidfile", null);
    String um = v.str("umask", null);
    if (um != null && !um.isEmpty()) {
      cfg.umask = v.octal("umask", um);
    }
    cfg.loglevel = v.str("loglevel", null);
    if (cfg.loglevel != null
        && !Set.of("critical", "error", "warning", "warn", "info", "debug", "trace")
            .contains(cfg.loglevel.toLowerCase(Locale.ROOT))) {
      throw v.error("loglevel", "expected one of critical, error, warning, info, debug; got '" + cfg.loglevel + "'");
    }
    cfg.logoutput = v.str("logoutput", null);
    String mms = emptyToNull(v.str("max_message_size", null));
    if (mms != null) {
      cfg.maxMessageSize = v.checked("max_message_size", v.bytes("max_message_size", mms), Limits::messageSize);
    }
    readCurve(s, v, cfg);
    String fdpass = emptyToNull(v.str("fdpass_socket", null));
    if (fdpass != null) {
      Path base = s.get("fdpass_socket").file().toAbsolutePath().getParent();
      cfg.fdpassSocket = (base == null ? Path.of(fdpass) : base.resolve(fdpass)).normalize();
      if (cfg.fdpassSocket.getParent() != null && !java.nio.file.Files.isDirectory(cfg.fdpassSocket.getParent())) {
        throw v.error("fdpass_socket", "directory " + cfg.fdpassSocket.getParent() + " does not exist");
      }
    }
    String uids = emptyToNull(v.str("fdpass_uids", null));
    if (uids != null) {
      for (String u : uids.split("[,\\s]+")) {
        if (u.isEmpty()) {
          continue;
        }
        UserLookup.User user = users.user(u);
        if (user == null) {
          throw v.error("fdpass_uids", "no user '" + u + "'");
        }
        cfg.fdpassUids.add(user.uid());
      }
    }
    for (IniFile.Entry e : s.entries()) {
      if (!CIRCUS_KEYS.contains(e.key())) {
        String hint = Names.suggest(e.key(), CIRCUS_KEYS);
        throw ConfigException.at(e, "circus", "unknown option" + (hint == null ? "" : "; did you mean '" + hint + "'?"));
      }
    }
  }

  private void readPlugin(IniFile.Section s, String name, CircusConfig cfg, Map<String, String> env)
      throws ConfigException {
    if (name.isEmpty()) {
      throw sectionError(s, "plugin section needs a name: [plugin:NAME]");
    }
    if (s.get("use") == null) {
      throw new ConfigException(s.file(), s.line(), s.name(), "use", "missing: the plugin's class (use = module.Class)");
    }
    Map<String, String> m = new TreeMap<>();
    for (IniFile.Entry e : s.entries()) {
      m.put(e.key(), Substitution.expandEnv(e.value(), env));
    }
    if (s.get("timeout") != null && io.jcircus.server.plugin.Builtins.inProcess(m)) {
      try {
        double t = Double.parseDouble(m.get("timeout"));
        if (!(t > 0 && t <= 3600)) {
          throw new NumberFormatException();
        }
      } catch (NumberFormatException e) {
        throw ConfigException.at(s.get("timeout"), s.name(), "must be between 0 and 3600 seconds; got '"
            + m.get("timeout") + "'");
      }
    }
    cfg.plugins.put(name, m);
    pluginSections.put(name, s);
  }

  /** [plugin:NAME] sections whose plugin runs outside circusd, by Circus's runner (see {@link #externalPlugins}). */
  private final Map<String, IniFile.Section> pluginSections = new LinkedHashMap<>();

  /**
   * A plugin jcircus does not run in-process (a Python class, Circus's own or the user's) runs as Circus runs every
   * plugin: a singleton watcher {@code plugin:NAME}, priority 1, running Circus's {@code circus-plugin} (from the
   * PATH) with the endpoints and the section's other keys as {@code --config k:v:::k2:v2}.
   */
  private void externalPlugins(CircusConfig cfg, List<IniFile.Section> watchers) {
    for (Map.Entry<String, IniFile.Section> e : pluginSections.entrySet()) {
      Map<String, String> m = cfg.plugins.get(e.getKey());
      if (io.jcircus.server.plugin.Builtins.inProcess(m)) {
        continue;
      }
      StringBuilder conf = new StringBuilder();
      for (Map.Entry<String, String> o : m.entrySet()) {
        if (!o.getKey().equals("use") && !o.getKey().equals("priority")) {
          conf.append(conf.length() > 0 ? ":::" : "").append(o.getKey()).append(':').append(o.getValue());
        }
      }
      Map<String, String> w = new LinkedHashMap<>();
      w.put("cmd", "circus-plugin --endpoint " + Shlex.quote(cfg.endpoint) + " --pubsub "
          + Shlex.quote(cfg.pubsubEndpoint) + (conf.length() > 0 ? " --config " + Shlex.quote(conf.toString()) : "")
          + " " + Shlex.quote(m.get("use")));
      w.put("priority", m.getOrDefault("priority", "1"));
      w.put("singleton", "true");
      w.put("copy_env", "true");
      w.put("copy_path", "true");
      watchers.add(IniFile.Section.of("watcher:plugin:" + e.getKey(), e.getValue().file(), w));
    }
  }

  private SocketConfig readSocket(IniFile.Section s, Map<String, String> env, CircusConfig cfg)
      throws ConfigException {
    String sec = s.name();
    String name = sec.substring("socket:".length()).strip().toLowerCase(Locale.ROOT);
    Values v = new Values(s, sec, env);
    for (IniFile.Entry e : s.entries()) {
      if (!SOCKET_KEYS.contains(e.key())) {
        String hint = Names.suggest(e.key(), SOCKET_KEYS);
        throw ConfigException.at(e, sec, "unknown socket option" + (hint == null ? "" : "; did you mean '" + hint + "'?"));
      }
    }
    String path = v.str("path", null);
    if (path != null && path.isEmpty()) {
      path = null;
    }
    String fam = v.str("family", path != null ? "AF_UNIX" : "AF_INET").toUpperCase(Locale.ROOT);
    SocketConfig.Family family;
    try {
      family = SocketConfig.Family.valueOf(fam);
    } catch (IllegalArgumentException e) {
      throw v.error("family", "expected AF_INET, AF_INET6 or AF_UNIX; got '" + fam + "'");
    }
    if (path != null) {
      family = SocketConfig.Family.AF_UNIX;
      Path p = Path.of(path);
      if (!p.isAbsolute()) {
        Path base = s.file().toAbsolutePath().getParent();
        path = (base == null ? p : base.resolve(p)).normalize().toString();
      }
    } else if (family == SocketConfig.Family.AF_UNIX) {
      throw new ConfigException(s.file(), s.line(), sec, "path", "missing: family AF_UNIX needs a path");
    }
    String type = v.str("type", "SOCK_STREAM").toUpperCase(Locale.ROOT);
    if (!type.equals("SOCK_STREAM")) {
      throw v.error("type", "only SOCK_STREAM listening sockets are supported; got '" + type + "'");
    }
    String proto = v.str("proto", "0");
    if (!proto.equals("0") && !proto.equalsIgnoreCase("tcp") && !proto.isEmpty()) {
      throw v.error("proto", "only the default protocol (0 or tcp) is supported; got '" + proto + "'");
    }
    String host = v.str("host", "localhost");
    int port = v.port("port", 8080);
    int backlog = v.integer("backlog", 2048);
    if (backlog < 1) {
      throw v.error("backlog", "must be at least 1; got " + backlog);
    }
    String um = v.str("umask", null);
    int umask = um == null || um.isEmpty() ? 8 : v.octal("umask", um);
    int deferAccept = v.integer("defer_accept", 0);
    if (deferAccept < 0) {
      throw v.error("defer_accept", "seconds, 0 for off; got " + deferAccept);
    }
    if (deferAccept > 0 && family == SocketConfig.Family.AF_UNIX) {
      throw v.error("defer_accept", "is a TCP option; socket '" + name + "' is AF_UNIX");
    }
    return new SocketConfig(
        name, host, port, path, family, backlog, umask, v.bool("replace", false), v.bool("so_reuseport", false),
        emptyToNull(v.str("interface", null)), v.bool("blocking", false), deferAccept);
  }

  static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }

  private static List<String> socketNames(CircusConfig cfg) {
    List<String> names = new ArrayList<>();
    for (SocketConfig sc : cfg.sockets) {
      names.add(sc.name());
    }
    return names;
  }

  /**
   * The {@code add} command's watcher: {@code options} as a {@code [watcher:NAME]} section would give them (values
   * as text), {@code env} as its {@code [env:NAME]} section, checked as the file's would be, against the sockets
   * circusd has. Errors name the key, as for the file.
   */
  public WatcherConfig watcher(String name, Map<String, String> options, Map<String, String> env,
      List<String> sockets, List<String> warnings) throws ConfigException {
    return new WatcherReader(environ, users).fromOptions(name, options, env, sockets, warnings);
  }
}
