package io.jcircus.server.config;

import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.util.Locale;

/** Matching and near misses of names: env section patterns, and "did you mean" for keys, sockets and classes. */
public final class Names {
  private Names() {}

  /** fnmatch as Python's: * ? [seq]. */
  public static boolean fnmatch(String pattern, String name) {
    return FileSystems.getDefault().getPathMatcher("glob:" + pattern.replace("/", "\\/")).matches(Path.of(name));
  }

  /** The closest known key within edit distance 2, or null. */
  public static String suggest(String key, Iterable<String> known) {
    String best = null;
    int bestD = 3;
    for (String k : known) {
      int d = distance(key.toLowerCase(Locale.ROOT), k.toLowerCase(Locale.ROOT));
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    return bestD <= (key.length() >= 3 ? 2 : 1) ? best : null;
  }

  public static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int c = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + c);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
