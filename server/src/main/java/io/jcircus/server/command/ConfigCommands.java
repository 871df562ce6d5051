package io.jcircus.server.command;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.ManagedSocket;
import io.jcircus.server.arbiter.Watcher;
import io.jcircus.server.config.ConfigLoader;
import io.jcircus.server.config.Limits;
import io.jcircus.server.config.WatcherConfig;
import io.netty.util.concurrent.Future;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Commands that change what runs: add, rm, set, reloadconfig. */
final class ConfigCommands extends Family {

  ConfigCommands(Arbiter arbiter) {
    super(arbiter);
  }

  @Override
  void register(Registry r) {
    r.register("add", this::add);
    r.register("set", this::set);
    r.register("rm", this::rm);
    r.register("reloadconfig", (p, out) -> {
      Future<List<String>> f;
      try {
        f = arbiter.reloadConfig();
      } catch (io.jcircus.server.config.ConfigException e) {
        throw CommandError.message("reloadconfig: " + e.getMessage() + " (the running configuration is unchanged)");
      }
      reply(p, f, out, Family::kv);
    });
  }

  /** Keys {@code add} accepts in {@code options}, as Circus's set/add validation does. */
  private static boolean addable(String k) {
    return (io.jcircus.server.config.ConfigLoader.watcherKeys().contains(k) && !k.equals("cmd") && !k.equals("args"))
        || k.startsWith("rlimit_") || k.startsWith("stdout_stream.") || k.startsWith("stderr_stream.")
        || k.startsWith("hooks.") || k.equals("env");
  }

  private static String iniValue(String key, Object v) throws CommandError {
    String s = v == null ? "" : v instanceof List<?> l ? String.join(" ", l.stream().map(String::valueOf).toList()) : String.valueOf(v);
    if (s.contains("\n")) {
      throw CommandError.message("'" + key + "' must be a single line");
    }
    return s.isEmpty() ? "\"\"" : s;
  }

  void add(Map<String, Object> p, Reply r) throws CommandError {
    String name = required(p, "name");
    String cmd = required(p, "cmd");
    Watcher same = arbiter.watcher(name);
    if (same != null && !same.isRemoved()) {
      throw CommandError.message("watcher '" + name + "' already exists");
    }
    if (name.contains("]") || name.contains("\n") || name.isBlank()) {
      throw CommandError.message("invalid watcher name '" + name + "'");
    }
    Object opts = p.getOrDefault("options", Map.of());
    if (!(opts instanceof Map)) {
      throw CommandError.message("'options' should be an object");
    }
    // Reuse the configuration checks: the watcher is parsed as the ini section it would have been.
    StringBuilder ini = new StringBuilder();
    for (ManagedSocket sock : arbiter.sockets()) {
      ini.append("[socket:").append(sock.name()).append("]\nport = 0\n");
    }
    ini.append("[watcher:").append(name).append("]\n");
    ini.append("cmd = ").append(iniValue("cmd", cmd)).append('\n');
    if (p.get("args") != null) {
      Object args = p.get("args");
      String joined = args instanceof List<?> l
          ? String.join(" ", l.stream().map(x -> io.jcircus.server.config.Shlex.quote(String.valueOf(x))).toList())
          : String.valueOf(args);
      ini.append("args = ").append(iniValue("args", joined)).append('\n');
    }
    Map<String, Object> env = null;
    for (Map.Entry<String, Object> e : ((Map<String, Object>) opts).entrySet()) {
      if (!addable(e.getKey())) {
        throw CommandError.message("unknown key '" + e.getKey() + "'");
      }
      if (e.getKey().equals("env")) {
        if (!(e.getValue() instanceof Map)) {
          throw CommandError.message("'env' should be an object of strings");
        }
        env = (Map<String, Object>) e.getValue();
        continue;
      }
      Object v = e.getValue();
      if (v instanceof Boolean b) {
        v = b ? "true" : "false";
      }
      ini.append(e.getKey()).append(" = ").append(iniValue(e.getKey(), v)).append('\n');
    }
    if (env != null) {
      ini.append("[env:").append(name).append("]\n");
      for (Map.Entry<String, Object> e : env.entrySet()) {
        ini.append(e.getKey()).append(" = ").append(iniValue(e.getKey(), e.getValue())).append('\n');
      }
    }
    WatcherConfig wc;
    try {
      wc = new io.jcircus.server.config.ConfigLoader(System.getenv(), io.jcircus.server.config.ConfigLoader.users())
          .loadText(java.nio.file.Path.of("<add " + name + ">"), ini.toString()).watchers.get(0);
    } catch (io.jcircus.server.config.ConfigException e) {
      String msg = e.getMessage();
      int at = msg.indexOf("] ");
      throw CommandError.message(at >= 0 ? msg.substring(at + 2) : msg);
    }
    boolean start = bool(p, "start", false);
    Future<Void> removal = arbiter.removal(name);
    if (removal != null) {
      // rm then add of one name (Circus's clients do this without waiting): the new watcher comes once the old
      // one's processes are gone, so no two watchers of one name are ever listed
      removal.addListener(x -> {
        if (arbiter.watcher(name) != null) {
          r.error(CommandError.message("watcher '" + name + "' already exists"));
          return;
        }
        try {
          added(arbiter, wc, start, p, r);
        } catch (CommandError e) {
          r.error(e);
        }
      });
      return;
    }
    added(arbiter, wc, start, p, r);
  }

  private static void added(Arbiter a, WatcherConfig wc, boolean start, Map<String, Object> p,
      Reply r) throws CommandError {
    Watcher w = a.addWatcher(wc);
    if (!start) {
      r.ok(kv());
      return;
    }
    Future<Void> f = w.serialize(w::start);
    reply(p, f, r, () -> kv("started", w.pids(), "kept", List.of()));
  }

