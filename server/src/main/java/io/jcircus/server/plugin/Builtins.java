package io.jcircus.server.plugin;

import java.util.List;
import java.util.Map;

/**
 * Which {@code [plugin:NAME]} sections circusd runs itself. Read while the configuration is loaded, before logging is
 * set up: no logger here (a class with one would fix the logging's settings before the file's are known).
 */
public final class Builtins {
  private Builtins() {
  }

  /** Circus's class names that jcircus runs in-process. */
  static final Map<String, String> BUILT_IN = Map.of("circus.plugins.flapping.Flapping", "flapping",
      "circus.plugins.watchdog.WatchDog", "watchdog", "circus.plugins.statsd.StatsdEmitter", "statsd",
      "circus.plugins.statsd.FullStats", "full_stats",
      "circus.plugins.resource_watcher.ResourceWatcher", "resource_watcher",
      "circus.plugins.http_observer.HttpObserver", "http_observer",
      "circus.plugins.command_reloader.CommandReloader", "command_reloader");

  /** Keys of a plugin section that configure how it runs, not the plugin itself. */
  static final List<String> HOST_KEYS = List.of("use", "classpath", "priority", "active", "timeout");

  /** Whether {@code [plugin:NAME]} with these keys runs in circusd (else Circus's circus-plugin runs it). */
  public static boolean inProcess(Map<String, String> section) {
    return BUILT_IN.containsKey(section.get("use")) || section.containsKey("classpath");
  }
}
