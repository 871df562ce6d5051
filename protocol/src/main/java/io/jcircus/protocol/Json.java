package io.jcircus.protocol;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON Circus speaks: parsed into maps (insertion-ordered), lists, strings, longs, doubles, booleans and
 * null; written the way Python's {@code json.dumps} writes it ({@code ", "} and {@code ": "} separators,
 * non-ASCII as {@code \\uXXXX}, floats as Python's repr: {@link PyFloat}), so replies look exactly like Circus's.
 * One codec for circusd, its clients and the tests (there were two copies, already drifting apart).
 */
public final class Json {
  private final String s;
  private int i;

  private Json(String s) {
    this.s = s;
  }

  /** @throws IllegalArgumentException if {@code text} is not one JSON value */
  public static Object parse(String text) {
    Json p = new Json(text);
    p.ws();
    Object v = p.value(0);
    p.ws();
    if (p.i != p.s.length()) {
      throw p.error("trailing characters");
    }
    return v;
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException(what + " at offset " + i);
  }

  private void ws() {
    while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t' || s.charAt(i) == '\n' || s.charAt(i) == '\r')) {
      i++;
    }
  }

  private Object value(int depth) {
    if (depth > 200) {
      throw error("too deeply nested");
    }
    if (i >= s.length()) {
      throw error("unexpected end");
    }
    char c = s.charAt(i);
    switch (c) {
      case '{': {
        i++;
        Map<String, Object> m = new LinkedHashMap<>();
        ws();
        if (peek('}')) {
          return m;
        }
        while (true) {
          ws();
          if (i >= s.length() || s.charAt(i) != '"') {
            throw error("expected a string key");
          }
          String k = string();
          ws();
          expect(':');
          ws();
          m.put(k, value(depth + 1));
          ws();
          if (peek('}')) {
            return m;
          }
          expect(',');
        }
      }
      case '[': {
        i++;
        List<Object> l = new ArrayList<>();
        ws();
        if (peek(']')) {
          return l;
        }
        while (true) {
          ws();
          l.add(value(depth + 1));
          ws();
          if (peek(']')) {
            return l;
          }
          expect(',');
        }
      }
      case '"':
        return string();
      case 't':
        word("true");
        return Boolean.TRUE;
      case 'f':
        word("false");
        return Boolean.FALSE;
      case 'n':
        word("null");
        return null;
      default:
        return number();
    }
  }

  private boolean peek(char c) {
    if (i < s.length() && s.charAt(i) == c) {
      i++;
      return true;
    }
    return false;
  }

  private void expect(char c) {
    if (!peek(c)) {
      throw error("expected '" + c + "'");
    }
  }

  private void word(String w) {
    if (!s.startsWith(w, i)) {
      throw error("invalid literal");
    }
    i += w.length();
  }

  private String string() {
    i++;
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (i >= s.length()) {
        throw error("unterminated string");
      }
      char c = s.charAt(i++);
      if (c == '"') {
        return sb.toString();
      }
      if (c == '\\') {
        if (i >= s.length()) {
          throw error("bad escape");
        }
        char e = s.charAt(i++);
        switch (e) {
          case '"': case '\\': case '/': sb.append(e); break;
          case 'b': sb.append('\b'); break;
          case 'f': sb.append('\f'); break;
          case 'n': sb.append('\n'); break;
          case 'r': sb.append('\r'); break;
          case 't': sb.append('\t'); break;
          case 'u':
            if (i + 4 > s.length()) {
              throw error("bad \\u escape");
            }
            try {
              sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
            } catch (NumberFormatException ex) {
              throw error("bad \\u escape");
            }
            i += 4;
            break;
          default:
            throw error("bad escape");
        }
      } else if (c < 0x20) {
        throw error("control character in string");
      } else {
        sb.append(c);
      }
    }
  }

  private Object number() {
    int start = i;
    if (peek('-')) {
      // sign
    }
    while (i < s.length() && "0123456789.eE+-".indexOf(s.charAt(i)) >= 0) {
      i++;
    }
    String t = s.substring(start, i);
    if (t.isEmpty() || t.equals("-")) {
      throw error("unexpected character");
    }
    try {
      if (t.contains(".") || t.contains("e") || t.contains("E")) {
        return Double.parseDouble(t);
      }
      return Long.parseLong(t);
    } catch (NumberFormatException e) {
      try {
        return new BigDecimal(t).doubleValue();
      } catch (NumberFormatException e2) {
        throw error("bad number");
      }
    }
  }

  // ------------------------------------------------------------------ writing

  /** Indented by two, keys sorted: what {@code circusctl --json --prettify} prints. */
  public static String pretty(Object v) {
    StringBuilder sb = new StringBuilder();
    pretty(sb, v, 0);
    return sb.toString();
  }

  private static void pretty(StringBuilder sb, Object v, int depth) {
    if (v instanceof Map<?, ?> m && !m.isEmpty()) {
      sb.append("{\n");
      java.util.TreeMap<String, Object> sorted = new java.util.TreeMap<>();
      m.forEach((k, x) -> sorted.put(String.valueOf(k), x));
      int n = 0;
      for (Map.Entry<String, Object> e : sorted.entrySet()) {
        sb.append("  ".repeat(depth + 1));
        quote(sb, e.getKey());
        sb.append(": ");
        pretty(sb, e.getValue(), depth + 1);
        sb.append(++n < sorted.size() ? ",\n" : "\n");
      }
      sb.append("  ".repeat(depth)).append('}');
    } else if (v instanceof Collection<?> c && !c.isEmpty()) {
      sb.append("[\n");
      int n = 0;
      for (Object o : c) {
        sb.append("  ".repeat(depth + 1));
        pretty(sb, o, depth + 1);
        sb.append(++n < c.size() ? ",\n" : "\n");
      }
      sb.append("  ".repeat(depth)).append(']');
    } else {
      write(sb, v);
    }
  }

  public static String write(Object v) {
    StringBuilder sb = new StringBuilder();
    write(sb, v);
    return sb.toString();
  }

  private static void write(StringBuilder sb, Object v) {
    if (v == null) {
      sb.append("null");
    } else if (v instanceof String str) {
      quote(sb, str);
    } else if (v instanceof Boolean b) {
      sb.append(b ? "true" : "false");
    } else if (v instanceof Double || v instanceof Float) {
      number(sb, ((Number) v).doubleValue());
    } else if (v instanceof Number n) {
      sb.append(n.longValue());
    } else if (v instanceof Map<?, ?> m) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (!first) {
          sb.append(", ");
        }
        first = false;
        quote(sb, String.valueOf(e.getKey()));
        sb.append(": ");
        write(sb, e.getValue());
      }
      sb.append('}');
    } else if (v instanceof Collection<?> c) {
      sb.append('[');
      boolean first = true;
      for (Object o : c) {
        if (!first) {
          sb.append(", ");
        }
        first = false;
        write(sb, o);
      }
      sb.append(']');
    } else {
      quote(sb, v.toString());
    }
  }

  /** Appends {@code d} as Python's json.dumps writes a float. */
  public static void number(StringBuilder sb, double d) {
    PyFloat.append(sb, d);
  }

  /** Appends {@code s} as Python's json.dumps writes a string (ensure_ascii: every non-ASCII char as \\uXXXX). */
  public static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        case '\b': sb.append("\\b"); break;
        case '\f': sb.append("\\f"); break;
        default:
          if (c < 0x20 || c > 0x7e) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }
}
