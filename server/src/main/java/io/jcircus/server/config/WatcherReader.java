package io.jcircus.server.config;

import io.jcircus.protocol.ConfigException;
import io.jcircus.protocol.IniFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads one {@code [watcher:NAME]} section: its environment ({@code [env]} and the {@code [env:…]} sections that
 * match), the typed keys of {@link WatcherOptions}, the keys that depend on others (uid/gid, handoff, readiness,
 * socket references), rlimits, streams, hooks and free-form keys. Every error names file, line, section and key.
 */
final class WatcherReader {
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
  private final ConfigLoader.UserLookup users;

  WatcherReader(Map<String, String> environ, ConfigLoader.UserLookup users) {
    this.environ = environ;
    this.users = users;
  }

  /** The {@code add} command's watcher (see {@link ConfigLoader#watcher}). */
  WatcherConfig fromOptions(String name, Map<String, String> options, Map<String, String> env,
      List<String> sockets, List<String> warnings) throws ConfigException {
    Path source = Path.of("<add " + name + ">");
    List<IniFile.Section> envSections = new ArrayList<>();
    if (!env.isEmpty()) {
      envSections.add(IniFile.Section.of("env:" + name, source, env));
    }
    return read(IniFile.Section.of("watcher:" + name, source, options), Map.of(), envSections, sockets,
        warnings);
  }

  WatcherConfig read(IniFile.Section s, Map<String, String> globalEnv,
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
        if (!pat.isEmpty() && Names.fnmatch(pat.toLowerCase(Locale.ROOT), w.name.toLowerCase(Locale.ROOT))) {
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
    String liveness = v.str("liveness", "").strip();
    if (!liveness.isEmpty()) {
      String l = liveness.toLowerCase(Locale.ROOT);
      if (l.equals("notify")) {
        liveness = l;
      } else if (!l.startsWith("tcp://") && !l.startsWith("http://")) {
        throw v.error("liveness", "expected tcp://HOST:PORT, http://HOST:PORT/PATH or notify; got '" + liveness
            + "'");
      }
      w.liveness = liveness;
    }
    String action = v.str("liveness_action", "restart").strip();
    if (!action.equalsIgnoreCase("restart") && !action.equalsIgnoreCase("stop")) {
      try {
        io.jcircus.server.internal.posix.Signals.parse(action);
      } catch (IllegalArgumentException e) {
        throw v.error("liveness_action", "expected restart, stop or a signal (HUP, USR1, 10…); got '" + action + "'");
      }
    }
    w.livenessAction = action.toLowerCase(Locale.ROOT);
    if (w.handoff != WatcherConfig.Handoff.CIRCUS) {
      w.useSockets = true; // the convention is how the sockets are passed: passing them is implied
    }

    String uid = ConfigLoader.emptyToNull(v.str("uid", null));
    String gid = ConfigLoader.emptyToNull(v.str("gid", null));
    if (uid != null) {
      ConfigLoader.UserLookup.User u = users.user(uid);
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
          String hint = Names.suggest(r, RLIMITS);
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
          String hint = Names.suggest(sub, STREAM_KEYS);
          throw ConfigException.at(e, sec, "unknown stream option '" + sub + "'"
              + (hint == null ? "" : "; did you mean '" + k.substring(0, k.indexOf('.') + 1) + hint + "'?"));
        }
        (k.startsWith("stdout") ? out : err).put(sub, val);
      } else if (k.startsWith("hooks.")) {
        checkHook(e, sec, k.substring(6), val);
        w.hooks.put(k.substring(6), val);
      } else {
        String hint = k.contains(".") ? null : Names.suggest(k, WatcherOptions.keys());
        if (hint != null) {
          warnings.add(ConfigLoader.where(e) + ": [" + sec + "] unknown option '" + k + "' kept as a free-form option;"
              + " did you mean '" + hint + "'?");
        }
        w.freeform.put(k, val);
      }
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
    String hint = Names.suggest(ref.toLowerCase(Locale.ROOT), names);
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
      String hint = Names.suggest(cls, STREAM_CLASSES);
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

  /** Circus's hook names, and what jcircus runs for one. */
  static final java.util.Set<String> HOOKS = java.util.Set.of("before_start", "after_start", "before_spawn",
      "after_spawn", "before_stop", "after_stop", "before_signal", "after_signal", "before_reap", "after_reap",
      "extended_stats");

  /**
   * {@code hooks.NAME = exec:COMMAND | java:CLASS [, true]}, {@code hooks.NAME.timeout = SECONDS},
   * {@code hooks.classpath = JARS}. A Python dotted name (Circus's form) is refused with how to write it instead.
   */
  /** The same check for {@code set} (a client's value): the rule's text, or null if {@code hooks.NAME = val} is fine. */
  public static String hookProblem(String name, String val) {
    try {
      checkHook(new IniFile.Entry("hooks." + name, val, null, 0), "set", name, val);
      return null;
    } catch (ConfigException e) {
      String m = e.getMessage();
      return m.substring(m.indexOf("hooks." + name + ": ") + ("hooks." + name + ": ").length());
    }
  }

  private static void checkHook(IniFile.Entry e, String sec, String name, String val) throws ConfigException {
    if (name.equals("classpath")) {
      return;
    }
    if (name.endsWith(".timeout")) {
      String hook = name.substring(0, name.length() - ".timeout".length());
      if (!HOOKS.contains(hook)) {
        throw ConfigException.at(e, sec, "no hook named '" + hook + "'; Circus's hooks are " + new java.util.TreeSet<>(HOOKS));
      }
      try {
        double t = Double.parseDouble(val.strip());
        if (t > 0 && t <= 3600) {
          return;
        }
      } catch (NumberFormatException x) {
        // the message below
      }
      throw ConfigException.at(e, sec, "must be between 0 and 3600 seconds; got '" + val + "'");
    }
    if (!HOOKS.contains(name)) {
      String hint = Names.suggest(name, HOOKS);
      throw ConfigException.at(e, sec, "no hook named '" + name + "'" + (hint == null ? "" : "; did you mean 'hooks."
          + hint + "'?"));
    }
    String v = val.strip().replaceFirst("\\s*,\\s*(?i:true|false|yes|no|1|0)$", "");
    if (v.startsWith("exec:") && !v.substring(5).isBlank()) {
      return;
    }
    if (v.startsWith("java:") && v.substring(5).strip().matches("[A-Za-z_$][\\w$]*(\\.[A-Za-z_$][\\w$]*)*")) {
      return;
    }
    throw ConfigException.at(e, sec, "'" + val.strip() + "' is " + (v.matches("[A-Za-z_][\\w.]*") ? "a Python"
        + " callable, which this circusd cannot call" : "not a hook") + "; write hooks." + name + " = exec:COMMAND"
        + " (a program: hook name, watcher and pid appended, exit code 0 to go on) or java:CLASS (an"
        + " io.jcircus.plugin.Hook found on hooks.classpath), optionally followed by ', true' to ignore its failures");
  }
}
