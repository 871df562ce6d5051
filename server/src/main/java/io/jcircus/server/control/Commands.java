package io.jcircus.server.control;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.ManagedSocket;
import io.jcircus.server.arbiter.Watcher;
import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.config.ConfigLoader;
import io.jcircus.server.config.Limits;
import io.jcircus.server.config.WatcherConfig;
import io.jcircus.server.internal.posix.Signals;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Circus's commands, transport-free: a request (command name and properties) in, a reply map out. Runs on
 * the arbiter loop. Replies carry Circus's fields exactly; the transport adds status, time and id.
 */
public final class Commands {
  /** What a command produces: its reply fields, possibly later. */
  interface Command {
    void run(Arbiter a, Map<String, Object> props, Consumer<Map<String, Object>> reply) throws CommandError;
  }

  private final Arbiter arbiter;
  private final Map<String, Command> table = new TreeMap<>();
  /** Confined to {@link #statsThread}. */
  private final ProcStats stats = new ProcStats();
  private final java.util.concurrent.ExecutorService statsThread =
      java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "jcircus-stats");
        t.setDaemon(true);
        return t;
      });

  public Commands(Arbiter arbiter) {
    this.arbiter = arbiter;
    table.put("list", this::list);
    table.put("status", this::status);
    table.put("numwatchers", (a, p, r) -> r.accept(kv("numwatchers", a.watchers().size())));
    table.put("numprocesses", this::numprocesses);
    table.put("globaloptions", this::globaloptions);
    table.put("listsockets", this::listsockets);
    table.put("options", this::options);
    table.put("get", this::get);
    table.put("start", (a, p, r) -> lifecycle("start", p, r));
    table.put("stop", (a, p, r) -> lifecycle("stop", p, r));
    table.put("restart", (a, p, r) -> lifecycle("restart", p, r));
    table.put("reload", this::reload);
    table.put("incr", (a, p, r) -> resize(p, r, 1));
    table.put("decr", (a, p, r) -> resize(p, r, -1));
    table.put("signal", this::signal);
    table.put("kill", this::kill);
    table.put("quit", this::quit);
    table.put("stats", this::stats);
    table.put("output", this::output);
    table.put("add", this::add);
    table.put("set", this::set);
    table.put("reloadconfig", (a, p, r) -> {
      Future<List<String>> f;
      try {
        f = a.reloadConfig();
      } catch (io.jcircus.server.config.ConfigException e) {
        throw CommandError.message("reloadconfig: " + e.getMessage() + " (the running configuration is unchanged)");
      }
      reply(p, f, r, Commands::kv);
    });
    table.put("rm", this::rm);
    table.put("dstats", (a, p, r) -> {
      boolean ext = bool(p, "extended", false);
      offLoop(() -> kv("info", stats.info((int) ProcessHandle.current().pid(), false,
          ext ? ProcStats.EXTENDED : ProcStats.CIRCUS)), r);
    });
    table.put("listen", (a, p, r) -> {
      throw CommandError.message("invalid message. use a pub/sub socket");
    });
  }

  /** Runs {@code command}; {@code reply} gets the reply fields, or the error. Arbiter loop only. */
  public void dispatch(String command, Map<String, Object> props, Consumer<Map<String, Object>> reply,
      Consumer<CommandError> error) {
    Command c = table.get(command.toLowerCase(Locale.ROOT));
    if (c == null) {
      error.accept(new CommandError(CommandError.UNKNOWN_COMMAND, "unknown command: '" + command + "'"));
      return;
    }
    boolean[] done = {false};
    try {
      c.run(arbiter, props, r -> {
        if (!done[0]) {
          done[0] = true;
          if (r.get(FAILED) instanceof CommandError e) {
            error.accept(e);
          } else {
            reply.accept(r);
          }
        }
      });
    } catch (CommandError e) {
      error.accept(e);
    } catch (RuntimeException e) {
      error.accept(new CommandError(CommandError.COMMAND_ERROR, "command '" + command + "': " + e));
    }
  }

  static Map<String, Object> kv(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  // ------------------------------------------------------------------ property helpers

  private static String required(Map<String, Object> p, String key) throws CommandError {
    Object v = p.get(key);
    if (v == null) {
      throw CommandError.message("message invalid '" + key + "' is missing");
    }
    return v.toString();
  }

  private static boolean bool(Map<String, Object> p, String key, boolean def) throws CommandError {
    Object v = p.get(key);
    if (v == null) {
      return def;
    }
    if (v instanceof Boolean b) {
      return b;
    }
    String s = v.toString().toLowerCase(Locale.ROOT);
    if (s.equals("true") || s.equals("1") || s.equals("yes")) {
      return true;
    }
    if (s.equals("false") || s.equals("0") || s.equals("no")) {
      return false;
    }
    throw CommandError.message("'" + key + "' isn't a boolean");
  }

  /** An integer given as a number or a numeric string (circusctl sends some as strings). */
  private static Integer integer(Map<String, Object> p, String key) throws CommandError {
    Object v = p.get(key);
    if (v == null) {
      return null;
    }
    if (v instanceof Long || v instanceof Integer) {
      return ((Number) v).intValue();
    }
    try {
      return Integer.parseInt(v.toString().strip());
    } catch (NumberFormatException e) {
      throw CommandError.message("'" + key + "' isn't an integer");
    }
  }

  private static Double number(Map<String, Object> p, String key) throws CommandError {
    Object v = p.get(key);
    if (v == null) {
      return null;
    }
    if (v instanceof Number n) {
      return n.doubleValue();
    }
    try {
      return Double.parseDouble(v.toString().strip());
    } catch (NumberFormatException e) {
      throw CommandError.message("'" + key + "' isn't a number");
    }
  }

  private static int signum(Object v) throws CommandError {
    try {
      return Signals.parse(v.toString());
    } catch (IllegalArgumentException e) {
      throw CommandError.message(e.getMessage());
    }
  }

  private Watcher watcher(Map<String, Object> p) throws CommandError {
    String name = required(p, "name");
    Watcher w = arbiter.watcher(name);
    if (w == null) {
      throw CommandError.message("program " + name + " not found");
    }
    return w;
  }

  /** A watcher that takes commands which change it: not one that {@code rm} took. */
  private Watcher changeable(Map<String, Object> p) throws CommandError {
    Watcher w = watcher(p);
    if (w.isRemoved()) {
      throw CommandError.message("watcher '" + w.name() + "' is being removed (" + w.pids().size()
          + " process(es) still stopping)");
    }
    return w;
  }

  /** Every watcher not taken by {@code rm}. */
  private List<Watcher> current() {
    List<Watcher> out = arbiter.watchers();
    out.removeIf(Watcher::isRemoved);
    return out;
  }

  /** simple (exact, case-insensitive), glob (default) or regex (anchored at the start). */
  private List<Watcher> match(String name, String how) throws CommandError {
    List<Watcher> out = new ArrayList<>();
    String n = name.toLowerCase(Locale.ROOT);
    for (Watcher w : current()) {
      String wn = w.name().toLowerCase(Locale.ROOT);
      boolean ok;
      switch (how) {
        case "simple":
          ok = wn.equals(n);
          break;
        case "regex":
          try {
            ok = Pattern.compile(name).matcher(wn).lookingAt();
          } catch (PatternSyntaxException e) {
            throw CommandError.message("invalid regex '" + name + "': " + e.getDescription());
          }
          break;
        case "glob":
          ok = ConfigLoader.fnmatch(n, wn);
          break;
        default:
          throw CommandError.message("match must be simple, glob or regex; got '" + how + "'");
      }
      if (ok) {
        out.add(w);
      }
    }
    if (out.isEmpty()) {
      throw CommandError.message("program " + name + " not found");
    }
    out.sort(Comparator.comparingInt(Watcher::priority).reversed());
    return out;
  }

  /** Replies at once, or (with waiting) when {@code f} completes. */
  private static void reply(Map<String, Object> props, Future<?> f, Consumer<Map<String, Object>> reply,
      java.util.function.Supplier<Map<String, Object>> waited) throws CommandError {
    if (!bool(props, "waiting", false)) {
      reply.accept(kv());
      return;
    }
    f.addListener(x -> {
      if (x.isSuccess()) {
        reply.accept(waited.get());
      } else {
        // Circus answers a failed waiting future with errno 6; the reason says what failed.
        String why = x.cause() == null ? "server error" : String.valueOf(x.cause().getMessage());
        reply.accept(failed(new CommandError(CommandError.BAD_MSG_DATA_ERROR, why)));
      }
    });
  }

  private static final String FAILED = "\0error";

  /** A reply that {@link #dispatch} turns into an error reply (for failures found after the command returned). */
  static Map<String, Object> failed(CommandError e) {
    return kv(FAILED, e);
  }

  // ------------------------------------------------------------------ read-only commands

  private void list(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    if (p.get("name") != null) {
      Watcher w = watcher(p);
      r.accept(kv("pids", w.pids()));
      return;
    }
    List<String> names = new ArrayList<>();
    for (Watcher w : a.watchers()) {
      names.add(w.name().toLowerCase(Locale.ROOT));
    }
    names.sort(null);
    r.accept(kv("watchers", names));
  }

  private void status(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    if (p.get("name") != null) {
      r.accept(kv("status", watcher(p).state().toString()));
      return;
    }
    Map<String, Object> st = new LinkedHashMap<>();
    for (Watcher w : a.watchers()) {
      st.put(w.name().toLowerCase(Locale.ROOT), w.state().toString());
    }
    r.accept(kv("statuses", st));
  }

  private void numprocesses(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    if (p.get("name") != null) {
      Watcher w = watcher(p);
      r.accept(kv("numprocesses", w.pids().size(), "watcher_name", w.name()));
      return;
    }
    int n = 0;
    for (Watcher w : a.watchers()) {
      n += w.pids().size();
    }
    r.accept(kv("numprocesses", n));
  }

  private void globaloptions(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    CircusConfig c = a.config();
    Map<String, Object> all = kv("endpoint", c.endpoint, "stats_endpoint", c.statsEndpoint,
        "pubsub_endpoint", c.pubsubEndpoint, "check_delay", c.checkDelay, "multicast_endpoint", c.multicastEndpoint);
    Object opt = p.get("option");
    if (opt != null) {
      if (!all.containsKey(opt.toString())) {
        throw CommandError.message("Invalid option " + opt);
      }
      r.accept(kv("options", kv(opt.toString(), all.get(opt.toString()))));
      return;
    }
    r.accept(kv("options", all));
  }

  private void listsockets(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) {
    List<Map<String, Object>> out = new ArrayList<>();
    List<ManagedSocket> socks = a.sockets();
    socks.sort(Comparator.comparingInt(ManagedSocket::fd));
    for (ManagedSocket s : socks) {
      if (!s.isBound()) {
        continue;
      }
      if (s.config().isUnix()) {
        out.add(kv("fd", s.fd(), "name", s.name(), "backlog", s.config().backlog(), "path", s.config().path()));
      } else {
        out.add(kv("fd", s.fd(), "name", s.name(), "backlog", s.config().backlog(), "host", s.host(), "port", s.port()));
      }
    }
    r.accept(kv("sockets", out));
  }

  /** A watcher's options as Circus reports them: every option, sorted, typed. */
  static Map<String, Object> optionsOf(Watcher w) {
    WatcherConfig c = w.config();
    Map<String, Object> o = new TreeMap<>();
    o.put("args", c.args);
    o.put("close_child_stderr", c.closeChildStderr);
    o.put("close_child_stdin", c.closeChildStdin);
    o.put("close_child_stdout", c.closeChildStdout);
    o.put("cmd", c.cmd);
    o.put("copy_env", c.copyEnv);
    o.put("copy_path", c.copyPath);
    o.put("env", new TreeMap<>(c.env));
    o.put("executable", c.executable);
    o.put("gid", c.gid < 0 ? null : c.gid);
    o.put("graceful_timeout", c.gracefulTimeout);
    o.put("max_age", c.maxAge);
    o.put("max_age_variance", c.maxAgeVariance);
    o.put("max_retry", c.maxRetry);
    o.put("numprocesses", w.numprocesses());
    o.put("on_demand", c.onDemand);
    o.put("priority", c.priority);
    o.put("respawn", c.respawn);
    o.put("send_hup", c.sendHup);
    o.put("shell", c.shell);
    o.put("shell_args", c.shellArgs);
    o.put("singleton", c.singleton);
    o.put("stderr_stream_conf", c.stderrStream == null ? Map.of() : new TreeMap<>(c.stderrStream.options()));
    o.put("stdout_stream_conf", c.stdoutStream == null ? Map.of() : new TreeMap<>(c.stdoutStream.options()));
    o.put("stop_children", c.stopChildren);
    o.put("stop_signal", c.stopSignal);
    o.put("uid", c.uid < 0 ? null : c.uid);
    o.put("use_sockets", c.useSockets);
    o.put("warmup_delay", c.warmupDelay);
    o.put("working_dir", c.workingDir == null ? System.getProperty("user.dir") : c.workingDir);
    o.put("autostart", c.autostart);
    o.put("stdin_socket", c.stdinSocket);
    o.put("handoff", c.handoff.name().toLowerCase(Locale.ROOT));
    o.put("own_session", c.ownSession);
    o.put("backoff_min_uptime", c.backoffMinUptime);
    o.put("backoff_initial", c.backoffInitial);
    o.put("backoff_factor", c.backoffFactor);
    o.put("backoff_max", c.backoffMax);
    for (Map.Entry<String, Long> e : c.rlimits.entrySet()) {
      o.put("rlimit_" + e.getKey(), e.getValue() < 0 ? null : e.getValue());
    }
    for (Map.Entry<String, String> e : c.hooks.entrySet()) {
      o.put("hooks." + e.getKey(), e.getValue());
    }
    o.putAll(c.freeform);
    return o;
  }

  private void options(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    r.accept(kv("options", optionsOf(watcher(p))));
  }

  private void get(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    Watcher w = watcher(p);
    Object keys = p.get("keys");
    if (keys == null) {
      throw CommandError.message("message invalid 'keys' is missing");
    }
    if (!(keys instanceof List<?> list)) {
      throw CommandError.message("keys should be a list");
    }
    Map<String, Object> all = optionsOf(w);
    Map<String, Object> out = new LinkedHashMap<>();
    for (Object k : list) {
      String key = String.valueOf(k);
      if (!all.containsKey(key)) {
        throw CommandError.message("'" + key + "' option not found");
      }
      out.put(key, all.get(key));
    }
    r.accept(kv("options", out));
  }

  // ------------------------------------------------------------------ lifecycle

  /** Runs {@code op} on every watcher (each queued behind that watcher's earlier operations); completes when all have. */
  private Future<Void> forEach(List<Watcher> targets, java.util.function.Function<Watcher, Future<Void>> op) {
    return forEach(targets, false, op);
  }

  /** As {@link #forEach(List, java.util.function.Function)}; {@code preempt}: ahead of what is queued (stop). */
  private Future<Void> forEach(List<Watcher> targets, boolean preempt,
      java.util.function.Function<Watcher, Future<Void>> op) {
    Promise<Void> all = arbiter.loop().newPromise();
    int[] left = {targets.size()};
    if (targets.isEmpty()) {
      all.setSuccess(null);
    }
    Throwable[] firstFailure = {null};
    for (Watcher w : targets) {
      (preempt ? w.preempt(() -> op.apply(w)) : w.serialize(() -> op.apply(w))).addListener(x -> {
        if (!x.isSuccess() && firstFailure[0] == null) {
          firstFailure[0] = x.cause();
        }
        if (--left[0] == 0) {
          if (firstFailure[0] == null) {
            all.trySuccess(null);
          } else {
            all.tryFailure(firstFailure[0]);
          }
        }
      });
    }
    return all;
  }

  private void lifecycle(String op, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    Object nameObj = p.get("name");
    String how = p.get("match") == null ? "glob" : p.get("match").toString();
    if (nameObj == null && op.equals("restart")) {
      restartArbiter(p, r);
      return;
    }
    List<Watcher> targets = nameObj == null ? current() : match(nameObj.toString(), how);
    if (nameObj == null && op.equals("start")) {
      targets.removeIf(w -> !w.config().autostart);
    }
    if (op.equals("stop")) {
      targets.sort(Comparator.comparingInt(Watcher::priority));
    }
    boolean single = nameObj != null && targets.size() == 1;
    Watcher only = single ? targets.get(0) : null;
    List<Integer> before = single ? only.pids() : List.of();
    // stop cancels what is queued on the watcher (a resize, a start in backoff) instead of waiting behind it
    Future<Void> all = forEach(targets, op.equals("stop"),
        w -> op.equals("start") ? w.start() : op.equals("stop") ? w.stop() : w.restart());
    reply(p, all, r, () -> {
      if (!single) {
        return kv();
      }
      if (op.equals("stop")) {
        return kv("info", null);
      }
      List<Integer> now = only.pids();
      List<Integer> started = new ArrayList<>();
      List<Integer> kept = new ArrayList<>();
      for (int pid : now) {
        (before.contains(pid) && !op.equals("restart") ? kept : started).add(pid);
      }
      if (op.equals("restart")) {
        return kv("info", kv("stopped", before, "started", started, "kept", kept));
      }
      return kv("info", kv("started", started, "kept", kept));
    });
  }

  /**
   * {@code restart} with no name, as Circus does it: every watcher stopped (lowest priority first), the
   * configuration file read again and applied, every autostart watcher started. A file with an error is
   * refused before anything stops; the daemon process, its endpoints and unchanged sockets stay.
   */
  private void restartArbiter(Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    try {
      ConfigLoader.load(arbiter.config().file);
    } catch (io.jcircus.server.config.ConfigException e) {
      throw CommandError.message("restart: " + e.getMessage() + " (nothing was restarted)");
    }
    List<Watcher> all = current();
    all.sort(Comparator.comparingInt(Watcher::priority));
    Promise<Void> done = arbiter.loop().newPromise();
    forEach(all, true, Watcher::stop).addListener(stopped -> {
      Future<List<String>> applied;
      try {
        applied = arbiter.reloadConfig();
      } catch (io.jcircus.server.config.ConfigException e) {
        applied = arbiter.loop().newFailedFuture(e);
      }
      applied.addListener(x -> {
        List<Watcher> start = current();
        start.removeIf(w -> !w.config().autostart);
        start.sort(Comparator.comparingInt(Watcher::priority).reversed());
        forEach(start, Watcher::start).addListener(y -> {
          if (x.isSuccess()) {
            done.trySuccess(null);
          } else {
            done.tryFailure(x.cause());
          }
        });
      });
    });
    reply(p, done, r, Commands::kv);
  }

  private void reload(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    boolean graceful = bool(p, "graceful", true);
    boolean sequential = bool(p, "sequential", false);
    Object nameObj = p.get("name");
    List<Watcher> targets = nameObj == null ? current() : List.of(changeable(p));
    Watcher only = nameObj == null ? null : targets.get(0);
    List<Integer> before = only == null ? List.of() : only.pids();
    Future<Void> all = forEach(targets, w -> w.reload(graceful, sequential));
    reply(p, all, r, () -> {
      if (only == null) {
        return kv();
      }
      List<Integer> now = only.pids();
      List<Integer> stopped = new ArrayList<>();
      List<Integer> started = new ArrayList<>();
      List<Integer> kept = new ArrayList<>();
      for (int pid : before) {
        (now.contains(pid) ? kept : stopped).add(pid);
      }
      for (int pid : now) {
        if (!before.contains(pid)) {
          started.add(pid);
        }
      }
      return kv("info", kv("stopped", stopped, "started", started, "kept", kept));
    });
  }

  private void resize(Map<String, Object> p, Consumer<Map<String, Object>> r, int sign) throws CommandError {
    Watcher w = changeable(p);
    Integer nb = integer(p, "nb");
    int n = nb == null ? 1 : nb;
    if (n < 0) {
      throw CommandError.message("'nb' must not be negative; got " + n);
    }
    if (w.config().singleton) {
      r.accept(kv("numprocesses", w.numprocesses(), "singleton", true));
      return;
    }
    if (sign > 0) {
      try {
        Limits.numprocesses((long) w.numprocesses() + n);
      } catch (IllegalArgumentException e) {
        throw CommandError.message("incr: numprocesses " + e.getMessage());
      }
    }
    Future<Void> f = w.serialize(() -> w.setNumprocesses(w.numprocesses() + sign * n));
    reply(p, f, r, () -> kv("numprocesses", w.numprocesses()));
  }

  private void signal(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    Watcher w = watcher(p);
    int sig = signum(required(p, "signum"));
    Integer pid = integer(p, "pid");
    Integer childpid = integer(p, "childpid");
    if (childpid != null && pid == null) {
      throw CommandError.message("cannot specify childpid without pid");
    }
    boolean children = bool(p, "children", false) || bool(p, "recursive", false);
    if (pid != null && !w.hasProcess(pid)) {
      throw CommandError.message("process " + pid + " not found in '" + w.name() + "'");
    }
    if (childpid != null) {
      // only a child of that process, as Circus: never any pid a client names
      if (!io.jcircus.server.arbiter.ProcFsAccess.children(pid).contains(childpid)
          || io.jcircus.server.internal.posix.Posix.kill(childpid, sig) != 0) {
        throw CommandError.message("child " + childpid + " not found");
      }
    } else {
      w.signal(sig, pid, children);
    }
    r.accept(kv());
  }

  private void kill(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    Watcher w = watcher(p);
    Integer pid = integer(p, "pid");
    if (pid != null && !w.hasProcess(pid)) {
      throw CommandError.message("process " + pid + " not found in '" + w.name() + "'");
    }
    int sig = p.get("signum") == null ? w.config().stopSignal : signum(p.get("signum"));
    Double timeout = number(p, "graceful_timeout");
    double t = timeout == null ? w.config().gracefulTimeout : timeout;
    Future<Void> f = w.serialize(() -> w.kill(pid, sig, t));
    reply(p, f, r, Commands::kv);
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

  @SuppressWarnings("unchecked")
  private void add(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    String name = required(p, "name");
    String cmd = required(p, "cmd");
    Watcher same = a.watcher(name);
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
    for (ManagedSocket sock : a.sockets()) {
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
    Future<Void> removal = a.removal(name);
    if (removal != null) {
      // rm then add of one name (Circus's clients do this without waiting): the new watcher comes once the old
      // one's processes are gone, so no two watchers of one name are ever listed
      removal.addListener(x -> {
        if (a.watcher(name) != null) {
          r.accept(failed(CommandError.message("watcher '" + name + "' already exists")));
          return;
        }
        try {
          added(a, wc, start, p, r);
        } catch (CommandError e) {
          r.accept(failed(e));
        }
      });
      return;
    }
    added(a, wc, start, p, r);
  }

  private static void added(Arbiter a, WatcherConfig wc, boolean start, Map<String, Object> p,
      Consumer<Map<String, Object>> r) throws CommandError {
    Watcher w = a.addWatcher(wc);
    if (!start) {
      r.accept(kv());
      return;
    }
    Future<Void> f = w.serialize(w::start);
    reply(p, f, r, () -> kv("started", w.pids(), "kept", List.of()));
  }

  /**
   * {@code set}: numprocesses resizes; graceful_timeout, warmup_delay, stop_signal, max_retry, respawn,
   * max_age(+variance) and the backoff keys apply to what happens next; keys of the command line or the
   * environment (cmd, args, env, working_dir, shell, uid, gid…) take effect through a graceful reload, as in
   * Circus. One {@code updated} event per key.
   */
  @SuppressWarnings("unchecked")
  private void set(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
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
      a.publishUpdated(w);
    }
    Integer n = resize;
    boolean doReload = reload;
    Future<Void> f = w.serialize(() -> {
      if (n != null) {
        return w.setNumprocesses(n);
      }
      return doReload && w.state() == Watcher.State.ACTIVE ? w.reload(true) : a.loop().newSucceededFuture(null);
    });
    reply(p, f, r, Commands::kv);
  }

  /** A whole number from JSON, as Circus takes it: an integer, not a string or a fraction. */
  private static long whole(String k, Object v) throws CommandError {
    if (!(v instanceof Long || v instanceof Integer)) {
      throw CommandError.message("'" + k + "' isn't an integer");
    }
    return ((Number) v).longValue();
  }

  /** A number of seconds from JSON: an integer or a finite fraction. */
  private static double seconds(String k, Object v) throws CommandError {
    if (!(v instanceof Number n) || Double.isInfinite(n.doubleValue())) {
      throw CommandError.message("'" + k + "' isn't a number");
    }
    return n.doubleValue();
  }

  private void rm(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    Watcher w = watcher(p);
    Future<Void> f = a.removeWatcher(w, bool(p, "nostop", false));
    reply(p, f, r, Commands::kv);
  }

  /** What stats needs of one process, taken on the arbiter loop so /proc can be read elsewhere. */
  private record Target(int pid, double started, int wid) { }

  private static List<Target> targets(Watcher w) {
    List<Target> out = new ArrayList<>();
    for (io.jcircus.server.arbiter.ManagedProcess mp : w.processes()) {
      out.add(new Target(mp.pid(), mp.started(), mp.wid()));
    }
    return out;
  }

  /**
   * Reads /proc for {@code work} on the stats thread and hands the reply back to the arbiter loop: a stats
   * call over 500 processes takes about 100 ms of file reads, which must not hold up the arbiter.
   */
  private void offLoop(java.util.function.Supplier<Map<String, Object>> work, Consumer<Map<String, Object>> r) {
    statsThread.execute(() -> {
      Map<String, Object> out = work.get();
      arbiter.loop().execute(() -> r.accept(out));
    });
  }

  /** Stats thread only. */
  private Object processInfo(Target t, boolean extended) {
    Map<String, Object> i = stats.info(t.pid, true, extended ? ProcStats.EXTENDED : ProcStats.CIRCUS);
    if (i == null) {
      return "No such process (stopped?)";
    }
    i.put("age", System.currentTimeMillis() / 1000.0 - t.started);
    i.put("started", t.started);
    i.put("wid", t.wid);
    return i;
  }

  /** Stats thread only. */
  private Map<String, Object> watcherInfo(List<Target> ts, boolean extended) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Target t : ts) {
      out.put(Integer.toString(t.pid), processInfo(t, extended));
    }
    return out;
  }

  private void stats(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    // Circus's extended calls an extended_stats hook; here it adds open descriptors and CPU seconds
    boolean ext = bool(p, "extended", false);
    if (p.get("name") == null) {
      Map<String, List<Target>> all = new LinkedHashMap<>();
      for (Watcher w : a.watchers()) {
        all.put(w.name().toLowerCase(Locale.ROOT), targets(w));
      }
      offLoop(() -> {
        Map<String, Object> infos = new LinkedHashMap<>();
        all.forEach((name, ts) -> infos.put(name, watcherInfo(ts, ext)));
        return kv("infos", infos);
      }, r);
      return;
    }
    Watcher w = watcher(p);
    Integer pid = integer(p, "process");
    List<Target> ts = targets(w);
    if (pid != null) {
      for (Target t : ts) {
        if (t.pid == pid) {
          offLoop(() -> kv("process", pid, "info", processInfo(t, ext)), r);
          return;
        }
      }
      throw CommandError.message("process " + pid + " not found in '" + w.name() + "'");
    }
    String name = w.name();
    offLoop(() -> kv("name", name, "info", watcherInfo(ts, ext)), r);
  }

  /**
   * {@code output} (jcircus): recent lines of a watcher's processes from its ring, and where to follow them.
   * Properties: {@code name}; optional {@code pid}, {@code stream} (stdout|stderr), {@code lines} (default 10,
   * at most the ring's {@value io.jcircus.server.stream.LiveOutput#RING_LINES}), {@code since} (a seq: every
   * line after it still in the ring, instead of the last {@code lines}), {@code prefix} (answers
   * {@code subscribed}: whether the output publisher has seen a subscription to that topic prefix).
   */
  private void output(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) throws CommandError {
    io.jcircus.server.stream.LiveOutput live = a.liveOutput();
    if (live == null) {
      throw CommandError.message("live output is off (output_endpoint is empty in [circus])");
    }
    Watcher w = watcher(p);
    Integer pid = integer(p, "pid");
    Object stream = p.get("stream");
    if (stream != null && !stream.equals("stdout") && !stream.equals("stderr")) {
      throw CommandError.message("stream must be stdout or stderr, not " + stream);
    }
    Integer n = integer(p, "lines");
    Object since = p.get("since");
    Long sinceSeq = null;
    if (since != null) {
      if (!(since instanceof Number)) {
        throw CommandError.message("since must be a number");
      }
      sinceSeq = ((Number) since).longValue();
    }
    String name = w.name().toLowerCase(Locale.ROOT);
    List<Object> lines = new ArrayList<>();
    for (io.jcircus.server.stream.LiveOutput.Line l : live.lines(name, pid, (String) stream,
        Math.max(0, Math.min(n == null ? 10 : n, io.jcircus.server.stream.LiveOutput.RING_LINES)), sinceSeq)) {
      lines.add(kv("seq", l.seq(), "pseq", l.pseq(), "pid", l.pid(), "stream", l.stream(), "time", l.time(),
          "data", l.data()));
    }
    Map<String, Object> out = kv("name", name, "lines", lines, "next_seq", live.nextSeq(name), "endpoint",
        live.endpoint(), "dropped", live.dropped());
    if (p.get("prefix") != null) {
      out.put("subscribed", live.isSubscribed(String.valueOf(p.get("prefix")))); // see circusctl tail
    }
    io.jcircus.server.stream.RingFile ring = live.ringFile(name);
    if (ring != null) { // for a follower on this machine (subscribed to ring.NAME): read it there
      out.put("ring", kv("path", ring.path().toString(), "token", Long.toString(ring.token())));
    }
    r.accept(out);
  }

  private void quit(Arbiter a, Map<String, Object> p, Consumer<Map<String, Object>> r) {
    r.accept(kv());
    a.shutdown();
  }
}
