package io.jcircus.server.plugin;

import io.jcircus.plugin.Plugin;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Circus's {@code circus.plugins.statsd.StatsdEmitter} ({@code full = false}): a counter
 * {@code circus.APP.watcher.WATCHER.EVENT} per event; and {@code circus.plugins.statsd.FullStats}
 * ({@code full = true}): every {@code loop_rate} seconds (60) the {@code stats} command's figures as gauges
 * {@code circus.APP.watcher._stats.WATCHER.{watchers_num,cpu_max,cpu_sum,mem_max,mem_sum}}. Options as Circus's:
 * {@code application_name} (app), {@code host} (localhost), {@code port} (8125), {@code sample_rate} (1.0).
 */
final class Statsd implements Plugin {
  private final boolean full;
  private StatsdClient statsd;
  private Context ctx;

  Statsd(boolean full) {
    this.full = full;
  }

  @Override
  public void init(Context context) throws Exception {
    ctx = context;
    statsd = new StatsdClient(context.options(),
        "circus." + context.options().getOrDefault("application_name", "app") + ".watcher");
    if (full) {
      double loopRate = Double.parseDouble(context.options().getOrDefault("loop_rate", "60").strip());
      context.every(Duration.ofMillis((long) (loopRate * 1000)), this::lookAfter);
    }
  }

  @Override
  public void event(String watcher, String event, Map<String, Object> payload) {
    if (!full) {
      statsd.increment(watcher + "." + event);
    }
  }

  private void lookAfter() {
    Map<String, Object> info;
    try {
      info = ctx.call("stats", Map.of(), Duration.ofSeconds(10));
    } catch (CommandException e) {
      statsd.increment("_stats.error");
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    if (!(info.get("infos") instanceof Map<?, ?> infos)) {
      return;
    }
    for (Map.Entry<?, ?> w : infos.entrySet()) {
      String name = String.valueOf(w.getKey());
      if (name.startsWith("plugin:") || !(w.getValue() instanceof Map<?, ?> procs)) {
        continue;
      }
      List<Double> cpus = new ArrayList<>();
      List<Double> mems = new ArrayList<>();
      for (Map.Entry<?, ?> p : procs.entrySet()) {
        if (p.getValue() instanceof Map<?, ?> figures) {
          cpus.add(number(figures.get("cpu")));
          mems.add(number(figures.get("mem")));
        } else if ("spawn_count".equals(p.getKey())) {
          statsd.gauge("_stats." + name + ".spawn_count", p.getValue());
        }
      }
      statsd.gauge("_stats." + name + ".watchers_num", cpus.size());
      if (!cpus.isEmpty()) {
        statsd.gauge("_stats." + name + ".cpu_max", Collections.max(cpus));
        statsd.gauge("_stats." + name + ".cpu_sum", cpus.stream().mapToDouble(Double::doubleValue).sum());
        statsd.gauge("_stats." + name + ".mem_max", Collections.max(mems));
        statsd.gauge("_stats." + name + ".mem_sum", mems.stream().mapToDouble(Double::doubleValue).sum());
      }
    }
  }

  private static double number(Object o) {
    return o instanceof Number n ? n.doubleValue() : 0;
  }

  @Override
  public void stop() throws Exception {
    if (statsd != null) {
      statsd.close();
    }
  }
}
