package io.jcircus.server.plugin;

import io.jcircus.plugin.Plugin;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Circus's {@code circus.plugins.flapping.Flapping}, built in: when a watcher's processes are reaped
 * {@code attempts} times within {@code window} seconds (plus circusd's {@code check_delay}, as Circus counts it),
 * the watcher is stopped and started again after {@code retry_in} seconds; after {@code max_retry} such retries
 * (−1: no limit) it stays stopped. Every option can be set per watcher as {@code flapping.OPTION} (re-read when
 * the watcher is {@code updated}). Unlike Circus (its #809), a process circusd or a user stopped is not counted:
 * only reaps circusd did not ask for ({@code commanded} false in the reap event).
 */
final class Flapping implements Plugin {
  private static final Logger LOG = LoggerFactory.getLogger(Flapping.class);
  private static final Duration CALL = Duration.ofSeconds(5);

  private Context ctx;
  private final double checkDelay;
  private Map<String, String> defaults;
  private final Map<String, List<Double>> timelines = new HashMap<>();
  private final Map<String, Integer> tries = new HashMap<>();
  private final Map<String, Map<String, String>> perWatcher = new HashMap<>();
  private final Map<String, Cancellable> timers = new HashMap<>();

  Flapping(double checkDelay) {
    this.checkDelay = checkDelay;
  }

  @Override
  public void init(Context context) {
    this.ctx = context;
    this.defaults = context.options();
  }

  @Override
  public void event(String watcher, String event, Map<String, Object> payload) throws Exception {
    if (event.equals("updated")) {
      perWatcher.put(watcher, overrides(watcher));
    } else if (event.equals("reap") && !Boolean.TRUE.equals(payload.get("commanded"))) {
      timelines.computeIfAbsent(watcher, w -> new ArrayList<>()).add(System.currentTimeMillis() / 1000.0);
      check(watcher);
    }
  }

  /** The watcher's {@code flapping.*} options. */
  private Map<String, String> overrides(String watcher) throws InterruptedException {
    Map<String, String> m = new HashMap<>();
    try {
      Map<String, Object> r = ctx.call("options", Map.of("name", watcher), CALL);
      if (r.get("options") instanceof Map<?, ?> o) {
        for (Map.Entry<?, ?> e : o.entrySet()) {
          String k = String.valueOf(e.getKey());
          if (k.startsWith("flapping.") && e.getValue() != null) {
            m.put(k.substring("flapping.".length()), String.valueOf(e.getValue()));
          }
        }
      }
    } catch (CommandException e) {
      LOG.debug("flapping: options of {}: {}", watcher, e.getMessage());
    }
    return m;
  }

  private String opt(String watcher, String key, String fallback) {
    Map<String, String> w = perWatcher.get(watcher);
    if (w != null && w.containsKey(key)) {
      return w.get(key);
    }
    return defaults.getOrDefault(key, fallback);
  }

  private void check(String watcher) throws InterruptedException {
    if (!perWatcher.containsKey(watcher)) {
      perWatcher.put(watcher, overrides(watcher));
    }
    if (!java.util.Set.of("1", "yes", "true", "on").contains(opt(watcher, "active", "true").strip()
        .toLowerCase(java.util.Locale.ROOT))) {
      return;
    }
    List<Double> timeline = timelines.get(watcher);
    int attempts = Integer.parseInt(opt(watcher, "attempts", "2").strip());
    if (timeline.size() < attempts) {
      return;
    }
    double window = Double.parseDouble(opt(watcher, "window", "1").strip());
    double retryIn = Double.parseDouble(opt(watcher, "retry_in", "7").strip());
    int maxRetry = Integer.parseInt(opt(watcher, "max_retry", "5").strip());
    double duration = timeline.get(timeline.size() - 1) - timeline.get(0) - checkDelay;
    timeline.clear();
    int tried = tries.getOrDefault(watcher, 0);
    if (duration > window) {
      tries.put(watcher, 0);
      return;
    }
    if (maxRetry < 0 || tried < maxRetry) {
      LOG.info("{}: flapping detected: retry in {} s (retry {} of {})", watcher, retryIn, tried + 1,
          maxRetry < 0 ? "unlimited" : maxRetry);
      ctx.cast("stop", Map.of("name", watcher));
      tries.put(watcher, tried + 1);
      Cancellable old = timers.put(watcher, ctx.after(Duration.ofMillis((long) (retryIn * 1000)),
          () -> ctx.cast("start", Map.of("name", watcher))));
      if (old != null) {
        old.cancel();
      }
    } else {
      LOG.warn("{}: flapping detected: max retry limit ({}) reached, the watcher stays stopped", watcher, maxRetry);
      tries.put(watcher, 0);
      ctx.cast("stop", Map.of("name", watcher));
    }
  }

  @Override
  public void stop() {
    timers.values().forEach(Cancellable::cancel);
  }
}
