package io.jcircus.protocol;

/**
 * The topics circusd publishes, as Circus names them: events on the pubsub endpoint, stats on the stats endpoint,
 * output chunks on the output endpoint. A subscriber filters by prefix, so each has a prefix form too.
 */
public final class Topics {
  private Topics() {}

  /** {@code watcher.<name>.<event>} (start, stop, spawn, reap, kill, reload, add, remove, updated). */
  public static String event(String watcher, String event) {
    return "watcher." + watcher + "." + event;
  }

  /** The prefix of every stats topic. */
  public static final String STATS = "stat.";

  /** {@code stat.<name>}: a watcher's aggregate; {@code stat.circus}: circusd itself. */
  public static String stats(String watcher) {
    return STATS + watcher;
  }

  /** {@code stat.<name>.<pid>}: one process. */
  public static String stats(String watcher, Object pid) {
    return STATS + watcher + "." + pid;
  }

  /** {@code output.<name>.<pid>.<stdout|stderr>}. */
  public static String output(String watcher, int pid, String stream) {
    return "output." + watcher + "." + pid + "." + stream;
  }

  /** The subscription to a watcher's output, or to one of its processes' ({@code pid} null: every process). */
  public static String outputPrefix(String watcher, Integer pid) {
    return "output." + watcher + "." + (pid == null ? "" : pid + ".");
  }
}