  void set(Map<String, Object> p, Reply r) throws CommandError {
    Watcher w = changeable(p);
    Object o = p.get("options");
    if (o == null) {
      throw CommandError.message("message invalid 'options' is missing");
    }
    if (!(o instanceof Map)) {
      throw CommandError.message("'options' should be an object");
    }
    Map<String, Object> opts = (Map<String, Object>) o;
    WatcherConfig c = w.config();
    boolean reload = false;
    Integer resize = null;
    // Validate everything first, with the configuration file's rules and bounds: a bad value changes nothing.
    for (Map.Entry<String, Object> e : opts.entrySet()) {
      String k = e.getKey();
      Object v = e.getValue();
      try {
        switch (k) {
          case "numprocesses":
            Limits.numprocesses(whole(k, v));
            if (c.singleton && whole(k, v) > 1) {
              throw new IllegalArgumentException("a singleton watcher runs at most 1 process; got " + v);
            }
            break;
          case "max_retry": Limits.maxRetry(whole(k, v)); break;
          case "max_age": case "max_age_variance": Limits.ageSeconds(whole(k, v)); break;
          case "priority": Limits.priority(whole(k, v)); break;
          case "graceful_timeout": case "warmup_delay": case "backoff_min_uptime": case "backoff_initial":
          case "backoff_max":
            Limits.seconds(seconds(k, v));
            break;
          case "backoff_factor": Limits.backoffFactor(seconds(k, v)); break;
          case "respawn": case "stop_children": case "send_hup": case "shell": case "copy_env":
          case "close_child_stdin": case "close_child_stdout": case "close_child_stderr":
            if (!(v instanceof Boolean)) {
              throw CommandError.message("'" + k + "' isn't a boolean");
            }
            break;
          case "stop_signal":
            signum(v);
            break;
          case "cmd":
            if (!(v instanceof String str)) {
              throw CommandError.message("'" + k + "' isn't a string");
            }
            Limits.cmd(str);
            break;
          case "args": case "working_dir":
            if (!(v instanceof String)) {
              throw CommandError.message("'" + k + "' isn't a string");
            }
            break;
          case "env":
            if (!(v instanceof Map)) {
              throw CommandError.message("'env' should be an object of strings");
            }
            break;
          default:
            if (!c.freeform.containsKey(k)) {
              throw CommandError.message("unknown key '" + k + "'");
            }
        }
      } catch (IllegalArgumentException bad) {
        throw CommandError.message("'" + k + "' " + bad.getMessage());
      }
    }
    for (Map.Entry<String, Object> e : opts.entrySet()) {
      String k = e.getKey();
      Object v = e.getValue();
      switch (k) {
        case "numprocesses": resize = ((Number) v).intValue(); break;
        case "max_retry": c.maxRetry = ((Number) v).intValue(); break;
        case "max_age": c.maxAge = ((Number) v).intValue(); break;
        case "max_age_variance": c.maxAgeVariance = ((Number) v).intValue(); break;
        case "priority": c.priority = ((Number) v).intValue(); break;
        case "graceful_timeout": c.gracefulTimeout = ((Number) v).doubleValue(); break;
        case "warmup_delay": c.warmupDelay = ((Number) v).doubleValue(); break;
        case "backoff_min_uptime": c.backoffMinUptime = ((Number) v).doubleValue(); break;
        case "backoff_initial": c.backoffInitial = ((Number) v).doubleValue(); break;
        case "backoff_factor": c.backoffFactor = ((Number) v).doubleValue(); break;
        case "backoff_max": c.backoffMax = ((Number) v).doubleValue(); break;
        case "respawn": c.respawn = (Boolean) v; break;
        case "stop_children": c.stopChildren = (Boolean) v; break;
        case "send_hup": c.sendHup = (Boolean) v; break;
        case "stop_signal": c.stopSignal = signum(v); break;
        case "close_child_stdin": c.closeChildStdin = (Boolean) v; reload = true; break;
        case "close_child_stdout": c.closeChildStdout = (Boolean) v; reload = true; break;
        case "close_child_stderr": c.closeChildStderr = (Boolean) v; reload = true; break;
        case "shell": c.shell = (Boolean) v; reload = true; break;
        case "copy_env": c.copyEnv = (Boolean) v; reload = true; break;
        case "cmd": c.cmd = (String) v; reload = true; break;
        case "args": c.args = (String) v; reload = true; break;
        case "working_dir": c.workingDir = (String) v; reload = true; break;
        case "env": {
          Map<String, String> env = new LinkedHashMap<>();
          ((Map<String, Object>) v).forEach((ek, ev) -> env.put(ek, String.valueOf(ev)));
          c.env = env;
          reload = true;
          break;
        }
        default: c.freeform.put(k, String.valueOf(v));
      }
      if (!(v instanceof Map)) {
        c.raw.put(k, String.valueOf(v));
      }
      arbiter.publishUpdated(w);
    }
    Integer n = resize;
    boolean doReload = reload;
    Future<Void> f = w.serialize(() -> {
      if (n != null) {
        return w.setNumprocesses(n);
      }
      return doReload && w.state() == Watcher.State.ACTIVE ? w.reload(true) : arbiter.loop().newSucceededFuture(null);
    });
    reply(p, f, r, Family::kv);
  }

  void rm(Map<String, Object> p, Reply r) throws CommandError {
    Watcher w = watcher(p);
    Future<Void> f = arbiter.removeWatcher(w, bool(p, "nostop", false));
    reply(p, f, r, Family::kv);
  }
}
