package io.jcircus.cli;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Turning what people type into the JSON Circus expects (the option types of {@code set}/{@code add}), and
 * replies back into the text the Python circusctl prints (Python's {@code str} of each value).
 */
final class Values {
  private Values() { }

  private static final Map<String, Integer> SIGNALS = new LinkedHashMap<>();

  static {
    String[] names = {"HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
        "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"};
    for (int i = 0; i < names.length; i++) {
      SIGNALS.put(names[i], i + 1);
    }
  }

  /** Signal names the shell completes. */
  static List<String> signalNames() {
    return new ArrayList<>(SIGNALS.keySet());
  }

  /** Linux signal number of {@code HUP}, {@code SIGHUP}, {@code 1}; null if unknown. */
  static Integer signum(String s) {
    String t = s.trim().toUpperCase(Locale.ROOT);
    if (t.matches("\\d+")) {
      return Integer.parseInt(t);
    }
    if (t.startsWith("SIG")) {
      t = t.substring(3);
    }
    return SIGNALS.get(t);
  }

  /** The type each settable option has on the wire (Circus's circusctl converts the same way). */
  static Object convert(CommandSpec spec, String key, String value) {
    String k = key.toLowerCase(Locale.ROOT);
    try {
      switch (k) {
        case "numprocesses": case "max_retry": case "max_age": case "max_age_variance": case "priority":
          return Long.parseLong(value.trim());
        case "warmup_delay": case "graceful_timeout": case "retry_in": case "backoff_min_uptime":
        case "backoff_initial": case "backoff_factor": case "backoff_max":
          return Double.parseDouble(value.trim());
        case "send_hup": case "stop_children": case "copy_env": case "copy_path": case "shell": case "respawn":
        case "close_child_stdin": case "close_child_stdout": case "close_child_stderr": case "singleton":
        case "autostart": case "on_demand": case "use_sockets":
          return bool(value);
        case "stop_signal": {
          Integer n = signum(value);
          if (n == null) {
            throw new ParameterException(spec.commandLine(), "stop_signal: unknown signal '" + value + "'");
          }
          return n;
        }
        case "env":
          return pairs(spec, key, value, '=');
        case "hooks":
          return pairs(spec, key, value, ':');
        default:
          if (k.startsWith("rlimit_")) {
            return value.equalsIgnoreCase("none") || value.equalsIgnoreCase("unlimited") ? null
                : Long.parseLong(value.trim());
          }
          return value;
      }
    } catch (NumberFormatException e) {
      throw new ParameterException(spec.commandLine(), key + ": '" + value + "' is not a number");
    }
  }

  private static boolean bool(String v) {
    switch (v.trim().toLowerCase(Locale.ROOT)) {
      case "1": case "yes": case "true": case "on": case "y":
        return true;
      case "0": case "no": case "false": case "off": case "n":
        return false;
      default:
        throw new NumberFormatException(v);
    }
  }

  /** {@code A=1,B=2} (env) or {@code before_start:mod.fn,after_stop:mod.g} (hooks) as an object. */
  private static Map<String, Object> pairs(CommandSpec spec, String key, String value, char sep) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (String part : value.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      int i = part.indexOf(sep);
      if (i <= 0) {
        throw new ParameterException(spec.commandLine(), key + ": expected NAME" + sep + "VALUE[,NAME" + sep
            + "VALUE…], got '" + part + "'");
      }
      m.put(part.substring(0, i).trim(), part.substring(i + 1));
    }
    return m;
  }

  /**
   * Words joined into one command line the daemon's shlex split turns back into the same words: a word with
   * spaces or shell characters is single-quoted (circusctl 0.19 joins with bare spaces and loses them).
   */
  static String commandLine(List<String> words) {
    StringBuilder sb = new StringBuilder();
    for (String w : words) {
      if (sb.length() > 0) {
        sb.append(' ');
      }
      if (!w.isEmpty() && w.matches("[A-Za-z0-9_@%+=:,./-]+")) {
        sb.append(w);
      } else {
        sb.append('\'').append(w.replace("'", "'\"'\"'")).append('\'');
      }
    }
    return sb.toString();
  }

  // ------------------------------------------------------------------ rendering

  /** Python's {@code str()} of a decoded JSON value, as circusctl prints option values (None → empty). */
  static String str(Object v) {
    if (v == null) {
      return "";
    }
    if (v instanceof Boolean b) {
      return b ? "True" : "False";
    }
    if (v instanceof Double d) {
      return pyFloat(d);
    }
    if (v instanceof Map<?, ?> m) {
      // env and other objects: K=V,K2=V2 sorted, as circusctl renders env
      StringBuilder sb = new StringBuilder();
      for (Map.Entry<String, Object> e : sorted(m).entrySet()) {
        if (e.getKey().equals("__name__")) {
          continue;
        }
        if (sb.length() > 0) {
          sb.append(',');
        }
        sb.append(e.getKey()).append('=').append(str(e.getValue()));
      }
      return sb.toString();
    }
    if (v instanceof Collection<?> c) {
      StringBuilder sb = new StringBuilder("[");
      for (Object o : c) {
        if (sb.length() > 1) {
          sb.append(", ");
        }
        sb.append(o instanceof String s ? "'" + s + "'" : str(o));
      }
      return sb.append(']').toString();
    }
    return v.toString();
  }

  static String pyFloat(double d) {
    if (d == Math.rint(d) && Math.abs(d) < 1e16) {
      return (long) d + ".0";
    }
    return Double.toString(d);
  }

  static TreeMap<String, Object> sorted(Map<?, ?> m) {
    TreeMap<String, Object> t = new TreeMap<>();
    m.forEach((k, x) -> t.put(String.valueOf(k), x));
    return t;
  }
}
