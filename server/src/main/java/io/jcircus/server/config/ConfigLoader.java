package io.jcircus.server.config;

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
import java.util.function.Function;
import io.jcircus.server.internal.posix.Signals;

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
          "curve_authorized_keys", "fdpass_socket", "fdpass_uids", "max_message_size");

  static final Set<String> SOCKET_KEYS =
      Set.of(
          "host", "port", "path", "family", "type", "proto", "backlog", "umask", "replace", "so_reuseport",
          "interface", "blocking", "defer_accept");

  static final Set<String> RLIMITS =
      Set.of(
          "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
          "rtprio", "rttime", "sigpending", "stack");

  static final Set<String> STREAM_CLASSES =
      Set.of("FileStream", "WatchedFileStream", "TimedRotatingFileStream", "StdoutStream", "FancyStdoutStream");

  static final Set<String> STREAM_KEYS =
      Set.of(
          "class", "filename", "max_bytes", "backup_count", "time_format", "rotate_when", "rotate_interval", "utc",
          "color", "refresh_time");

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
          String hint = suggest(kind, Set.of("circus", "watcher", "socket", "plugin", "env"));
          if (colon >= 0 || hint != null) {
            throw sectionError(
                s, "unknown section [" + n + "]" + (hint == null ? "" : "; did you mean [" + hint
                    + (colon >= 0 ? ":" + rest : "") + "]?"));
          }
          cfg.warnings.add(s.file() + ":" + s.line() + ": ignoring unknown section [" + n + "]");
      }
    }
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
      WatcherConfig w = readWatcher(s, globalEnv, envSections, socketNames(cfg), cfg.warnings);
      String prev = seen.put(w.name.toLowerCase(Locale.ROOT), w.name);
      if (prev != null) {
        throw sectionError(s, "duplicate watcher name '" + w.name + "' (names are case-insensitive; see [watcher:"
            + prev + "])");
      }
      cfg.watchers.add(w);
    }
  }

  private static ConfigException sectionError(IniFile.Section s, String msg) {
    return new ConfigException(s.file(), s.line(), null, null, msg);
  }

  private static String where(IniFile.Entry e) {
    return e.file() + ":" + e.line();
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
        String hint = suggest(e.key(), CIRCUS_KEYS);
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
    cfg.plugins.put(name, m);
    cfg.warnings.add(s.file() + ":" + s.line() + ": [" + s.name() + "] plugins are not run by this version of circusd");
  }

  private SocketConfig readSocket(IniFile.Section s, Map<String, String> env, CircusConfig cfg)
      throws ConfigException {
    String sec = s.name();
    String name = sec.substring("socket:".length()).strip().toLowerCase(Locale.ROOT);
    Values v = new Values(s, sec, env);
    for (IniFile.Entry e : s.entries()) {
      if (!SOCKET_KEYS.contains(e.key())) {
        String hint = suggest(e.key(), SOCKET_KEYS);
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

  private static String emptyToNull(String s) {
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
    Path source = Path.of("<add " + name + ">");
    List<IniFile.Section> envSections = new ArrayList<>();
    if (!env.isEmpty()) {
      envSections.add(IniFile.Section.of("env:" + name, source, env));
    }
    return readWatcher(IniFile.Section.of("watcher:" + name, source, options), Map.of(), envSections, sockets,
        warnings);
  }

  private WatcherConfig readWatcher(IniFile.Section s, Map<String, String> globalEnv,
      List<IniFile.Section> envSections, List<String> sockets, List<String> warnings) throws ConfigException {
    String sec = s.name();
    WatcherConfig.Builder w = new WatcherConfig.Builder();
    w.name = sec.substring("watcher:".length()).strip();
    if (w.name.contains(".") || w.name.contains(" ")) {
      warnings.add(s.file() + ":" + s.line() + ": [" + sec + "] a watcher name with '.' or ' ' breaks event"
          + " topic parsing in Circus clients");
    }
    // The watcher's environment: [env], then every [env:patterns] that matches, later sections winning.
    Map<String, String> env = new LinkedHashMap<>(globalEnv);
    for (IniFile.Section es : envSections) {
      boolean match = false;
      for (String pat : es.name().substring(4).split(",")) {
        pat = pat.strip();
        if (!pat.isEmpty() && fnmatch(pat.toLowerCase(Locale.ROOT), w.name.toLowerCase(Locale.ROOT))) {
          match = true;
        }
      }
      if (match) {
        for (IniFile.Entry e : es.entries()) {
          env.put(e.key(), Substitution.expandDollarVars(e.value(), environ));
        }
      }
    }
    Map<String, String> subEnv = new HashMap<>(environ);
    subEnv.putAll(env);
    for (Map.Entry<String, String> e : env.entrySet()) {
      e.setValue(Substitution.expandEnv(e.getValue(), subEnv));
    }
    w.env = env;

    Values v = new Values(s, sec, subEnv);
    IniFile.Entry cmdEntry = s.get("cmd");
    if (cmdEntry == null || cmdEntry.value().isBlank()) {
      throw new ConfigException(s.file(), s.line(), sec, "cmd", "missing: every watcher needs a command");
    }
    for (WatcherOptions.Option o : WatcherOptions.all()) {
      if (o.type() == WatcherOptions.Type.SPECIAL || s.get(o.key()) == null) {
        continue;
      }
      Object value;
      try {
        value = o.fromIni(v.str(o.key(), null));
      } catch (IllegalArgumentException e) {
        throw v.error(o.key(), e.getMessage());
      }
      if (value != null) {
        o.assign().accept(w, value);
      }
    }
    if (w.copyPath && !w.copyEnv) {
      throw v.error("copy_path", "copy_path needs copy_env = true");
    }
    if (s.get("virtualenv") != null && !w.copyEnv) {
      throw v.error("virtualenv", "virtualenv needs copy_env = true");
    }
    if (w.singleton && w.numprocesses > 1) {
      throw v.error("numprocesses", "a singleton watcher runs at most 1 process; got " + w.numprocesses);
    }
    String handoff = v.str("handoff", "circus").toLowerCase(Locale.ROOT);
    switch (handoff) {
      case "circus": w.handoff = WatcherConfig.Handoff.CIRCUS; break;
      case "systemd": w.handoff = WatcherConfig.Handoff.SYSTEMD; break;
      case "einhorn": w.handoff = WatcherConfig.Handoff.EINHORN; break;
      default:
        throw v.error("handoff", "expected circus, systemd or einhorn; got '" + handoff + "'");
    }
    String readiness = v.str("readiness", "warmup").strip();
    String lower = readiness.toLowerCase(Locale.ROOT);
    if (lower.startsWith("tcp://") || lower.startsWith("http://")) {
      w.readyCheck = readiness;
    } else if (!lower.equals("warmup") && !lower.equals("notify")) {
      throw v.error("readiness", "expected warmup, notify, tcp://HOST:PORT or http://HOST:PORT/PATH; got '"
          + readiness + "'");
    }
    w.notifyReady = lower.equals("notify");
    if (w.handoff != WatcherConfig.Handoff.CIRCUS) {
      w.useSockets = true; // the convention is how the sockets are passed: passing them is implied
    }

    String uid = emptyToNull(v.str("uid", null));
    String gid = emptyToNull(v.str("gid", null));
    if (uid != null) {
      UserLookup.User u = users.user(uid);
      if (u == null) {
        throw v.error("uid", "no such user: '" + uid + "'");
      }
      w.uid = u.uid();
      w.gid = u.gid();
      w.uidName = u.name();
      w.userHome = u.home();
    }
    if (gid != null) {
      int g = users.group(gid);
      if (g < 0) {
        throw v.error("gid", "no such group: '" + gid + "'");
      }
      w.gid = g;
    }

    Map<String, String> out = new TreeMap<>();
    Map<String, String> err = new TreeMap<>();
    for (IniFile.Entry e : s.entries()) {
      String k = e.key();
      String val = Substitution.expandEnv(e.value(), subEnv);
      w.raw.put(k, val);
      if (WatcherOptions.keys().contains(k)) {
        continue;
      }
      if (k.startsWith("rlimit_")) {
        String r = k.substring(7).toLowerCase(Locale.ROOT);
        if (!RLIMITS.contains(r)) {
          String hint = suggest(r, RLIMITS);
          throw ConfigException.at(e, sec, "unknown resource limit '" + r + "'"
              + (hint == null ? "" : "; did you mean 'rlimit_" + hint + "'?"));
        }
        if (val.isBlank() || val.equalsIgnoreCase("unlimited") || val.equalsIgnoreCase("infinity")) {
          w.rlimits.put(r, -1L);
        } else {
          try {
            long n = Long.parseLong(val.strip());
            if (n < 0) {
              throw new NumberFormatException();
            }
            w.rlimits.put(r, n);
          } catch (NumberFormatException ex) {
            throw ConfigException.at(e, sec, "expected a non-negative integer or empty (unlimited); got '" + val + "'");
          }
        }
      } else if (k.startsWith("stdout_stream.") || k.startsWith("stderr_stream.")) {
        String sub = k.substring(k.indexOf('.') + 1);
        if (!STREAM_KEYS.contains(sub)) {
          String hint = suggest(sub, STREAM_KEYS);
          throw ConfigException.at(e, sec, "unknown stream option '" + sub + "'"
              + (hint == null ? "" : "; did you mean '" + k.substring(0, k.indexOf('.') + 1) + hint + "'?"));
        }
        (k.startsWith("stdout") ? out : err).put(sub, val);
      } else if (k.startsWith("hooks.")) {
        w.hooks.put(k.substring(6), val);
      } else {
        String hint = k.contains(".") ? null : suggest(k, WatcherOptions.keys());
        if (hint != null) {
          warnings.add(where(e) + ": [" + sec + "] unknown option '" + k + "' kept as a free-form option;"
              + " did you mean '" + hint + "'?");
        }
        w.freeform.put(k, val);
      }
    }
    if (!w.hooks.isEmpty()) {
      warnings.add(s.file() + ":" + s.line() + ": [" + sec + "] hooks name Python callables; this circusd"
          + " keeps them as options but does not call them");
    }
    w.stdoutStream = stream(s, sec, "stdout_stream", out);
    w.stderrStream = stream(s, sec, "stderr_stream", err);

    // Socket references must name configured sockets; the command is checked once here, not at spawn.
    List<String> refs = new ArrayList<>();
    for (String field : new String[] {"cmd", "args", "shell_args"}) {
      IniFile.Entry e = s.get(field);
      if (e == null) {
        continue;
      }
      for (String ref : Substitution.socketRefs(e.value())) {
        if (!sockets.contains(ref)) {
          throw ConfigException.at(e, sec, "refers to $(circus.sockets." + ref + ") but there is no [socket:" + ref
              + "]" + hintSocket(ref, sockets));
        }
        if (!refs.contains(ref)) {
          refs.add(ref);
        }
      }
    }
    for (Map.Entry<String, String> e : w.env.entrySet()) {
      for (String ref : Substitution.socketRefs(e.getValue())) {
        if (sockets.contains(ref) && !refs.contains(ref)) {
          refs.add(ref);
        }
      }
    }
    w.socketRefs = List.copyOf(refs);
    if (!refs.isEmpty() && !w.useSockets) {
      throw v.error("cmd", "refers to socket(s) " + refs + " but use_sockets is not true; add 'use_sockets = true'");
    }
    if (w.stdinSocket != null) {
      if (!sockets.contains(w.stdinSocket.toLowerCase(Locale.ROOT))) {
        throw v.error("stdin_socket", "no [socket:" + w.stdinSocket + "]" + hintSocket(w.stdinSocket, sockets));
      }
      w.stdinSocket = w.stdinSocket.toLowerCase(Locale.ROOT);
    }
    try {
      Shlex.split(w.cmd);
      Shlex.split(w.args);
    } catch (IllegalArgumentException e) {
      throw v.error(s.get("args") != null && !isSplittable(w.args) ? "args" : "cmd", e.getMessage());
    }
    return w.build();
  }

  private static boolean isSplittable(String s) {
    try {
      Shlex.split(s);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static String hintSocket(String ref, List<String> names) {
    String hint = suggest(ref.toLowerCase(Locale.ROOT), names);
    if (hint != null) {
      return "; did you mean '" + hint + "'?";
    }
    return names.isEmpty() ? "" : " (sockets: " + String.join(", ", names) + ")";
  }

  private static StreamConfig stream(IniFile.Section s, String sec, String prefix, Map<String, String> opts)
      throws ConfigException {
    if (opts.isEmpty()) {
      return null;
    }
    String cls = opts.remove("class");
    if (cls == null || cls.isEmpty()) {
      if (!opts.containsKey("filename")) {
        throw new ConfigException(s.file(), s.line(), sec, prefix + ".class", "missing: set class (e.g. FileStream) or filename");
      }
      cls = "FileStream";
    }
    if (cls.startsWith("circus.stream.")) {
      cls = cls.substring("circus.stream.".length());
    }
    IniFile.Entry at = s.get(prefix + ".class");
    if (!STREAM_CLASSES.contains(cls)) {
      String hint = suggest(cls, STREAM_CLASSES);
      String msg = "unsupported stream class '" + cls + "' (supported: " + String.join(", ", new TreeMap<>(
          Map.of("a", "FileStream", "b", "WatchedFileStream", "c", "TimedRotatingFileStream", "d", "StdoutStream",
              "e", "FancyStdoutStream")).values()) + ")" + (hint == null ? "" : "; did you mean '" + hint + "'?");
      throw at != null ? ConfigException.at(at, sec, msg) : new ConfigException(s.file(), s.line(), sec, prefix + ".class", msg);
    }
    for (String k : new String[] {"max_bytes", "backup_count", "rotate_interval"}) {
      String val = opts.get(k);
      if (val != null) {
        try {
          if (Long.parseLong(val.strip()) < 0) {
            throw new NumberFormatException();
          }
        } catch (NumberFormatException e) {
          IniFile.Entry en = s.get(prefix + "." + k);
          throw ConfigException.at(en, sec, "expected a non-negative integer; got '" + val + "'");
        }
      }
    }
    if (cls.equals("TimedRotatingFileStream")) {
      String when = opts.getOrDefault("rotate_when", "H").toUpperCase(Locale.ROOT);
      if (!when.matches("S|M|H|D|MIDNIGHT|W[0-6]")) {
        throw ConfigException.at(s.get(prefix + ".rotate_when"), sec,
            "expected S, M, H, D, MIDNIGHT or W0-W6; got '" + opts.get("rotate_when") + "'");
      }
    }
    if ((cls.endsWith("FileStream")) && (opts.get("filename") == null || opts.get("filename").isEmpty())) {
      throw new ConfigException(s.file(), s.line(), sec, prefix + ".filename", "missing: " + cls + " needs a filename");
    }
    if (opts.containsKey("filename")) {
      Path p = Path.of(opts.get("filename"));
      if (!p.isAbsolute()) {
        Path base = s.file().toAbsolutePath().getParent();
        opts.put("filename", (base == null ? p : base.resolve(p)).normalize().toString());
      }
    }
    return new StreamConfig(cls, Map.copyOf(opts));
  }

  /** fnmatch as Python's: * ? [seq]. */
  public static boolean fnmatch(String pattern, String name) {
    return FileSystems.getDefault().getPathMatcher("glob:" + pattern.replace("/", "\\/")).matches(Path.of(name));
  }

  /** The closest known key within edit distance 2, or null. */
  static String suggest(String key, Iterable<String> known) {
    String best = null;
    int bestD = 3;
    for (String k : known) {
      int d = distance(key.toLowerCase(Locale.ROOT), k.toLowerCase(Locale.ROOT));
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    return bestD <= (key.length() >= 3 ? 2 : 1) ? best : null;
  }

  static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int c = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + c);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /** Typed access to one section's values, with errors that point at the line. */
  static final class Values {
    private final IniFile.Section s;
    private final String sec;
    private final Function<String, String> expand;

    Values(IniFile.Section s, String sec, Map<String, String> env) {
      this.s = s;
      this.sec = sec;
      this.expand = val -> Substitution.expandEnv(val, env);
    }

    ConfigException error(String key, String msg) {
      IniFile.Entry e = s.get(key);
      return e != null ? ConfigException.at(e, sec, msg) : new ConfigException(s.file(), s.line(), sec, key, msg);
    }

    String str(String key, String def) {
      IniFile.Entry e = s.get(key);
      return e == null ? def : expand.apply(e.value());
    }

    boolean bool(String key, boolean def) throws ConfigException {
      String v = str(key, null);
      if (v == null || v.isEmpty()) {
        return def;
      }
      switch (v.strip().toLowerCase(Locale.ROOT)) {
        case "1": case "yes": case "true": case "on":
          return true;
        case "0": case "no": case "false": case "off":
          return false;
        default:
          throw error(key, "expected a boolean (true/false, yes/no, on/off, 1/0); got '" + v + "'");
      }
    }

    int integer(String key, int def) throws ConfigException {
      String v = str(key, null);
      if (v == null || v.isEmpty()) {
        return def;
      }
      try {
        return Integer.parseInt(v.strip());
      } catch (NumberFormatException e) {
        throw error(key, "expected an integer; got '" + v + "'");
      }
    }

    double positiveOrZero(String key, double def) throws ConfigException {
      String v = str(key, null);
      if (v == null || v.isEmpty()) {
        return def;
      }
      double d;
      try {
        d = Double.parseDouble(v.strip());
      } catch (NumberFormatException e) {
        throw error(key, "expected a number of seconds; got '" + v + "'");
      }
      if (d < 0 || Double.isNaN(d) || Double.isInfinite(d)) {
        throw error(key, "must be a non-negative number; got '" + v + "'");
      }
      return d;
    }

    /** A number of seconds within {@link Limits#seconds}. */
    double seconds(String key, double def) throws ConfigException {
      return checkedDouble(key, positiveOrZero(key, def), Limits::seconds);
    }

    /** {@code value} through {@code rule}, its message turned into an error at {@code key}'s line. */
    int checked(String key, long value, java.util.function.LongUnaryOperator rule) throws ConfigException {
      try {
        return (int) rule.applyAsLong(value);
      } catch (IllegalArgumentException e) {
        throw error(key, e.getMessage());
      }
    }

    double checkedDouble(String key, double value, java.util.function.DoubleUnaryOperator rule) throws ConfigException {
      try {
        return rule.applyAsDouble(value);
      } catch (IllegalArgumentException e) {
        throw error(key, e.getMessage());
      }
    }

    /** A size in bytes: a whole number, optionally with k, K, m or M (1024, 1024²). */
    long bytes(String key, String v) throws ConfigException {
      String t = v.strip();
      long unit = 1;
      char last = t.isEmpty() ? ' ' : Character.toLowerCase(t.charAt(t.length() - 1));
      if (last == 'k' || last == 'm') {
        unit = last == 'k' ? 1024 : 1024 * 1024;
        t = t.substring(0, t.length() - 1).strip();
      }
      try {
        return Math.multiplyExact(Long.parseLong(t), unit);
      } catch (NumberFormatException | ArithmeticException e) {
        throw error(key, "expected a size in bytes such as 16M, 512k or 65536; got '" + v + "'");
      }
    }

    int port(String key, int def) throws ConfigException {
      int p = integer(key, def);
      if (p < 0 || p > 65535) {
        throw error(key, "port must be between 0 and 65535; got " + p);
      }
      return p;
    }

    /** "077" and "0o77" are octal; a plain number is decimal as in Circus ("8" is 0o10). */
    int octal(String key, String v) throws ConfigException {
      String t = v.strip().toLowerCase(Locale.ROOT);
      try {
        int n;
        if (t.startsWith("0o")) {
          n = Integer.parseInt(t.substring(2), 8);
        } else if (t.length() > 1 && t.startsWith("0")) {
          n = Integer.parseInt(t.substring(1), 8);
        } else {
          n = Integer.parseInt(t);
        }
        if (n < 0 || n > 0777) {
          throw new NumberFormatException();
        }
        return n;
      } catch (NumberFormatException e) {
        throw error(key, "expected a umask such as 022 (octal) or 8 (decimal); got '" + v + "'");
      }
    }
  }
}
