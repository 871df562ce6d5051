package io.jcircus.server.config;

import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Circus's {@code $(circus.X)} and {@code ((circus.X))} forms: case-insensitive, key characters
 * {@code [\w.-]}, unknown keys left as written.
 */
public final class Substitution {
  private static final Pattern CIRCUS =
      Pattern.compile("\\$\\(circus\\.([\\w.-]+)\\)|\\(\\(circus\\.([\\w.-]+)\\)\\)", Pattern.CASE_INSENSITIVE);
  private static final Pattern UPPER_VAR = Pattern.compile("\\$([A-Z][A-Z0-9_]*)");

  private Substitution() {}

  /**
   * Replaces every {@code $(circus.key)}; {@code lookup} gets the key lower-cased except for the part after
   * {@code env.}, and returns null to leave the pattern untouched.
   */
  public static String expand(String value, Function<String, String> lookup) {
    if (value == null || value.toLowerCase(Locale.ROOT).indexOf("circus") < 0) {
      return value;
    }
    Matcher m = CIRCUS.matcher(value);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String key = m.group(1) != null ? m.group(1) : m.group(2);
      String rep = lookup.apply(normalise(key));
      m.appendReplacement(sb, Matcher.quoteReplacement(rep == null ? m.group() : rep));
    }
    m.appendTail(sb);
    return sb.toString();
  }

  private static String normalise(String key) {
    String lower = key.toLowerCase(Locale.ROOT);
    if (lower.startsWith("env.")) {
      return "env." + key.substring(4);
    }
    return lower;
  }

  /** Looks an environment variable up exactly, then upper-cased, then lower-cased. */
  public static String env(Map<String, String> env, String name) {
    String v = env.get(name);
    if (v == null) {
      v = env.get(name.toUpperCase(Locale.ROOT));
    }
    if (v == null) {
      v = env.get(name.toLowerCase(Locale.ROOT));
    }
    return v;
  }

  /** Expands only {@code $(circus.env.X)} from {@code env}. */
  public static String expandEnv(String value, Map<String, String> env) {
    return expand(value, k -> k.startsWith("env.") ? env(env, k.substring(4)) : null);
  }

  /** Circus's {@code [env]} values: {@code $NAME} (upper case only) from circusd's environment, unset → "". */
  public static String expandDollarVars(String value, Map<String, String> environ) {
    if (value.indexOf('$') < 0) {
      return value;
    }
    Matcher m = UPPER_VAR.matcher(value);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String v = environ.get(m.group(1));
      m.appendReplacement(sb, Matcher.quoteReplacement(v == null ? "" : v));
    }
    m.appendTail(sb);
    return sb.toString();
  }

  /** Lower-cased names of the sockets a value refers to with {@code $(circus.sockets.NAME)}. */
  public static java.util.Set<String> socketRefs(String value) {
    java.util.Set<String> refs = new java.util.LinkedHashSet<>();
    if (value == null) {
      return refs;
    }
    Matcher m = CIRCUS.matcher(value);
    while (m.find()) {
      String key = (m.group(1) != null ? m.group(1) : m.group(2)).toLowerCase(Locale.ROOT);
      if (key.startsWith("sockets.")) {
        refs.add(key.substring("sockets.".length()));
      }
    }
    return refs;
  }
}
