package io.jcircus.server.metrics;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.ManagedProcess;
import io.jcircus.server.arbiter.ManagedSocket;
import io.jcircus.server.arbiter.ProcessObserver;
import io.jcircus.server.arbiter.Watcher;
import io.jcircus.server.command.Registry;
import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.control.ProcStats;
import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.lifecycle.LifeCycle;
import io.jcircus.server.stream.LiveOutput;
import io.jcircus.server.stream.OutputSink;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code metrics_endpoint = http://HOST:PORT/PATH}: circusd's figures in Prometheus's text format (and OpenMetrics
 * when asked), served by the official Prometheus Java client's HTTP server on a thread of its own. What changes with
 * events (spawns, exits, readiness, commands, output) is counted as it happens, off the arbiter's work (a counter
 * increment); what is a state (processes and their CPU, memory, fds, threads, age; sockets' accept queues) is read
 * when scraped: the arbiter hands over its process list (as it does for the stats stream), /proc gives the rest.
 */
public final class MetricsServer implements LifeCycle, ProcessObserver {
  private static final Logger LOG = LoggerFactory.getLogger(MetricsServer.class);
  private static final double TICKS = Posix.clockTicks();

  private final CircusConfig cfg;
  private final Arbiter arbiter;
  private final Registry commands;
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private HTTPServer server;
  private final ProcStats proc = new ProcStats();
  private final SocketQueues queues = new SocketQueues();
  private WatcherBeans jmx;

  private final Counter spawns = Counter.builder().name("jcircus_process_spawns")
      .help("Processes spawned, by watcher").labelNames("watcher").register(registry);
  private final Counter exits = Counter.builder().name("jcircus_process_exits")
      .help("Processes reaped, by watcher, how they ended (exit code or signal) and whether circusd asked them to")
      .labelNames("watcher", "how", "code", "commanded").register(registry);
  private final Counter restarts = Counter.builder().name("jcircus_watcher_restarts")
      .help("Processes that ended without being asked to (crashed or exited), by watcher").labelNames("watcher")
      .register(registry);
  private final Histogram spawnTime = Histogram.builder().name("jcircus_spawn_duration_seconds")
      .help("Time circusd took to spawn a process (posix_spawn, fds, pipes)").labelNames("watcher").classicOnly()
      .classicUpperBounds(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1).register(registry);
  private final Histogram readyTime = Histogram.builder().name("jcircus_ready_duration_seconds")
      .help("Time from a process's spawn to its readiness (warmup_delay, readiness check or READY=1)")
      .labelNames("watcher").classicOnly()
      .classicUpperBounds(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300).register(registry);
  private final Counter commandCount = Counter.builder().name("jcircus_commands")
      .help("Commands answered, by name and outcome").labelNames("command", "outcome").register(registry);
  private final Histogram commandTime = Histogram.builder().name("jcircus_command_duration_seconds")
      .help("Time from a command's arrival on the arbiter to its reply").labelNames("command").classicOnly()
      .classicUpperBounds(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30).register(registry);
  private final Counter outputBytes = Counter.builder().name("jcircus_output_bytes")
      .help("Bytes of output written by processes, by watcher and stream").labelNames("watcher", "stream")
      .register(registry);
  private final Counter outputLines = Counter.builder().name("jcircus_output_lines")
      .help("Lines of output written by processes, by watcher and stream").labelNames("watcher", "stream")
      .register(registry);

  public MetricsServer(CircusConfig cfg, Arbiter arbiter, Registry commands) {
    this.cfg = cfg;
    this.arbiter = arbiter;
    this.commands = commands;
  }

  @Override
  public String name() {
    return "metrics";
  }

  @Override
  public void start() throws IOException {
    if (cfg.metricsEndpoint == null) {
      return;
    }
    URI uri = URI.create(cfg.metricsEndpoint);
    JvmMetrics.builder().register(registry);
    LiveOutput live = arbiter.liveOutput();
    if (live != null) {
      CounterWithCallback.builder().name("jcircus_output_dropped_chunks")
          .help("Output chunks the live output stream dropped (its subscribers too slow)")
          .callback(cb -> cb.call(live.dropped())).register(registry);
    }
    registry.register(new State());
    arbiter.addListener(this::event);
    arbiter.setObserver(this);
    commands.setObserver((command, nanos, error) -> {
      commandCount.labelValues(command, error ? "error" : "ok").inc();
      commandTime.labelValues(command).observe(nanos / 1e9);
    });
    // scrapes one at a time, a few queued; more are answered by the accepting thread itself (bounded either way)
    ThreadPoolExecutor scrapes = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(8),
        r -> {
          Thread t = new Thread(r, "jcircus-metrics");
          t.setDaemon(true);
          return t;
        }, new ThreadPoolExecutor.CallerRunsPolicy());
    try {
      server = HTTPServer.builder().hostname(uri.getHost().replace("[", "").replace("]", "")).port(uri.getPort())
          .metricsHandlerPath(uri.getPath() == null || uri.getPath().isEmpty() ? "/metrics" : uri.getPath())
          .executorService(scrapes).registry(registry).buildAndStart();
    } catch (IOException e) {
      scrapes.shutdownNow();
      throw new IOException("cannot serve metrics_endpoint " + cfg.metricsEndpoint + ": " + e.getMessage(), e);
    }
    jmx = new WatcherBeans(arbiter);
    queues.start();
    LOG.info("metrics on {}", cfg.metricsEndpoint);
  }

  /** Arbiter loop: spawns and exits as they happen. */
  private void event(String watcher, String event, Map<String, Object> payload) {
    if (event.equals("spawn")) {
      spawns.labelValues(watcher).inc();
    } else if (event.equals("reap") && payload.get("exit_code") instanceof Number n) {
      int code = n.intValue();
      boolean commanded = Boolean.TRUE.equals(payload.get("commanded"));
      exits.labelValues(watcher, code < 0 ? "signal" : "exit",
          code < 0 ? io.jcircus.server.internal.posix.Signals.name(-code) : Integer.toString(code),
          Boolean.toString(commanded)).inc();
      if (!commanded) {
        restarts.labelValues(watcher).inc();
      }
    }
  }

  @Override
  public void spawned(String watcher, long nanos) {
    spawnTime.labelValues(watcher.toLowerCase(Locale.ROOT)).observe(nanos / 1e9);
  }

  @Override
  public void ready(String watcher, long nanos) {
    readyTime.labelValues(watcher.toLowerCase(Locale.ROOT)).observe(nanos / 1e9);
  }

  /** Counts what passes to {@code sink}: bytes, and lines ('\n'), for the watcher's stream. */
  @Override
  public OutputSink output(String watcher, String stream, OutputSink sink) {
    String w = watcher.toLowerCase(Locale.ROOT);
    CounterDataPoint bytes = outputBytes.labelValues(w, stream);
    CounterDataPoint lines = outputLines.labelValues(w, stream);
    return new OutputSink() {
      @Override
      public void write(ByteBuffer data, int pid) throws IOException {
        int n = 0;
        for (int i = data.position(); i < data.limit(); i++) {
          if (data.get(i) == '\n') {
            n++;
          }
        }
        bytes.inc(data.remaining());
        lines.inc(n);
        sink.write(data, pid);
      }

      @Override
      public void close() {
        sink.close();
      }
    };
  }

  /** What the arbiter hands over for a scrape: each watcher's state and processes (pid, wid). */
  private record Snapshot(Map<String, String> states, Map<String, List<long[]>> processes) { }

  private Snapshot snapshot() throws Exception {
    return arbiter.loop().submit(() -> {
      Map<String, String> states = new HashMap<>();
      Map<String, List<long[]>> ps = new HashMap<>();
      for (Watcher w : arbiter.watchers()) {
        String name = w.name().toLowerCase(Locale.ROOT);
        states.put(name, w.state().toString());
        List<long[]> list = new ArrayList<>();
        for (ManagedProcess p : w.processes()) {
          list.add(new long[] {p.pid(), p.wid()});
        }
        ps.put(name, list);
      }
      return new Snapshot(states, ps);
    }).get(2, TimeUnit.SECONDS);
  }

  /** The states, read at each scrape. */
  private final class State implements MultiCollector {
    @Override
    public MetricSnapshots collect() {
      Snapshot snap;
      try {
        snap = snapshot();
      } catch (Exception e) {
        LOG.debug("metrics: no snapshot from the arbiter: {}", e.toString());
        return MetricSnapshots.of();
      }
      GaugeSnapshot.Builder processes = GaugeSnapshot.builder().name("jcircus_watcher_processes")
          .help("Processes a watcher runs now");
      GaugeSnapshot.Builder state = GaugeSnapshot.builder().name("jcircus_watcher_state")
          .help("A watcher's state: 1 for the state it is in");
      CounterSnapshot.Builder cpu = CounterSnapshot.builder().name("jcircus_process_cpu_seconds")
          .help("CPU time a process has used (user and system)").unit(Unit.SECONDS);
      GaugeSnapshot.Builder rss = GaugeSnapshot.builder().name("jcircus_process_resident_memory_bytes")
          .help("A process's resident set size");
      GaugeSnapshot.Builder fds = GaugeSnapshot.builder().name("jcircus_process_open_fds")
          .help("A process's open file descriptors");
      GaugeSnapshot.Builder threads = GaugeSnapshot.builder().name("jcircus_process_threads")
          .help("A process's threads");
      GaugeSnapshot.Builder age = GaugeSnapshot.builder().name("jcircus_process_age_seconds")
          .help("Time since a process started");
      Set<Integer> alive = new HashSet<>();
      double now = System.currentTimeMillis() / 1000.0;
      for (Map.Entry<String, List<long[]>> w : snap.processes().entrySet()) {
        String name = w.getKey();
        processes.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(Labels.of("watcher", name))
            .value(w.getValue().size()).build());
        for (String s : new String[] {"active", "starting", "stopping", "stopped"}) {
          state.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
              .labels(Labels.of("watcher", name, "state", s)).value(s.equals(snap.states().get(name)) ? 1 : 0).build());
        }
        for (long[] p : w.getValue()) {
          int pid = (int) p[0];
          ProcStats.Sample x = proc.sample(pid);
          if (x == null) {
            continue;
          }
          alive.add(pid);
          Labels labels = Labels.of("watcher", name, "pid", Integer.toString(pid), "wid", Long.toString(p[1]));
          cpu.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(labels).value(x.cpuTicks / TICKS)
              .build());
          rss.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels).value(x.rss).build());
          threads.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels).value(x.threads).build());
          age.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels).value(now - x.createTime).build());
          long open = openFds(pid);
          if (open >= 0) {
            fds.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels).value(open).build());
          }
        }
      }
      proc.retain(alive);
      List<io.prometheus.metrics.model.snapshots.MetricSnapshot> out = new ArrayList<>(List.of(processes.build(),
          state.build(), cpu.build(), rss.build(), fds.build(), threads.build(), age.build()));
      out.addAll(queues.snapshots());
      return new MetricSnapshots(out);
    }
  }

  /**
   * A process's open descriptors: since Linux 6.2 the size of /proc/PID/fd (one stat, half the cost of listing it);
   * listed on older kernels, which report 0. -1 if the process is gone.
   */
  private static long openFds(int pid) {
    java.nio.file.Path dir = java.nio.file.Path.of("/proc", Integer.toString(pid), "fd");
    try {
      long n = java.nio.file.Files.size(dir);
      if (n > 0) {
        return n;
      }
    } catch (IOException e) {
      return -1;
    }
    String[] open = dir.toFile().list();
    return open == null ? -1 : open.length;
  }

  /**
   * Each TCP socket's accept queue, sampled every 100 ms on a thread of its own (one getsockopt a socket), so the
   * recent maximum (the last 10 s) shows bursts a scrape every 15 s would miss.
   */
  private final class SocketQueues {
    private record Sample(String name, String address, int queue, int backlog, int max) { }

    private final Map<Integer, Sample> latest = new ConcurrentHashMap<>();
    private final Map<Integer, int[]> windows = new HashMap<>(); // fd → {max this window, max last window}
    private volatile boolean running;
    private Thread thread;

    void start() {
      running = true;
      thread = new Thread(this::loop, "jcircus-metrics-sockets");
      thread.setDaemon(true);
      thread.start();
    }

    void stop() {
      running = false;
      if (thread != null) {
        thread.interrupt();
      }
    }

    private void loop() {
      List<Object[]> sockets = List.of();
      long tick = 0;
      while (running) {
        try {
          if (tick % 10 == 0) {
            sockets = arbiter.loop().submit(() -> {
              List<Object[]> s = new ArrayList<>();
              for (ManagedSocket m : arbiter.sockets()) {
                if (m.isBound() && m.fd() >= 0 && !m.config().isUnix()) {
                  s.add(new Object[] {m.fd(), m.name(), m.host() + ":" + m.port()});
                }
              }
              return s;
            }).get(2, TimeUnit.SECONDS);
            Set<Integer> fds = new HashSet<>();
            sockets.forEach(s -> fds.add((Integer) s[0]));
            latest.keySet().retainAll(fds);
            windows.keySet().retainAll(fds);
          }
          if (tick % 20 == 0 && jmx != null) {
            jmx.refresh();
          }
          if (tick % 100 == 0) {
            windows.values().forEach(w -> {
              w[1] = w[0];
              w[0] = 0;
            });
          }
          for (Object[] s : sockets) {
            int fd = (Integer) s[0];
            int[] q = Posix.acceptQueue(fd);
            if (q != null) {
              int[] w = windows.computeIfAbsent(fd, k -> new int[2]);
              w[0] = Math.max(w[0], q[0]);
              latest.put(fd, new Sample((String) s[1], (String) s[2], q[0], q[1], Math.max(w[0], w[1])));
            }
          }
          tick++;
          Thread.sleep(100);
        } catch (InterruptedException e) {
          return;
        } catch (Exception e) {
          if (!arbiter.isRunning()) {
            return;
          }
          LOG.debug("metrics: sampling the sockets: {}", e.toString());
        }
      }
    }

    List<io.prometheus.metrics.model.snapshots.MetricSnapshot> snapshots() {
      GaugeSnapshot.Builder queue = GaugeSnapshot.builder().name("jcircus_socket_accept_queue")
          .help("Connections waiting in a socket's accept queue");
      GaugeSnapshot.Builder max = GaugeSnapshot.builder().name("jcircus_socket_accept_queue_max")
          .help("The largest accept queue seen in the last 10 to 20 s (sampled every 100 ms)");
      GaugeSnapshot.Builder backlog = GaugeSnapshot.builder().name("jcircus_socket_backlog")
          .help("A socket's listen backlog");
      for (Sample s : latest.values()) {
        Labels l = Labels.of("socket", s.name(), "address", s.address());
        queue.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(l).value(s.queue()).build());
        max.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(l).value(s.max()).build());
        backlog.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(l).value(s.backlog()).build());
      }
      return List.of(queue.build(), max.build(), backlog.build());
    }
  }

  @Override
  public void stop() {
    queues.stop();
    if (jmx != null) {
      jmx.close();
    }
    if (server != null) {
      server.close();
    }
  }

  @Override
  public Duration stopTimeout() {
    return Duration.ofSeconds(3);
  }
}
