package io.jcircus.server.arbiter;

import java.util.LinkedHashMap;
import java.util.Map;

/** Event payloads as Circus sends them: ordered dicts, times in seconds since the epoch as floats. */
final class Payload {
  private Payload() {}

  /** An ordered payload from key, value, key, value… */
  static Map<String, Object> kv(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  static double now() {
    return System.currentTimeMillis() / 1000.0;
  }
}
