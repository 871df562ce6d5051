package io.jcircus.server.command;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.ManagedSocket;
import io.jcircus.server.arbiter.Watcher;
import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.config.WatcherConfig;
import io.jcircus.server.config.WatcherOptions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Commands that read: list, status, numwatchers, numprocesses, globaloptions, listsockets, options, get, listen. */
final class QueryCommands extends Family {

  QueryCommands(Arbiter arbiter) {
    super(arbiter);
  }

  @Override
  void register(Registry r) {
    r.register("list", this::list);
    r.register("status", this::status);
    r.register("numwatchers", (p, out) -> out.ok(kv("numwatchers", arbiter.watchers().size()
        + arbiter.pluginStates().size())));
    r.register("numprocesses", this::numprocesses);
    r.register("globaloptions", this::globaloptions);
    r.register("listsockets", this::listsockets);
    r.register("options", this::options);
    r.register("get", this::get);
    r.register("listen", (p, out) -> {
      throw CommandError.message("invalid message. use a pub/sub socket");
    });
  }

  void list(Map<String, Object> p, Reply r) throws CommandError {
    if (p.get("name") != null && arbiter.pluginStates().containsKey(p.get("name").toString())) {
      r.ok(kv("pids", List.of())); // an in-process plugin: circusd's own thread, no process of its own
      return;
    }
    if (p.get("name") != null) {
      Watcher w = watcher(p);
      r.ok(kv("pids", w.pids()));
      return;
    }
    List<String> names = new ArrayList<>();
    for (Watcher w : arbiter.watchers()) {
      names.add(w.name().toLowerCase(Locale.ROOT));
    }
    names.addAll(arbiter.pluginStates().keySet());
    names.sort(null);
    r.ok(kv("watchers", names));
  }

  void status(Map<String, Object> p, Reply r) throws CommandError {
    String plugin = p.get("name") == null ? null : arbiter.pluginStates().get(p.get("name").toString());
    if (plugin != null) {
      r.ok(kv("status", plugin));
      return;
    }
    if (p.get("name") != null) {
      r.ok(kv("status", watcher(p).state().toString()));
      return;
    }
    Map<String, Object> st = new LinkedHashMap<>();
    for (Watcher w : arbiter.watchers()) {
      st.put(w.name().toLowerCase(Locale.ROOT), w.state().toString());
    }
    st.putAll(arbiter.pluginStates());
    r.ok(kv("statuses", st));
  }

  void numprocesses(Map<String, Object> p, Reply r) throws CommandError {
    if (p.get("name") != null) {
      Watcher w = watcher(p);
      r.ok(kv("numprocesses", w.pids().size(), "watcher_name", w.name()));
      return;
    }
    int n = 0;
    for (Watcher w : arbiter.watchers()) {
      n += w.pids().size();
    }
    r.ok(kv("numprocesses", n));
  }

  void globaloptions(Map<String, Object> p, Reply r) throws CommandError {
    CircusConfig c = arbiter.config();
    Map<String, Object> all = kv("endpoint", c.endpoint, "stats_endpoint", c.statsEndpoint,
        "pubsub_endpoint", c.pubsubEndpoint, "check_delay", c.checkDelay, "multicast_endpoint", c.multicastEndpoint);
    Object opt = p.get("option");
    if (opt != null) {
      if (!all.containsKey(opt.toString())) {
        throw CommandError.message("Invalid option " + opt);
      }
      r.ok(kv("options", kv(opt.toString(), all.get(opt.toString()))));
      return;
    }
    r.ok(kv("options", all));
  }

  void listsockets(Map<String, Object> p, Reply r) {
    List<Map<String, Object>> out = new ArrayList<>();
    List<ManagedSocket> socks = arbiter.sockets();
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
    r.ok(kv("sockets", out));
  }

  /** A watcher's options as Circus reports them: every option, sorted, typed. */
  static Map<String, Object> optionsOf(Watcher w) {
    WatcherConfig c = w.config();
    Map<String, Object> o = new TreeMap<>();
    for (WatcherOptions.Option opt : WatcherOptions.all()) {
      if (opt.view() != null) {
        o.put(opt.key(), opt.view().apply(c));
      }
    }
    o.put("numprocesses", w.numprocesses()); // the current target: incr and decr move it
    o.put("stderr_stream_conf", c.stderrStream == null ? Map.of() : new TreeMap<>(c.stderrStream.options()));
    o.put("stdout_stream_conf", c.stdoutStream == null ? Map.of() : new TreeMap<>(c.stdoutStream.options()));
    for (Map.Entry<String, Long> e : c.rlimits.entrySet()) {
      o.put("rlimit_" + e.getKey(), e.getValue() < 0 ? null : e.getValue());
    }
    for (Map.Entry<String, String> e : c.hooks.entrySet()) {
      o.put("hooks." + e.getKey(), e.getValue());
    }
    o.putAll(c.freeform);
    return o;
  }

  void options(Map<String, Object> p, Reply r) throws CommandError {
    r.ok(kv("options", optionsOf(watcher(p))));
  }

  void get(Map<String, Object> p, Reply r) throws CommandError {
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
    r.ok(kv("options", out));
  }
}
