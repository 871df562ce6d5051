package io.jcircus.server.config;

import java.util.Map;

/**
 * An output stream: {@code class} is one of Circus's built-in stream classes, {@code options} the rest of
 * the {@code stdout_stream.*} keys with their values already checked.
 */
public record StreamConfig(String streamClass, Map<String, String> options) {
  public String get(String key, String def) {
    return options.getOrDefault(key, def);
  }
}
