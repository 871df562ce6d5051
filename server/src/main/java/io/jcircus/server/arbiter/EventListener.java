package io.jcircus.server.arbiter;

import java.util.Map;

/**
 * Receives Circus events ({@code spawn}, {@code reap}, {@code kill}, {@code start}, {@code stop},
 * {@code reload}…) for a watcher, on the arbiter loop. The payload is Circus's, plus extra keys.
 */
@FunctionalInterface
public interface EventListener {
  void event(String watcher, String event, Map<String, Object> payload);
}
