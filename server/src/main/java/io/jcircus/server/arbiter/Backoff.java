package io.jcircus.server.arbiter;

import io.jcircus.server.config.WatcherConfig;

/**
 * The crash-loop backoff of one watcher: a process that lived less than backoff_min_uptime died young, and each
 * young death (or failed spawn) in a row doubles (backoff_factor) the wait before the next spawn, from
 * backoff_initial up to backoff_max; max_retry bounds failed spawns in a row. Pure bookkeeping, no loop.
 */
final class Backoff {
  private int youngDeaths;
  private int spawnFailures;
  private long nextSpawnNanos;

  /** A fresh start: no history. */
  void reset() {
    youngDeaths = 0;
    spawnFailures = 0;
    nextSpawnNanos = 0;
  }

  /** Nanoseconds to wait before the next spawn at {@code now}; 0 or less: spawn. */
  long remaining(long now) {
    return nextSpawnNanos - now;
  }

  /** A process exited unasked after {@code uptime} seconds; returns the wait before the next spawn. */
  long exited(double uptime, WatcherConfig cfg) {
    youngDeaths = uptime < cfg.backoffMinUptime ? youngDeaths + 1 : 0;
    return arm(cfg);
  }

  /** A spawn failed; returns the wait before the next attempt. */
  long spawnFailed(WatcherConfig cfg) {
    spawnFailures++;
    youngDeaths++;
    return arm(cfg);
  }

  void spawned() {
    spawnFailures = 0;
  }

  /** More failed spawns in a row than max_retry allows (-1: no limit). */
  boolean exhausted(WatcherConfig cfg) {
    return cfg.maxRetry >= 0 && spawnFailures > cfg.maxRetry;
  }

  int youngDeaths() {
    return youngDeaths;
  }

  int spawnFailures() {
    return spawnFailures;
  }

  /** The wait after {@code youngDeaths} quick deaths in a row. */
  static long delayNanos(int youngDeaths, WatcherConfig cfg) {
    if (youngDeaths <= 0) {
      return 0;
    }
    double d = cfg.backoffInitial * Math.pow(cfg.backoffFactor, Math.min(youngDeaths - 1, 60));
    return (long) (Math.min(d, cfg.backoffMax) * 1e9);
  }

  private long arm(WatcherConfig cfg) {
    long delay = delayNanos(youngDeaths, cfg);
    nextSpawnNanos = System.nanoTime() + delay;
    return delay;
  }
}
