package io.jcircus.server.plugin;

import io.jcircus.plugin.Plugin;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Circus's {@code circus.plugins.resource_watcher.ResourceWatcher}, per process: every {@code loop_rate} seconds
 * (60) the {@code stats} of {@code watcher} (Circus's deprecated {@code service} too); a process over
 * {@code max_cpu} (90 %) or {@code max_mem} (90 % of the machine, or an amount: {@code 250M}, {@code 1G}), under
 * {@code min_cpu}/{@code min_mem} (off by default), or over {@code health_threshold} (75: the mean of its CPU % and
 * memory %) more than {@code max_count} (3) times in a row is replaced: {@code kill} with the watcher's stop signal
 * and graceful timeout, its successor spawned first when the watcher serves a socket (so the socket never has one
 * worker fewer; connections wait in circusd's queue, none is refused). Circus restarted the whole watcher instead.
 */
final class ResourceWatcher implements Plugin {
  private static final Logger LOG = LoggerFactory.getLogger(ResourceWatcher.class);

  private Context ctx;
  private String watcher;
  private Double maxCpu;
  private Double minCpu;
  private Limit maxMem;
  private Limit minMem;
  private Double health;
  private int maxCount;
  private final Map<String, Integer> strikes = new HashMap<>();

  /** A memory bound: a percent of the machine's memory, or bytes. */
  private record Limit(double value, boolean bytes) {
    static Limit parse(String s) {
      if (s == null || s.isBlank() || s.strip().equalsIgnoreCase("none")) {
        return null;
      }
      String v = s.strip().toUpperCase(Locale.ROOT);
      char unit = v.charAt(v.length() - 1);
      long mult = switch (unit) {
        case 'K' -> 1L << 10;
        case 'M' -> 1L << 20;
        case 'G' -> 1L << 30;
        default -> 0;
      };
      if (mult == 0) {
        return new Limit(Double.parseDouble(v.replace("%", "")), false);
      }
      return new Limit(Double.parseDouble(v.substring(0, v.length() - 1)) * mult, true);
    }

    boolean over(double memPercent, double rss) {
      return bytes ? rss > value : memPercent > value;
    }

    boolean under(double memPercent, double rss) {
      return bytes ? rss < value : memPercent < value;
    }
  }

  /** Circus's bytes2human back to bytes: "1000B", "2.00K", "10.00M"; 0 if unreadable. */
  static double bytes(Object human) {
    if (!(human instanceof String h) || h.isEmpty()) {
      return 0;
    }
    int unit = "BKMGTPE".indexOf(h.charAt(h.length() - 1));
    try {
      return unit < 0 ? Double.parseDouble(h) : Double.parseDouble(h.substring(0, h.length() - 1)) * (1L << (10 * unit));
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  private static Double number(Map<String, String> o, String key, String def) {
    String v = o.getOrDefault(key, def);
    return v == null || v.isBlank() || v.strip().equalsIgnoreCase("none") ? null : Double.parseDouble(v.strip());
  }

  @Override
  public void init(Context context) {
    ctx = context;
    Map<String, String> o = context.options();
    watcher = o.getOrDefault("watcher", o.get("service"));
    if (watcher == null || watcher.isBlank()) {
      throw new IllegalArgumentException("resource_watcher needs 'watcher', the watcher to look after");
    }
    maxCpu = number(o, "max_cpu", "90");
    minCpu = number(o, "min_cpu", null);
    maxMem = Limit.parse(o.getOrDefault("max_mem", "90"));
    minMem = Limit.parse(o.get("min_mem"));
    health = number(o, "health_threshold", "75");
    maxCount = (int) (double) number(o, "max_count", "3");
    double loopRate = number(o, "loop_rate", "60");
    context.every(Duration.ofMillis((long) (loopRate * 1000)), this::lookAfter);
  }

  private void lookAfter() {
    Map<String, Object> r;
    try {
      r = ctx.call("stats", Map.of("name", watcher), Duration.ofSeconds(10));
    } catch (CommandException e) {
      LOG.debug("resource_watcher: stats of {}: {}", watcher, e.getMessage());
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    if (!(r.get("info") instanceof Map<?, ?> info)) {
      return;
    }
    Set<String> seen = new HashSet<>();
    for (Map.Entry<?, ?> e : info.entrySet()) {
      if (!(e.getValue() instanceof Map<?, ?> p) || !(p.get("cpu") instanceof Number)) {
        continue;
      }
      String pid = String.valueOf(e.getKey());
      seen.add(pid);
      double cpu = ((Number) p.get("cpu")).doubleValue();
      double mem = p.get("mem") instanceof Number n ? n.doubleValue() : 0;
      double rss = p.get("rss") instanceof Number n ? n.doubleValue() : bytes(p.get("mem_info1"));
      String why = null;
      if (maxCpu != null && cpu > maxCpu) {
        why = "CPU " + cpu + " % over max_cpu " + maxCpu;
      } else if (minCpu != null && cpu < minCpu) {
        why = "CPU " + cpu + " % under min_cpu " + minCpu;
      } else if (maxMem != null && maxMem.over(mem, rss)) {
        why = "memory " + (maxMem.bytes() ? (long) rss + " bytes" : mem + " %") + " over max_mem";
      } else if (minMem != null && minMem.under(mem, rss)) {
        why = "memory under min_mem";
      } else if (health != null && (cpu + mem) / 2 > health) {
        why = "health " + (cpu + mem) / 2 + " over health_threshold " + health;
      }
      if (why == null) {
        strikes.remove(pid);
        continue;
      }
      int n = strikes.merge(pid, 1, Integer::sum);
      if (n > maxCount) {
        strikes.remove(pid);
        LOG.info("resource_watcher: {} pid {}: {} ({} times in a row): replacing it", watcher, pid, why, n);
        ctx.cast("kill", Map.of("name", watcher, "pid", Integer.parseInt(pid), "replace", true));
      }
    }
    strikes.keySet().retainAll(seen);
  }
}
