package io.jcircus.cli;

import io.jcircus.protocol.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.jline.terminal.Attributes;
import org.jline.terminal.Size;
import org.jline.terminal.Terminal;
import org.jline.utils.AttributedString;
import org.jline.utils.AttributedStringBuilder;
import org.jline.utils.AttributedStyle;
import org.jline.utils.Display;
import org.jline.utils.InfoCmp;
import org.jline.utils.NonBlockingReader;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * circus-top: a full-screen view of circusd's stats stream ({@code stat.} topics on the stats endpoint, as
 * Circus's circus-top reads them): each watcher with its processes sorted by CPU (or memory, or pid) and an
 * aggregate line, the circus block (circusd itself) and the sockets block (accept queue, backlog). Keys:
 * {@code q} quits, {@code c}/{@code m}/{@code p} sort by CPU/memory/pid, {@code w} cycles a watcher filter,
 * space pauses. Redraws once a second and on resize (JLine's Display repaints only what changed).
 *
 * <pre>circus-top [--endpoint tcp://127.0.0.1:5557] [--process-timeout 3]</pre>
 */
public final class CircusTop {
  private static final int MAX_PIDS = 10;

  /** Latest payload per topic and when it came. */
  private final Map<String, Map<String, Object>> latest = new HashMap<>();
  private final Map<String, Long> seen = new HashMap<>();
  private final String endpoint;
  private final long processTimeoutMs;
  private String sort = "cpu";
  private String filter;
  private boolean paused;

  CircusTop(String endpoint, double processTimeout) {
    this.endpoint = endpoint;
    this.processTimeoutMs = (long) (processTimeout * 1000);
  }

  public static void main(String[] args) throws Exception {
    String endpoint = System.getenv().getOrDefault("CIRCUSTOP_ENDPOINT", "tcp://127.0.0.1:5557");
    double timeout = 3;
    String cluster = null;
    String node = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--endpoint": endpoint = args[++i]; break;
        case "--cluster": cluster = args[++i]; break;
        case "--node": node = args[++i]; break;
        case "--process-timeout": timeout = Double.parseDouble(args[++i]); break;
        case "--version": System.out.println("circus-top " + java.util.Objects.requireNonNullElse(CircusTop.class.getPackage().getImplementationVersion(), "dev") + " (jcircus)"); return;
        case "-h": case "--help":
          System.out.println("usage: circus-top [--endpoint ENDPOINT | --cluster ZK [--node NAME]]"
              + " [--process-timeout SECONDS]\n"
              + "keys: q quit, c/m/p sort by cpu/mem/pid, w cycle watcher filter, space pause");
          return;
        default:
          System.err.println("circus-top: unknown argument " + args[i]);
          System.exit(2);
      }
    }
    if (cluster != null) {
      // a node of the fleet: its stats endpoint from the registry (the first node with one, without --node)
      System.setProperty("org.slf4j.simpleLogger.log.org.apache.zookeeper", "off");
      System.setProperty("org.slf4j.simpleLogger.log.org.apache.curator", "off");
      endpoint = null;
      try {
        for (ClusterFanOut.Node n : ClusterFanOut.select(cluster, node == null ? List.of() : List.of(node), List.of(),
            10_000)) {
          if (n.record().get("endpoints") instanceof Map<?, ?> ep && ep.get("stats") != null) {
            endpoint = ep.get("stats").toString();
            break;
          }
        }
      } catch (java.io.IOException e) {
        System.err.println("circus-top: " + e.getMessage());
        System.exit(1);
      }
      if (endpoint == null) {
        System.err.println("circus-top: no node" + (node == null ? "" : " named " + node) + " of " + cluster
            + " publishes a stats endpoint");
        System.exit(1);
      }
    }
    System.exit(new CircusTop(endpoint, timeout).run());
  }

  int run() throws IOException {
    try (Terminal t = Shell.openTerminal(); ZContext ctx = ControlClient.context()) {
      ZMQ.Socket sub = ctx.createSocket(SocketType.SUB);
      sub.setLinger(0);
      sub.subscribe(io.jcircus.protocol.Topics.STATS.getBytes(StandardCharsets.UTF_8));
      sub.setMaxMsgSize(ControlClient.MAX_MESSAGE);
      sub.connect(IpcShim.connectable(endpoint));
      Attributes saved = t.enterRawMode();
      t.puts(InfoCmp.Capability.enter_ca_mode);
      t.puts(InfoCmp.Capability.cursor_invisible);
      Display display = new Display(t, true);
      Size size = t.getSize();
      display.resize(size.getRows(), size.getColumns());
      t.handle(Terminal.Signal.WINCH, s -> { });
      NonBlockingReader reader = t.reader();
      long nextDraw = 0;
      try {
        while (true) {
          byte[] topic;
          while ((topic = sub.recv(ZMQ.DONTWAIT)) != null) {
            byte[] body = sub.hasReceiveMore() ? sub.recv(0) : new byte[0];
            while (sub.hasReceiveMore()) {
              sub.recv(0);
            }
            if (!paused) {
              accept(new String(topic, StandardCharsets.UTF_8), new String(body, StandardCharsets.UTF_8));
            }
          }
          int c = reader.read(100);
          boolean redraw = false;
          if (c == 'q' || c == 'Q' || c == 3 /* Ctrl-C in raw mode */) {
            return 0;
          } else if (c == 'c' || c == 'm' || c == 'p') {
            sort = c == 'c' ? "cpu" : c == 'm' ? "mem" : "pid";
            redraw = true;
          } else if (c == 'w') {
            filter = nextWatcher();
            redraw = true;
          } else if (c == ' ') {
            paused = !paused;
            redraw = true;
          }
          Size now = t.getSize();
          if (!now.equals(size)) {
            size = now;
            display.clear();
            display.resize(size.getRows(), size.getColumns());
            redraw = true;
          }
          if (redraw) {
            display.clear(); // a full repaint after a key: the whole new layout, not a diff of the old one
          }
          if (redraw || System.currentTimeMillis() >= nextDraw) {
            nextDraw = System.currentTimeMillis() + 1000;
            display.update(screen(size.getColumns(), size.getRows()), 0);
            t.flush();
          }
        }
      } finally {
        t.puts(InfoCmp.Capability.cursor_visible);
        t.puts(InfoCmp.Capability.exit_ca_mode);
        t.setAttributes(saved);
        t.flush();
      }
    }
  }

  private void accept(String topic, String body) {
    Object v;
    try {
      v = Json.parse(body);
    } catch (IllegalArgumentException e) {
      return; // not a stats payload
    }
    if (v instanceof Map<?, ?> m) {
      @SuppressWarnings("unchecked")
      Map<String, Object> payload = (Map<String, Object>) m;
      latest.put(topic, payload);
      seen.put(topic, System.currentTimeMillis());
    }
  }

  private String nextWatcher() {
    List<String> names = new ArrayList<>(watchers().keySet());
    names.remove("circus");
    names.remove("sockets");
    if (names.isEmpty()) {
      return null;
    }
    int i = filter == null ? 0 : names.indexOf(filter) + 1;
    return i >= names.size() ? null : names.get(i);
  }

  /** Watcher name → its per-pid payloads still fresh (within the process timeout). */
  private Map<String, List<Map<String, Object>>> watchers() {
    long now = System.currentTimeMillis();
    Map<String, List<Map<String, Object>>> out = new TreeMap<>();
    for (Map.Entry<String, Map<String, Object>> e : latest.entrySet()) {
      if (now - seen.get(e.getKey()) > processTimeoutMs) {
        continue;
      }
      String rest = e.getKey().substring(io.jcircus.protocol.Topics.STATS.length());
      int dot = rest.lastIndexOf('.');
      if (dot < 0) {
        out.computeIfAbsent(rest, k -> new ArrayList<>());
      } else {
        out.computeIfAbsent(rest.substring(0, dot), k -> new ArrayList<>()).add(e.getValue());
      }
    }
    return out;
  }

  List<AttributedString> screen(int cols, int rows) {
    List<AttributedString> lines = new ArrayList<>();
    AttributedStyle bold = AttributedStyle.BOLD;
    AttributedStyle head = AttributedStyle.DEFAULT.inverse();
    lines.add(new AttributedStringBuilder().style(bold).append("circus-top").style(AttributedStyle.DEFAULT)
        .append("  " + endpoint + "  sort: " + sort + "  watcher: " + (filter == null ? "all" : filter)
            + (paused ? "  PAUSED" : "") + "   q quit  c/m/p sort  w watcher  space pause").toAttributedString());
    Map<String, Object> circus = latest.get(io.jcircus.protocol.Topics.stats("circus"));
    if (circus != null && circus.get("system") instanceof Map<?, ?> sys) {
      double total = dbl(sys.get("mem_total"));
      double avail = dbl(sys.get("mem_available"));
      lines.add(new AttributedString(pad(String.format(Locale.ROOT,
          "system: %s cpus, cpu %s%%, load %s, memory %.1f of %.1f GiB used", sys.get("cpus"), num(sys.get("cpu"), 1),
          sys.get("load"), (total - avail) / (1L << 30), total / (1L << 30)), cols)));
    }
    lines.add(AttributedString.EMPTY);
    Map<String, List<Map<String, Object>>> ws = watchers();
    if (ws.isEmpty()) {
      lines.add(new AttributedString("waiting for stats from " + endpoint
          + " (circusd needs statsd = True or a stats_endpoint in [circus])"));
    }
    String columns = String.format(Locale.ROOT, "  %-9s %6s %7s %9s %9s %8s %7s  %s",
        "PID", "CPU%", "MEM%", "RSS", "VMS", "AGE(s)", "THREADS", "COMMAND");
    for (Map.Entry<String, List<Map<String, Object>>> w : ws.entrySet()) {
      String name = w.getKey();
      if (name.equals("sockets") || (filter != null && !name.equals(filter) && !name.equals("circus"))) {
        continue;
      }
      lines.add(new AttributedStringBuilder().style(bold).append(name).toAttributedString());
      lines.add(new AttributedStringBuilder().style(head).append(pad(columns, cols)).toAttributedString());
      List<Map<String, Object>> ps = new ArrayList<>(w.getValue());
      ps.sort(order());
      for (Map<String, Object> p : ps.subList(0, Math.min(MAX_PIDS, ps.size()))) {
        Object label = p.get("name") != null ? p.get("name") : p.get("cmdline");
        lines.add(new AttributedString(pad(String.format(Locale.ROOT, "  %-9s %6s %7s %9s %9s %8s %7s  %s",
            p.get("pid"), num(p.get("cpu"), 1), num(p.get("mem"), 3), p.get("mem_info1"), p.get("mem_info2"),
            num(p.get("age"), 0), p.getOrDefault("threads", ""), label), cols)));
      }
      Map<String, Object> agg = latest.get(io.jcircus.protocol.Topics.stats(name));
      if (agg != null) {
        lines.add(new AttributedString(pad(String.format(Locale.ROOT, "  %-9s %6s %7s %9s %9s %8s",
            "(avg/sum)", num(agg.get("cpu"), 1), num(agg.get("mem"), 3), "", "", num(agg.get("age"), 0)), cols)));
      }
      lines.add(AttributedString.EMPTY);
    }
    List<Map<String, Object>> socks = ws.getOrDefault("sockets", List.of());
    if (!socks.isEmpty()) {
      lines.add(new AttributedStringBuilder().style(bold).append("sockets").toAttributedString());
      lines.add(new AttributedStringBuilder().style(head).append(pad(String.format(Locale.ROOT,
          "  %-28s %-12s %6s %6s %8s %6s", "ADDRESS", "NAME", "QUEUE", "MAX", "BACKLOG", "BUSY"), cols))
          .toAttributedString());
      List<Map<String, Object>> sorted = new ArrayList<>(socks);
      sorted.sort(Comparator.comparing(s -> String.valueOf(s.get("address"))));
      for (Map<String, Object> s : sorted) {
        lines.add(new AttributedString(pad(String.format(Locale.ROOT, "  %-28s %-12s %6s %6s %8s %6s",
            s.get("address"), s.getOrDefault("name", ""), s.getOrDefault("queue", ""),
            s.getOrDefault("queue_max", ""), s.getOrDefault("backlog", ""), s.get("reads")), cols)));
      }
    }
    while (lines.size() > rows) {
      lines.remove(lines.size() - 1);
    }
    return lines;
  }

  private Comparator<Map<String, Object>> order() {
    Comparator<Map<String, Object>> byPid = Comparator.comparingDouble(p -> dbl(p.get("pid")));
    switch (sort) {
      case "mem": return Comparator.<Map<String, Object>>comparingDouble(p -> -dbl(p.get("mem"))).thenComparing(byPid);
      case "pid": return byPid;
      default: return Comparator.<Map<String, Object>>comparingDouble(p -> -dbl(p.get("cpu"))).thenComparing(byPid);
    }
  }

  private static double dbl(Object o) {
    return o instanceof Number n ? n.doubleValue() : 0;
  }

  private static String num(Object o, int decimals) {
    if (!(o instanceof Number n)) {
      return String.valueOf(o);
    }
    return String.format(Locale.ROOT, "%." + decimals + "f", n.doubleValue());
  }

  private static String pad(String s, int cols) {
    if (s.length() >= cols) {
      return s.substring(0, Math.max(0, cols - 1));
    }
    return s + " ".repeat(cols - s.length() - 1);
  }
}
