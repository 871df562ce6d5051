package io.jcircus.server.command;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.Watcher;
import io.jcircus.server.config.ConfigLoader;
import io.jcircus.server.internal.posix.Signals;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * What every family of commands shares: the arbiter, typed reading of properties (with Circus's messages), how
 * watchers are named and matched, and replying at once or (with {@code waiting}) when the work is done. Runs on
 * the arbiter loop.
 */
abstract class Family {
  final Arbiter arbiter;

  Family(Arbiter arbiter) {
    this.arbiter = arbiter;
  }

  /** Puts this family's commands in {@code r}. */
  abstract void register(Registry r);

  static String required(Map<String, Object> p, String key) throws CommandError {
    Object v = p.get(key);
    if (v == null) {
      throw CommandError.message("message invalid '" + key + "' is missing");
    }
    return v.toString();
  }

  static boolean bool(Map<String, Object> p, String key, boolean def) throws CommandError {
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
  static Integer integer(Map<String, Object> p, String key) throws CommandError {
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

  static Double number(Map<String, Object> p, String key) throws CommandError {
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

  static int signum(Object v) throws CommandError {
    try {
      return Signals.parse(v.toString());
    } catch (IllegalArgumentException e) {
      throw CommandError.message(e.getMessage());
    }
  }

  Watcher watcher(Map<String, Object> p) throws CommandError {
    String name = required(p, "name");
    Watcher w = arbiter.watcher(name);
    if (w == null) {
      throw CommandError.message("program " + name + " not found");
    }
    return w;
  }

  /** A watcher that takes commands which change it: not one that {@code rm} took. */
  Watcher changeable(Map<String, Object> p) throws CommandError {
    Watcher w = watcher(p);
    if (w.isRemoved()) {
      throw CommandError.message("watcher '" + w.name() + "' is being removed (" + w.pids().size()
          + " process(es) still stopping)");
    }
    return w;
  }

  /** Every watcher not taken by {@code rm}. */
  List<Watcher> current() {
    List<Watcher> out = arbiter.watchers();
    out.removeIf(Watcher::isRemoved);
    return out;
  }

  /** simple (exact, case-insensitive), glob (default) or regex (anchored at the start). */
  List<Watcher> match(String name, String how) throws CommandError {
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
          ok = io.jcircus.server.config.Names.fnmatch(n, wn);
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
  static void reply(Map<String, Object> props, Future<?> f, Reply reply,
      java.util.function.Supplier<Map<String, Object>> waited) throws CommandError {
    if (!bool(props, "waiting", false)) {
      reply.ok(kv());
      return;
    }
    f.addListener(x -> {
      if (x.isSuccess()) {
        reply.ok(waited.get());
      } else {
        // Circus answers a failed waiting future with errno 6; the reason says what failed.
        String why = x.cause() == null ? "server error" : String.valueOf(x.cause().getMessage());
        reply.error(new CommandError(CommandError.BAD_MSG_DATA_ERROR, why));
      }
    });
  }

  /** Runs {@code op} on every watcher (each queued behind that watcher's earlier operations); completes when all have. */
  Future<Void> forEach(List<Watcher> targets, java.util.function.Function<Watcher, Future<Void>> op) {
    return forEach(targets, false, op);
  }

  /** As {@link #forEach(List, java.util.function.Function)}; {@code preempt}: ahead of what is queued (stop). */
  Future<Void> forEach(List<Watcher> targets, boolean preempt,
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

  static Map<String, Object> kv(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  /** A whole number from JSON, as Circus takes it: an integer, not a string or a fraction. */
  static long whole(String k, Object v) throws CommandError {
    if (!(v instanceof Long || v instanceof Integer)) {
      throw CommandError.message("'" + k + "' isn't an integer");
    }
    return ((Number) v).longValue();
  }

  /** A number of seconds from JSON: an integer or a finite fraction. */
  static double seconds(String k, Object v) throws CommandError {
    if (!(v instanceof Number n) || Double.isInfinite(n.doubleValue())) {
      throw CommandError.message("'" + k + "' isn't a number");
    }
    return n.doubleValue();
  }
}
