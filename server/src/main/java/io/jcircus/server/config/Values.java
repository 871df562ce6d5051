package io.jcircus.server.config;

import io.jcircus.protocol.ConfigException;
import io.jcircus.protocol.IniFile;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/** Typed access to one section's values, with errors that point at the line. */
final class Values {
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
