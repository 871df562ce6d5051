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
import io.prometheus.metrics.instrumentation.jvm.JvmBufferPoolMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmClassLoadingMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmCompilationMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmGarbageCollectorMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmMemoryMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmMemoryPoolAllocationMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmRuntimeInfoMetric;
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
  private final ProcStats proc = ProcStats.keepingOpen(); // the scrape thread's, under its lock
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
    // JvmMetrics but for ProcessMetrics, whose process_open_fds lists /proc/self/fd at every scrape (three
    // descriptors a child here: a third of a scrape's time with 500 children), and JvmThreadsMetrics, whose
    // deadlock and per-state counts stop the JVM at a safepoint at every scrape: the same names come from
    // selfMetrics and threadMetrics
    registry.register(MetricsServer::threadMetrics);
    JvmBufferPoolMetrics.builder().register(registry);
    JvmClassLoadingMetrics.builder().register(registry);
    JvmCompilationMetrics.builder().register(registry);
    JvmGarbageCollectorMetrics.builder().register(registry);
    JvmMemoryPoolAllocationMetrics.builder().register(registry);
    JvmMemoryMetrics.builder().register(registry);
    JvmRuntimeInfoMetric.builder().register(registry);
    registry.register(this::selfMetrics);
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

  /** A process's labels, kept while it lives (built and checked once, not at every scrape). */
  private record ProcessLabels(String watcher, long wid, Labels labels) { }

  private final Map<Integer, ProcessLabels> labelCache = new HashMap<>(); // under proc's lock

  private Labels labels(int pid, String pidText, String watcher, long wid) {
    ProcessLabels l = labelCache.get(pid);
    if (l == null || l.wid() != wid || !l.watcher().equals(watcher)) {
      l = new ProcessLabels(watcher, wid, Labels.of("pid", pidText, "watcher", watcher, "wid", Long.toString(wid)));
      labelCache.put(pid, l);
    }
    return l.labels();
  }

  /**
   * The states, read at each scrape; each process's figures (a read of /proc/PID/stat and a stat of /proc/PID/fd
   * each) at most once per {@code metrics_sample_interval}, so a scrape every second with hundreds of processes
   * does not read /proc for each of them every second.
   */
  private final class State implements MultiCollector {
    private final long sampleNanos = (long) (cfg.metricsSampleInterval * 1e9);
    private List<io.prometheus.metrics.model.snapshots.MetricSnapshot> perProcess;
    private long sampledAt;

    @Override
    public MetricSnapshots collect() {
      synchronized (proc) {
        return collectLocked();
      }
    }

    private MetricSnapshots collectLocked() {
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
      for (Map.Entry<String, List<long[]>> w : new java.util.TreeMap<>(snap.processes()).entrySet()) {
        String name = w.getKey();
        processes.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(Labels.of("watcher", name))
            .value(w.getValue().size()).build());
        for (String s : new String[] {"active", "starting", "stopped", "stopping"}) {
          state.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
              .labels(Labels.of("state", s, "watcher", name)).value(s.equals(snap.states().get(name)) ? 1 : 0).build());
        }
      }
      long now = System.nanoTime();
      if (perProcess == null || now - sampledAt >= sampleNanos) {
        perProcess = sampleProcesses(snap);
        sampledAt = now;
      }
      List<io.prometheus.metrics.model.snapshots.MetricSnapshot> out = new ArrayList<>(List.of(processes.build(),
          state.build()));
      out.addAll(perProcess);
      out.addAll(queues.snapshots());
      return new MetricSnapshots(out);
    }

    /** Each process's figures from /proc (at most once per metrics_sample_interval: see {@link #collect}). */
    private List<io.prometheus.metrics.model.snapshots.MetricSnapshot> sampleProcesses(Snapshot snap) {
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
      alive.add((int) ProcessHandle.current().pid()); // selfMetrics' /proc/self/stat stays open too
      double now = System.currentTimeMillis() / 1000.0;
      // data points added in the order the snapshots sort them by (label names, then values: pid before watcher),
      // so their sort is one pass rather than a fifth of the scrape
      List<Object[]> all = new ArrayList<>();
      for (Map.Entry<String, List<long[]>> w : snap.processes().entrySet()) {
        for (long[] p : w.getValue()) {
          all.add(new Object[] {Long.toString(p[0]), w.getKey(), p});
        }
      }
      all.sort((a, b) -> ((String) a[0]).compareTo((String) b[0]));
      for (Object[] e : all) {
        long[] p = (long[]) e[2];
        int pid = (int) p[0];
        ProcStats.Sample x = proc.sample(pid);
        if (x == null) {
          continue;
        }
        alive.add(pid);
        Labels labels = labels(pid, (String) e[0], (String) e[1], p[1]);
        cpu.dataPoint(new CounterSnapshot.CounterDataPointSnapshot(x.cpuTicks / TICKS, labels, null,
            (long) (x.createTime * 1000)));
        rss.dataPoint(new GaugeSnapshot.GaugeDataPointSnapshot(x.rss, labels, null));
        threads.dataPoint(new GaugeSnapshot.GaugeDataPointSnapshot(x.threads, labels, null));
        age.dataPoint(new GaugeSnapshot.GaugeDataPointSnapshot(Math.round((now - x.createTime) * 100) / 100.0,
            labels, null));
        long open = openFds(pid);
        if (open >= 0) {
          fds.dataPoint(new GaugeSnapshot.GaugeDataPointSnapshot(open, labels, null));
        }
      }
      proc.retain(alive);
      labelCache.keySet().retainAll(alive);
      return List.of(cpu.build(), rss.build(), fds.build(), threads.build(), age.build());
    }
  }

  /**
   * circusd's own process_* figures, named as the Prometheus client's ProcessMetrics names them: CPU seconds, start
   * time, open and maximum descriptors, virtual and resident memory (one read of /proc/self/stat, one stat of
   * /proc/self/fd).
   */
  private MetricSnapshots selfMetrics() {
    int self = (int) ProcessHandle.current().pid();
    ProcStats.Sample x;
    synchronized (proc) {
      x = proc.sample(self);
    }
    if (x == null) {
      return MetricSnapshots.of();
    }
    long maxFds = ((com.sun.management.UnixOperatingSystemMXBean) java.lang.management.ManagementFactory
        .getOperatingSystemMXBean()).getMaxFileDescriptorCount();
    return new MetricSnapshots(
        CounterSnapshot.builder().name("process_cpu_seconds").help("Total user and system CPU time spent in seconds.")
            .unit(Unit.SECONDS).dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder()
                .value(x.cpuTicks / TICKS).build()).build(),
        gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", x.createTime),
        gauge("process_open_fds", "Number of open file descriptors.", openFds(self)),
        gauge("process_max_fds", "Maximum number of open file descriptors.", maxFds),
        gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", x.vms),
        gauge("process_resident_memory_bytes", "Resident memory size in bytes.", x.rss));
  }

  /** jvm_threads_* as the client's JvmThreadsMetrics names them, from counters the JVM keeps (no safepoint). */
  private static MetricSnapshots threadMetrics() {
    java.lang.management.ThreadMXBean t = java.lang.management.ManagementFactory.getThreadMXBean();
    return new MetricSnapshots(
        gauge("jvm_threads_current", "Current thread count of a JVM", t.getThreadCount()),
        gauge("jvm_threads_daemon", "Daemon thread count of a JVM", t.getDaemonThreadCount()),
        gauge("jvm_threads_peak", "Peak thread count of a JVM", t.getPeakThreadCount()),
        CounterSnapshot.builder().name("jvm_threads_started").help("Started thread count of a JVM")
            .dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().value(t.getTotalStartedThreadCount())
                .build()).build());
  }

  private static GaugeSnapshot gauge(String name, String help, double value) {
    return GaugeSnapshot.builder().name(name).help(help)
        .dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().value(value).build()).build();
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
   * recent maximum (the last 10 s) shows bursts a scrape every 15 s would miss. With no TCP socket it wakes once a
   * second (for new sockets and the JMX refresh).
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
          // no TCP socket to watch: the list (and JMX) once a second, not ten wake-ups a second for nothing
          boolean idle = sockets.isEmpty();
          tick += idle ? 10 : 1;
          Thread.sleep(idle ? 1000 : 100);
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
    synchronized (proc) {
      proc.close();
    }
  }

  @Override
  public Duration stopTimeout() {
    return Duration.ofSeconds(3);
  }
}
