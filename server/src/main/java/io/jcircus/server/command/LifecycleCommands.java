package io.jcircus.server.command;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.Watcher;
import io.jcircus.server.config.ConfigLoader;
import io.jcircus.server.config.Limits;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/** Commands that start, stop, reload, resize and signal watchers: start, stop, restart, reload, incr, decr, signal, kill, quit. */
final class LifecycleCommands extends Family {

  LifecycleCommands(Arbiter arbiter) {
    super(arbiter);
  }

  @Override
  void register(Registry r) {
    r.register("start", (p, out) -> lifecycle("start", p, out));
    r.register("stop", (p, out) -> lifecycle("stop", p, out));
    r.register("restart", (p, out) -> lifecycle("restart", p, out));
    r.register("reload", this::reload);
    r.register("incr", (p, out) -> resize(p, out, 1));
    r.register("decr", (p, out) -> resize(p, out, -1));
    r.register("signal", this::signal);
    r.register("kill", this::kill);
    r.register("quit", this::quit);
  }

  void lifecycle(String op, Map<String, Object> p, Reply r) throws CommandError {
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
  void restartArbiter(Map<String, Object> p, Reply r) {
    arbiter.readConfig().addListener(read -> {
      if (!read.isSuccess()) {
        r.error(CommandError.message("restart: " + read.cause().getMessage() + " (nothing was restarted)"));
        return;
      }
      io.jcircus.server.config.CircusConfig next = (io.jcircus.server.config.CircusConfig) read.getNow();
      List<Watcher> all = current();
      all.sort(Comparator.comparingInt(Watcher::priority));
      Promise<Void> done = arbiter.loop().newPromise();
      forEach(all, true, Watcher::stop).addListener(stopped -> {
        Future<List<String>> applied;
        try {
          applied = arbiter.applyConfig(next);
        } catch (io.jcircus.protocol.ConfigException e) {
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
      try {
        reply(p, done, r, Family::kv);
      } catch (CommandError e) {
        r.error(e);
      }
    });
  }

  void reload(Map<String, Object> p, Reply r) throws CommandError {
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

  void resize(Map<String, Object> p, Reply r, int sign) throws CommandError {
    Watcher w = changeable(p);
    Integer nb = integer(p, "nb");
    int n = nb == null ? 1 : nb;
    if (n < 0) {
      throw CommandError.message("'nb' must not be negative; got " + n);
    }
    if (w.config().singleton) {
      r.ok(kv("numprocesses", w.numprocesses(), "singleton", true));
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

  void signal(Map<String, Object> p, Reply r) throws CommandError {
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
      if (!io.jcircus.server.internal.proc.ProcFs.children(pid).contains(childpid)
          || io.jcircus.server.internal.posix.Posix.kill(childpid, sig) != 0) {
        throw CommandError.message("child " + childpid + " not found");
      }
    } else {
      w.signal(sig, pid, children);
    }
    r.ok(kv());
  }

  void kill(Map<String, Object> p, Reply r) throws CommandError {
    Watcher w = watcher(p);
    Integer pid = integer(p, "pid");
    if (pid != null && !w.hasProcess(pid)) {
      throw CommandError.message("process " + pid + " not found in '" + w.name() + "'");
    }
    int sig = p.get("signum") == null ? w.config().stopSignal : signum(p.get("signum"));
    Double timeout = number(p, "graceful_timeout");
    double t = timeout == null ? w.config().gracefulTimeout : timeout;
    // "replace" (jcircus's): the successor of a single process is spawned before it is signalled
    boolean replace = Boolean.TRUE.equals(p.get("replace"));
    Future<Void> f = w.serialize(() -> w.kill(pid, sig, t, replace));
    reply(p, f, r, Family::kv);
  }

  void quit(Map<String, Object> p, Reply r) {
    r.ok(kv());
    arbiter.shutdown();
  }
}
