package io.jcircus.server.config;

import io.jcircus.server.internal.posix.Signals;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * The one table of {@code [watcher:NAME]} keys: type, default, the rule a value must keep, how {@code options} and
 * {@code get} show it and what a {@code set} of it does. {@link ConfigLoader} reads the file with it, the
 * {@code options}, {@code get}, {@code set} and {@code add} commands use it, and the README's table of watcher
 * keys is checked against it. Keys whose value depends on other keys or on the machine (the command's socket
 * references, {@code uid}/{@code gid}, {@code env}, {@code handoff}, {@code readiness}, streams, rlimits) are
 * typed {@link Type#SPECIAL}: the table names them, {@link ConfigLoader} parses them.
 */
public final class WatcherOptions {
  private WatcherOptions() {}

  /** How a value is written and checked. */
  public enum Type {
    TEXT("text"),
    /** Text where an empty value means unset. */
    OPTIONAL_TEXT("text"),
    INTEGER("integer"),
    SECONDS("seconds"),
    /** A non-negative number that is not a duration (backoff_factor). */
    NUMBER("number"),
    BOOLEAN("boolean"),
    SIGNAL("signal"),
    SPECIAL("see below");

    final String shown;

    Type(String shown) {
      this.shown = shown;
    }
  }

  /** What {@code set} does with a new value. */
  public enum Apply {
    /** The next decision that reads it uses it (a stop, a respawn, a backoff). */
    LIVE("applies at once"),
    /** The watcher resizes to it. */
    RESIZE("resizes"),
    /** The processes are reloaded to take it (if the watcher is active). */
    RELOAD("reloads the processes"),
    /** {@code set} refuses it: change the file and {@code reloadconfig}. */
    FILE_ONLY("not settable");

    public final String shown;

    Apply(String shown) {
      this.shown = shown;
    }
  }

  /**
   * One key. {@code view} renders it for {@code options}/{@code get} (null: not listed, as in Circus);
   * {@code assign} stores a parsed value in a builder; {@code rule} checks (and may normalize) a parsed value,
   * throwing {@link IllegalArgumentException} with the rule as its message.
   */
  public record Option(String key, Type type, String defaultShown, Apply apply,
      Function<WatcherConfig, Object> view, BiConsumer<WatcherConfig.Builder, Object> assign,
      UnaryOperator<Object> rule) {

    /** Parses a value as written in circus.ini (after substitution); null for an empty value: the default. */
    public Object fromIni(String raw) {
      String v = raw.strip();
      if (type == Type.TEXT) {
        return rule.apply(raw);
      }
      if (v.isEmpty()) {
        return null;
      }
      Object parsed = switch (type) {
        case OPTIONAL_TEXT -> raw;
        case INTEGER -> {
          try {
            yield (long) Integer.parseInt(v);
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException("expected an integer; got '" + raw + "'");
          }
        }
        case SECONDS, NUMBER -> {
          double d;
          try {
            d = Double.parseDouble(v);
          } catch (NumberFormatException e) {
            throw new IllegalArgumentException("expected a number" + (type == Type.SECONDS ? " of seconds" : "")
                + "; got '" + raw + "'");
          }
          if (d < 0 || Double.isNaN(d) || Double.isInfinite(d)) {
            throw new IllegalArgumentException("must be a non-negative number; got '" + raw + "'");
          }
          yield d;
        }
        case BOOLEAN -> switch (v.toLowerCase(Locale.ROOT)) {
          case "1", "yes", "true", "on" -> true;
          case "0", "no", "false", "off" -> false;
          default -> throw new IllegalArgumentException(
              "expected a boolean (true/false, yes/no, on/off, 1/0); got '" + raw + "'");
        };
        case SIGNAL -> signal(v);
        default -> throw new IllegalStateException(key + " is parsed by ConfigLoader");
      };
      return rule.apply(parsed);
    }

    /**
     * Checks a value sent by a client ({@code set}) as Circus does: the JSON type must be the key's own (a
     * number is not a string, "3" is not an integer). The message is the reason the client gets.
     */
    public Object fromJson(Object v) {
      Object parsed = switch (type) {
        case TEXT, OPTIONAL_TEXT -> {
          if (!(v instanceof String)) {
            throw new IllegalArgumentException("'" + key + "' isn't a string");
          }
          yield v;
        }
        case INTEGER -> {
          if (!(v instanceof Long || v instanceof Integer)) {
            throw new IllegalArgumentException("'" + key + "' isn't an integer");
          }
          yield ((Number) v).longValue();
        }
        case SECONDS, NUMBER -> {
          if (!(v instanceof Number n) || Double.isInfinite(n.doubleValue()) || Double.isNaN(n.doubleValue())) {
            throw new IllegalArgumentException("'" + key + "' isn't a number");
          }
          yield n.doubleValue();
        }
        case BOOLEAN -> {
          if (!(v instanceof Boolean)) {
            throw new IllegalArgumentException("'" + key + "' isn't a boolean");
          }
          yield v;
        }
        case SIGNAL -> (long) Signals.parse(String.valueOf(v)); // its message names the value
        default -> throw new IllegalArgumentException("unknown key '" + key + "'");
      };
      try {
        return rule.apply(parsed);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("'" + key + "' " + e.getMessage(), e);
      }
    }

    private static Object signal(String v) {
      try {
        return (long) Signals.parse(v);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(e.getMessage() + " (expected a name like TERM or SIGQUIT, or a number)");
      }
    }
  }

  private static final Map<String, Option> TABLE = new LinkedHashMap<>();

  private static void add(String key, Type type, String def, Apply apply, Function<WatcherConfig, Object> view,
      BiConsumer<WatcherConfig.Builder, Object> assign, UnaryOperator<Object> rule) {
    TABLE.put(key, new Option(key, type, def, apply, view, assign, rule));
  }

  private static void special(String key, String def, Apply apply, Function<WatcherConfig, Object> view) {
    add(key, Type.SPECIAL, def, apply, view, (b, v) -> {}, UnaryOperator.identity());
  }

  private static UnaryOperator<Object> ints(java.util.function.LongUnaryOperator limit) {
    return v -> (long) limit.applyAsLong((Long) v);
  }

  private static UnaryOperator<Object> doubles(java.util.function.DoubleUnaryOperator limit) {
    return v -> limit.applyAsDouble((Double) v);
  }

  private static final UnaryOperator<Object> ANY = UnaryOperator.identity();

  private static int i(Object v) {
    return ((Long) v).intValue();
  }

  private static double d(Object v) {
    return (Double) v;
  }

  static {
    add("cmd", Type.TEXT, "(required)", Apply.RELOAD, c -> c.cmd, (b, v) -> b.cmd = (String) v,
        v -> Limits.cmd((String) v));
    add("args", Type.TEXT, "", Apply.RELOAD, c -> c.args, (b, v) -> b.args = (String) v, ANY);
    add("executable", Type.OPTIONAL_TEXT, "", Apply.FILE_ONLY, c -> c.executable,
        (b, v) -> b.executable = (String) v, ANY);
    add("numprocesses", Type.INTEGER, "1", Apply.RESIZE, c -> c.numprocesses, (b, v) -> b.numprocesses = i(v),
        ints(Limits::numprocesses));
    add("warmup_delay", Type.SECONDS, "0", Apply.LIVE, c -> c.warmupDelay, (b, v) -> b.warmupDelay = d(v),
        doubles(Limits::seconds));
    add("working_dir", Type.OPTIONAL_TEXT, "circusd's", Apply.RELOAD,
        c -> c.workingDir == null ? System.getProperty("user.dir") : c.workingDir,
        (b, v) -> b.workingDir = (String) v, ANY);
    add("shell", Type.BOOLEAN, "false", Apply.RELOAD, c -> c.shell, (b, v) -> b.shell = (Boolean) v, ANY);
    add("shell_args", Type.OPTIONAL_TEXT, "", Apply.FILE_ONLY, c -> c.shellArgs, (b, v) -> b.shellArgs = (String) v,
        ANY);
    special("uid", "circusd's", Apply.FILE_ONLY, c -> c.uid < 0 ? null : c.uid);
    special("gid", "uid's group", Apply.FILE_ONLY, c -> c.gid < 0 ? null : c.gid);
    add("copy_env", Type.BOOLEAN, "false", Apply.RELOAD, c -> c.copyEnv, (b, v) -> b.copyEnv = (Boolean) v, ANY);
    add("copy_path", Type.BOOLEAN, "false", Apply.FILE_ONLY, c -> c.copyPath, (b, v) -> b.copyPath = (Boolean) v,
        ANY);
    special("env", "", Apply.RELOAD, c -> new java.util.TreeMap<>(c.env));
    special("virtualenv", "", Apply.FILE_ONLY, null);
    special("virtualenv_py_ver", "", Apply.FILE_ONLY, null);
    add("send_hup", Type.BOOLEAN, "false", Apply.LIVE, c -> c.sendHup, (b, v) -> b.sendHup = (Boolean) v, ANY);
    add("stop_signal", Type.SIGNAL, "SIGTERM", Apply.LIVE, c -> c.stopSignal, (b, v) -> b.stopSignal = i(v), ANY);
    add("stop_children", Type.BOOLEAN, "false", Apply.LIVE, c -> c.stopChildren,
        (b, v) -> b.stopChildren = (Boolean) v, ANY);
    add("graceful_timeout", Type.SECONDS, "30", Apply.LIVE, c -> c.gracefulTimeout,
        (b, v) -> b.gracefulTimeout = d(v), doubles(Limits::seconds));
    add("max_retry", Type.INTEGER, "5", Apply.LIVE, c -> c.maxRetry, (b, v) -> b.maxRetry = i(v),
        ints(Limits::maxRetry));
    add("respawn", Type.BOOLEAN, "true", Apply.LIVE, c -> c.respawn, (b, v) -> b.respawn = (Boolean) v, ANY);
    add("autostart", Type.BOOLEAN, "true", Apply.FILE_ONLY, c -> c.autostart, (b, v) -> b.autostart = (Boolean) v,
        ANY);
    add("priority", Type.INTEGER, "0", Apply.LIVE, c -> c.priority, (b, v) -> b.priority = i(v),
        ints(Limits::priority));
    add("singleton", Type.BOOLEAN, "false", Apply.FILE_ONLY, c -> c.singleton, (b, v) -> b.singleton = (Boolean) v,
        ANY);
    add("use_sockets", Type.BOOLEAN, "false", Apply.FILE_ONLY, c -> c.useSockets,
        (b, v) -> b.useSockets = (Boolean) v, ANY);
    add("on_demand", Type.BOOLEAN, "false", Apply.FILE_ONLY, c -> c.onDemand, (b, v) -> b.onDemand = (Boolean) v,
        ANY);
    add("stdin_socket", Type.OPTIONAL_TEXT, "", Apply.FILE_ONLY, c -> c.stdinSocket,
        (b, v) -> b.stdinSocket = (String) v, ANY);
    add("close_child_stdin", Type.BOOLEAN, "true", Apply.RELOAD, c -> c.closeChildStdin,
        (b, v) -> b.closeChildStdin = (Boolean) v, ANY);
    add("close_child_stdout", Type.BOOLEAN, "false", Apply.RELOAD, c -> c.closeChildStdout,
        (b, v) -> b.closeChildStdout = (Boolean) v, ANY);
    add("close_child_stderr", Type.BOOLEAN, "false", Apply.RELOAD, c -> c.closeChildStderr,
        (b, v) -> b.closeChildStderr = (Boolean) v, ANY);
    add("max_age", Type.INTEGER, "0", Apply.LIVE, c -> c.maxAge, (b, v) -> b.maxAge = i(v),
        ints(Limits::ageSeconds));
    add("max_age_variance", Type.INTEGER, "30", Apply.LIVE, c -> c.maxAgeVariance,
        (b, v) -> b.maxAgeVariance = i(v), ints(Limits::ageSeconds));
    special("check_flapping", "", Apply.FILE_ONLY, null);
    add("backoff_min_uptime", Type.SECONDS, "1", Apply.LIVE, c -> c.backoffMinUptime,
        (b, v) -> b.backoffMinUptime = d(v), doubles(Limits::seconds));
    add("backoff_initial", Type.SECONDS, "0.1", Apply.LIVE, c -> c.backoffInitial,
        (b, v) -> b.backoffInitial = d(v), doubles(Limits::seconds));
    add("backoff_factor", Type.NUMBER, "2", Apply.LIVE, c -> c.backoffFactor, (b, v) -> b.backoffFactor = d(v),
        doubles(Limits::backoffFactor));
    add("backoff_max", Type.SECONDS, "30", Apply.LIVE, c -> c.backoffMax, (b, v) -> b.backoffMax = d(v),
        doubles(Limits::seconds));
    special("handoff", "circus", Apply.FILE_ONLY, c -> c.handoff.name().toLowerCase(Locale.ROOT));
    special("readiness", "warmup", Apply.FILE_ONLY, null);
    add("ready_timeout", Type.SECONDS, "30", Apply.FILE_ONLY, null, (b, v) -> b.readyTimeout = d(v),
        doubles(Limits::seconds));
    // not rendered by options/get (as readiness and ready_timeout): the replies stay those Circus's clients know
    special("liveness", "", Apply.FILE_ONLY, null);
    add("liveness_interval", Type.SECONDS, "10", Apply.FILE_ONLY, null, (b, v) -> b.livenessInterval = d(v),
        doubles(Limits::seconds));
    add("liveness_timeout", Type.SECONDS, "2", Apply.FILE_ONLY, null, (b, v) -> b.livenessTimeout = d(v),
        doubles(Limits::seconds));
    add("liveness_failures", Type.INTEGER, "3", Apply.FILE_ONLY, null, (b, v) -> b.livenessFailures = i(v),
        ints(Limits::failures));
    special("liveness_action", "restart", Apply.FILE_ONLY, null);
    add("own_session", Type.BOOLEAN, "true", Apply.FILE_ONLY, c -> c.ownSession, (b, v) -> b.ownSession = (Boolean) v,
        ANY);
    add("cluster_singleton", Type.BOOLEAN, "false", Apply.FILE_ONLY, null,
        (b, v) -> b.clusterSingleton = (Boolean) v, ANY);
  }

  /** Every key, in the table's order. */
  public static List<Option> all() {
    return Collections.unmodifiableList(new ArrayList<>(TABLE.values()));
  }

  /** The option named {@code key}, or null. */
  public static Option get(String key) {
    return TABLE.get(key);
  }

  /** The keys of the table, for "did you mean" and free-form detection. */
  public static java.util.Set<String> keys() {
    return Collections.unmodifiableSet(TABLE.keySet());
  }

  /** What is wrong with {@code hooks.NAME = val} (the file's rule), or null: for {@code set}. */
  public static String hookProblem(String name, String val) {
    return WatcherReader.hookProblem(name, val);
  }
}
