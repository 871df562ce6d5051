package io.jcircus.server.command;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.ManagedSocket;
import io.jcircus.server.arbiter.Watcher;
import io.jcircus.server.config.ConfigLoader;
import io.jcircus.server.config.WatcherConfig;
import io.jcircus.server.config.WatcherOptions;
import io.netty.util.concurrent.Future;
import java.util.ArrayList;
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
    r.register("reloadconfig", this::reloadconfig);
  }

  /** The file is read off the arbiter loop; a bad file changes nothing, and says which line and key and why. */
  void reloadconfig(Map<String, Object> p, Reply r) {
    arbiter.readConfig().addListener(read -> {
      if (!read.isSuccess()) {
        r.error(CommandError.message("reloadconfig: " + read.cause().getMessage()
            + " (the running configuration is unchanged)"));
        return;
      }
      try {
        reply(p, arbiter.applyConfig((io.jcircus.server.config.CircusConfig) read.getNow()), r, Family::kv);
      } catch (io.jcircus.protocol.ConfigException e) {
        r.error(CommandError.message("reloadconfig: " + e.getMessage() + " (the running configuration is unchanged)"));
      } catch (CommandError e) {
        r.error(e);
      }
    });
  }

  /** Keys {@code add} accepts in {@code options}, as Circus's set/add validation does. */
  private static boolean addable(String k) {
    return (WatcherOptions.keys().contains(k) && !k.equals("cmd") && !k.equals("args"))
        || k.startsWith("rlimit_") || k.startsWith("stdout_stream.") || k.startsWith("stderr_stream.")
        || k.startsWith("hooks.");
  }

  /** A client's value as the file would have written it. */
  private static String text(Object v) {
    if (v == null) {
      return "";
    }
    if (v instanceof List<?> l) {
      return String.join(" ", l.stream().map(String::valueOf).toList());
    }
    return String.valueOf(v);
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
    // The configuration file's checks, on the options as the file would give them: the same rules, bounds, messages.
    Map<String, String> section = new LinkedHashMap<>();
    section.put("cmd", cmd);
    Object args = p.get("args");
    if (args != null) {
      section.put("args", args instanceof List<?> l
          ? String.join(" ", l.stream().map(x -> io.jcircus.server.config.Shlex.quote(String.valueOf(x))).toList())
          : String.valueOf(args));
    }
    Map<String, String> env = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : ((Map<String, Object>) opts).entrySet()) {
      if (e.getKey().equals("env")) {
        if (!(e.getValue() instanceof Map)) {
          throw CommandError.message("'env' should be an object of strings");
        }
        ((Map<String, Object>) e.getValue()).forEach((k, v) -> env.put(k, text(v)));
      } else if (!addable(e.getKey())) {
        throw CommandError.message("unknown key '" + e.getKey() + "'");
      } else {
        section.put(e.getKey(), text(e.getValue()));
      }
    }
    List<String> sockets = new ArrayList<>();
    for (ManagedSocket sock : arbiter.sockets()) {
      sockets.add(sock.name());
    }
    WatcherConfig wc;
    try {
      wc = new ConfigLoader(System.getenv(), ConfigLoader.users()).watcher(name, section, env, sockets, new ArrayList<>());
    } catch (io.jcircus.protocol.ConfigException e) {
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

  /**
   * Circus's set: every value is checked first (type, then the file's bounds) and nothing changes unless all pass;
   * the watcher then takes the new configuration whole and resizes or reloads as {@link WatcherOptions} says.
   * Free-form keys (those the file had that Circus does not know) can be set too, as Circus's plugins do.
   */
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
    WatcherConfig.Builder next = c.toBuilder();
    next.numprocesses = w.numprocesses(); // the current target (incr/decr move it), changed only if set
    for (Map.Entry<String, Object> e : opts.entrySet()) {
      String k = e.getKey();
      Object v = e.getValue();
      WatcherOptions.Option opt = WatcherOptions.get(k);
      if (k.equals("env")) {
        if (!(v instanceof Map)) {
          throw CommandError.message("'env' should be an object of strings");
        }
        Map<String, String> env = new LinkedHashMap<>();
        ((Map<String, Object>) v).forEach((ek, ev) -> env.put(ek, String.valueOf(ev)));
        next.env = env;
      } else if (opt != null && opt.type() != WatcherOptions.Type.SPECIAL
          && opt.apply() != WatcherOptions.Apply.FILE_ONLY) {
        try {
          opt.assign().accept(next, opt.fromJson(v));
        } catch (IllegalArgumentException bad) {
          throw CommandError.message(bad.getMessage());
        }
      } else if (k.equals("hooks") || k.startsWith("hooks.")) {
        // Circus's forms: {"hooks": {"before_start": "…"}} (circusctl set web hooks before_start:…) or hooks.NAME
        Map<String, Object> given = k.equals("hooks") && v instanceof Map<?, ?> m ? (Map<String, Object>) m
            : k.equals("hooks") ? null : Map.of(k.substring("hooks.".length()), String.valueOf(v));
        if (given == null) {
          throw CommandError.message("'hooks' should be an object of hook names and values");
        }
        for (Map.Entry<String, Object> h : given.entrySet()) {
          String problem = WatcherOptions.hookProblem(h.getKey(), String.valueOf(h.getValue()));
          if (problem != null) {
            throw CommandError.message("hooks." + h.getKey() + ": " + problem);
          }
          next.hooks.put(h.getKey(), String.valueOf(h.getValue()));
        }
      } else if (c.freeform.containsKey(k)) {
        next.freeform.put(k, String.valueOf(v));
      } else {
        throw CommandError.message("unknown key '" + k + "'");
      }
      if (!(v instanceof Map)) {
        next.raw.put(k, String.valueOf(v));
      }
    }
    if (opts.containsKey("numprocesses") && c.singleton && next.numprocesses > 1) {
      throw CommandError.message("'numprocesses' a singleton watcher runs at most 1 process; got "
          + opts.get("numprocesses"));
    }
    Future<Void> f = w.reconfigure(next.build());
    for (int i = 0; i < opts.size(); i++) {
      arbiter.publishUpdated(w); // one "updated" event per key set, as before
    }
    reply(p, f, r, Family::kv);
  }

  void rm(Map<String, Object> p, Reply r) throws CommandError {
    Watcher w = watcher(p);
    Future<Void> f = arbiter.removeWatcher(w, bool(p, "nostop", false));
    reply(p, f, r, Family::kv);
  }
}
