package io.jcircus.server.config;

import java.util.ArrayList;
import java.util.List;

/** Python's {@code shlex.split} in POSIX mode (no comments), which Circus applies to cmd and args. */
public final class Shlex {
  private Shlex() {}

  public static List<String> split(String s) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean inToken = false;
    int i = 0;
    int n = s.length();
    while (i < n) {
      char c = s.charAt(i);
      if (Character.isWhitespace(c)) {
        if (inToken) {
          out.add(cur.toString());
          cur.setLength(0);
          inToken = false;
        }
        i++;
      } else if (c == '\'') {
        int end = s.indexOf('\'', i + 1);
        if (end < 0) {
          throw new IllegalArgumentException("no closing quotation in: " + s);
        }
        cur.append(s, i + 1, end);
        inToken = true;
        i = end + 1;
      } else if (c == '"') {
        i++;
        boolean closed = false;
        while (i < n) {
          char d = s.charAt(i);
          if (d == '"') {
            closed = true;
            i++;
            break;
          }
          if (d == '\\' && i + 1 < n && (s.charAt(i + 1) == '"' || s.charAt(i + 1) == '\\')) {
            cur.append(s.charAt(i + 1));
            i += 2;
          } else {
            cur.append(d);
            i++;
          }
        }
        if (!closed) {
          throw new IllegalArgumentException("no closing quotation in: " + s);
        }
        inToken = true;
      } else if (c == '\\') {
        if (i + 1 >= n) {
          throw new IllegalArgumentException("no escaped character in: " + s);
        }
        cur.append(s.charAt(i + 1));
        inToken = true;
        i += 2;
      } else {
        cur.append(c);
        inToken = true;
        i++;
      }
    }
    if (inToken) {
      out.add(cur.toString());
    }
    return out;
  }

  /** Python's {@code shlex.quote}. */
  public static String quote(String s) {
    if (s.isEmpty()) {
      return "''";
    }
    boolean safe = true;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!(Character.isLetterOrDigit(c) || "@%+=:,./-_".indexOf(c) >= 0)) {
        safe = false;
        break;
      }
    }
    return safe ? s : "'" + s.replace("'", "'\"'\"'") + "'";
  }
}
