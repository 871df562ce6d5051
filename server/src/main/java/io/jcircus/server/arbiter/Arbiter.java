package io.jcircus.server.arbiter;

import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.config.SocketConfig;
import io.jcircus.server.config.WatcherConfig;
import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.stream.Streams;
import io.netty.channel.IoEventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * circusd's core: owns the managed sockets, the watchers and their processes. All of that state belongs to
 * one thread, the arbiter loop (a Netty epoll event loop that also delivers pidfd exits and timers); other
 * threads post work to it with {@link #execute}. Child output is read on a second loop so a slow disk never
 * delays process management, and sockets are bound on a third.
 */
public final class Arbiter implements io.jcircus.server.lifecycle.LifeCycle, WatcherHost {
  private static final Logger LOG = LoggerFactory.getLogger(Arbiter.class);

  private CircusConfig cfg;
  private MultiThreadIoEventLoopGroup loopGroup;
  private MultiThreadIoEventLoopGroup streamsGroup;
  MultiThreadIoEventLoopGroup socketsGroup;
  private IoEventLoop loop;
  private IoEventLoop streamsLoop;
  final Map<String, ManagedSocket> sockets = new TreeMap<>();
  final List<Watcher> watchers = new ArrayList<>();
  private final Guardian guardian = new Guardian();
  private ExitWatch guardianWatch;
  private SignalWatch signalWatch;
  private final Streams streams = new Streams();
  private final List<EventListener> listeners = new CopyOnWriteArrayList<>();
  private Promise<Void> terminated;
  private boolean stopping;
  private int euid;
  private int egid;

  private final io.jcircus.server.stream.LiveOutput liveOutput;

  public Arbiter(CircusConfig cfg) {
    this.liveOutput = cfg.outputEndpoint == null || cfg.outputEndpoint.isEmpty()
        ? null : new io.jcircus.server.stream.LiveOutput(4096, () -> {
          try {
            return dirs.rings();
          } catch (IOException e) {
            LOG.warn("no runtime directory for output ring files: {}", e.toString());
            return null;
          }
        });
    this.cfg = cfg;
  }

  public CircusConfig config() {
    return cfg;
  }

  public void addListener(EventListener l) {
    listeners.add(l);
  }

  /** Told of each configuration reloadconfig applied, on the arbiter loop (must not block). */
  private final List<java.util.function.Consumer<CircusConfig>> configListeners = new CopyOnWriteArrayList<>();

  public void addConfigListener(java.util.function.Consumer<CircusConfig> l) {
    configListeners.add(l);
  }

  private volatile ProcessObserver observer = ProcessObserver.NONE;
  /** systemd's notify socket, when circusd runs under it; null otherwise. */
  private volatile SdNotify sdNotify;

  /** Tells {@code n} of readiness, reloads and the stop from now on, and pings its watchdog if it has one. */
  public void setSdNotify(SdNotify n) {
    sdNotify = n;
    long usec = SdNotify.watchdogMicros();
    if (n != null && usec > 0) {
      long every = Math.max(1000, usec / 2);
      loop.scheduleAtFixedRate(() -> n.send("WATCHDOG=1"), every, every, java.util.concurrent.TimeUnit.MICROSECONDS);
    }
  }

  private void notifySystemd(String state) {
    SdNotify n = sdNotify;
    if (n != null) {
      n.send(state);
    }
  }

  public void setObserver(ProcessObserver o) {
    observer = o;
  }

  @Override
  public ProcessObserver observer() {
    return observer;
  }

  /** The in-process plugins' states by {@code plugin:NAME}, for list and status; arbiter loop. */
  private java.util.function.Supplier<Map<String, String>> plugins = Map::of;

  public void setPlugins(java.util.function.Supplier<Map<String, String>> states) {
    plugins = states;
  }

  /** {@code plugin:NAME} → {@code active}/{@code stopped} of every in-process plugin; arbiter loop. */
  public Map<String, String> pluginStates() {
    return plugins.get();
  }

  /**
   * Binds the sockets, starts the child guardian and creates the watchers, starting none: circusd binds its
   * control endpoints and installs its signal handling between this and {@link #startWatchers}, so that a
   * watcher that takes long to start (or never does) never keeps circusd deaf.
   */
  @Override
  public void start() throws IOException {
    Epoll.ensureAvailability();
    Posix.preload();
    euid = Posix.geteuid();
    egid = Posix.getegid();
    loopGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("jcircus-arbiter"), EpollIoHandler.newFactory());
    streamsGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("jcircus-streams"), EpollIoHandler.newFactory());
    socketsGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("jcircus-sockets"), EpollIoHandler.newFactory());
    loop = (IoEventLoop) loopGroup.next();
    onDemand = new OnDemand(loop, () -> stopping);
    configReader = java.util.concurrent.Executors.newSingleThreadExecutor(new DefaultThreadFactory("jcircus-config", true));
    streamsLoop = (IoEventLoop) streamsGroup.next();
    terminated = loop.newPromise();
    try {
      for (SocketConfig sc : cfg.sockets) {
        ManagedSocket s = new ManagedSocket(sc, socketsGroup);
        s.bind();
        sockets.put(sc.name(), s);
        if (s.isBound()) {
          LOG.info("socket '{}' listening on {} (fd {})", sc.name(),
              sc.isUnix() ? sc.path() : s.host() + ":" + s.port(), s.fd());
        } else {
          LOG.info("socket '{}' is so_reuseport: bound per process", sc.name());
        }
      }
      if (cfg.fdpassSocket != null) {
        fdpass = new io.jcircus.fdpass.FdPassServer(cfg.fdpassSocket,
            cfg.fdpassUids.isEmpty() ? java.util.Set.of(euid) : cfg.fdpassUids);
        offerSockets();
        fdpass.start(socketsGroup);
      }
      loop.submit(() -> {
        startGuardian();
        return null;
      }).sync();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while starting");
    } catch (Exception e) {
      closeSockets();
      shutdownGroups();
      throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
    }
    for (WatcherConfig wc : cfg.watchers) {
      watchers.add(new Watcher(this, wc, loop));
    }
  }

  /**
   * Starts every autostart watcher, highest priority first, without waiting: a watcher in its backoff, its
   * warmup_delay or retrying for ever is a state of the arbiter loop, not a wait. {@code onStarted} runs on the
   * arbiter loop once all have started (or failed, or circusd began to stop).
   */
  public void startWatchers(Runnable onStarted) {
    loop.execute(() -> startAll().addListener(f -> {
      if (!stopping) {
        notifySystemd("READY=1\nSTATUS=" + watchers.size() + " watcher(s) started\nMAINPID="
            + ProcessHandle.current().pid());
        onStarted.run();
      }
    }));
  }

  private void startGuardian() throws IOException {
    int pid = guardian.start();
    guardianWatch = ExitWatch.watch(loop, pid, st -> {
      if (!stopping) {
        LOG.error("the child guardian (pid {}) died with code {}; restarting it", pid, st.exitCode());
        try {
          startGuardian();
          for (Watcher w : watchers) {
            for (int p : w.pids()) {
              guardian.spawned(p);
            }
          }
        } catch (IOException e) {
          LOG.error("cannot restart the child guardian: {}", e.getMessage());
        }
      }
    });
  }

  /** A cluster singleton: started by the cluster when this node holds it, never by start-up. */
  private boolean clusterHeld(Watcher w) {
    return w.config().clusterSingleton && cfg.cluster != null;
  }

  /** Cluster singletons this node holds now (loop thread). */
  private final java.util.Set<String> heldSingletons = new java.util.HashSet<>();

  @Override
  public boolean mayRun(Watcher w) {
    return !clusterHeld(w) || heldSingletons.contains(w.name().toLowerCase(java.util.Locale.ROOT));
  }

  /** The cluster elected this node to run singleton {@code name}, or took it away (loop thread). */
  public void setSingletonHeld(String name, boolean held) {
    if (held) {
      heldSingletons.add(name.toLowerCase(java.util.Locale.ROOT));
    } else {
      heldSingletons.remove(name.toLowerCase(java.util.Locale.ROOT));
    }
  }

  /** Starts autostart watchers from the highest priority down, each once the previous is active, failed or backing off. */
  private Future<Void> startAll() {
    List<Watcher> order = new ArrayList<>(watchers);
    order.sort(Comparator.comparingInt(Watcher::priority).reversed());
    Promise<Void> done = loop.newPromise();
    startNext(order, 0, done);
    return done;
  }

  private void startNext(List<Watcher> order, int i, Promise<Void> done) {
    while (i < order.size() && (!order.get(i).config().autostart || order.get(i).config().onDemand
        || clusterHeld(order.get(i)))) {
      if (order.get(i).config().onDemand && order.get(i).config().autostart) {
        armOnDemand(order.get(i));
      }
      i++;
    }
    if (i >= order.size() || stopping) {
      done.trySuccess(null);
      return;
    }
    int next = i + 1;
    Watcher w = order.get(i);
    w.start();
    w.startSettled().addListener(f -> {
      if (cfg.warmupDelay > 0 && next < order.size()) {
        loop.schedule(() -> startNext(order, next, done), (long) (cfg.warmupDelay * 1000), TimeUnit.MILLISECONDS);
      } else {
        startNext(order, next, done);
      }
    });
  }

  private OnDemand onDemand;

  /** on_demand: {@code w} starts at the first connection pending on one of its sockets (see {@link OnDemand}). */
  @Override
  public void armOnDemand(Watcher w) {
    if (stopping) {
      return;
    }
    List<ManagedSocket> socks = new ArrayList<>();
    for (String n : w.config().socketRefs) {
      socks.add(socket(n));
    }
    if (w.config().stdinSocket != null) {
      socks.add(socket(w.config().stdinSocket));
    }
    if (socks.isEmpty() && w.config().useSockets) {
      socks.addAll(sockets.values());
    }
    onDemand.arm(w, socks);
  }

  @Override
  public String name() {
    return "arbiter";
  }

  /** Stops every watcher (see {@link #shutdown}) and waits for it; the life cycle's stop. */
  @Override
  public void stop() {
    shutdown();
    awaitTermination();
    Hooks.killAll();
  }

  /**
   * Watchers stop a priority group at a time, each process within its graceful_timeout and then SIGKILL: the
   * longest graceful_timeout of each group, summed, and 10 s for the reaping and the rest.
   */
  @Override
  public java.time.Duration stopTimeout() {
    Map<Integer, Double> longest = new TreeMap<>();
    for (Watcher w : watchers()) {
      longest.merge(w.priority(), w.config().gracefulTimeout, Math::max);
    }
    double seconds = 10;
    for (double g : longest.values()) {
      seconds += g;
    }
    return java.time.Duration.ofMillis((long) (seconds * 1000));
  }

  /** True between a successful {@link #start} and the end of the shutdown. */
  public boolean isRunning() {
    return loop != null && !loop.isShuttingDown();
  }

  public Future<Void> shutdown() {
    if (!isRunning()) {
      return terminated;
    }
    loop.execute(() -> {
      if (stopping) {
        return;
      }
      stopping = true;
      notifySystemd("STOPPING=1");
      onDemand.cancelAll();
      LOG.info("stopping all watchers");
      TreeMap<Integer, List<Watcher>> byPriority = new TreeMap<>();
      for (Watcher w : watchers) {
        byPriority.computeIfAbsent(w.priority(), k -> new ArrayList<>()).add(w);
      }
      stopGroups(new ArrayList<>(byPriority.values()), 0);
    });
    return terminated;
  }

  private void stopGroups(List<List<Watcher>> groups, int i) {
    if (i >= groups.size()) {
      closeSockets();
      guardian.close();
      // Give the guardian a moment to see EOF and exit before the loop goes away.
      if (guardianWatch != null && !guardianWatch.isReaped()) {
        loop.schedule(() -> terminated.trySuccess(null), 50, TimeUnit.MILLISECONDS);
      } else {
        terminated.trySuccess(null);
      }
      return;
    }
    List<Watcher> group = groups.get(i);
    int[] left = {group.size()};
    for (Watcher w : group) {
      w.preempt(w::stop).addListener(f -> {
        if (--left[0] == 0) {
          stopGroups(groups, i + 1);
        }
      });
    }
  }

  /** Graceful reload of every watcher (SIGHUP), as Circus's {@code reload}. */
  public void reloadAll() {
    loop.execute(() -> {
      if (stopping) {
        return;
      }
      LOG.info("reloading all watchers");
      for (Watcher w : watchers) {
        if (w.state() != Watcher.State.STOPPED) {
          w.reload(true, false);
        }
      }
    });
  }

  /** Delivers {@code signals} (blocked in every thread) to {@code handler} on the arbiter loop. */
  public void onSignals(java.util.function.IntConsumer handler, int... signals) throws IOException {
    try {
      signalWatch = loop.submit(() -> SignalWatch.watch(loop, handler, signals)).sync().getNow();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    } catch (Exception e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getMessage(), e);
    }
  }

  /** Waits for the shutdown to finish and releases the event loops. */
  public void awaitTermination() {
    terminated.awaitUninterruptibly();
    shutdownGroups();
  }

  private void shutdownGroups() {
    if (configReader != null) {
      configReader.shutdownNow(); // a read in progress is abandoned: its result has nowhere to go
    }
    for (MultiThreadIoEventLoopGroup g : new MultiThreadIoEventLoopGroup[] {loopGroup, streamsGroup, socketsGroup}) {
      if (g != null) {
        g.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
      }
    }
  }

  /** fdpass: every bound socket by name, with what a client needs to wrap it (family, address). */
  private io.jcircus.fdpass.FdPassServer fdpass;

  void offerSockets() {
    if (fdpass == null) {
      return;
    }
    for (String name : List.copyOf(offered)) {
      if (!sockets.containsKey(name)) {
        fdpass.withdraw(name);
        offered.remove(name);
      }
    }
    for (ManagedSocket s : sockets.values()) {
      if (!s.isBound()) {
        continue; // so_reuseport: one socket per process, nothing shared to hand out
      }
      Map<String, String> info = new TreeMap<>();
      if (s.config().isUnix()) {
        info.put("family", "unix");
        info.put("path", s.config().path());
      } else {
        info.put("family", "inet");
        info.put("host", s.host());
        info.put("port", Integer.toString(s.port()));
      }
      fdpass.offer(s.name(), s.fd(), info);
      offered.add(s.name());
    }
  }

  private final java.util.Set<String> offered = new java.util.TreeSet<>();

  private void closeSockets() {
    if (fdpass != null) {
      fdpass.close();
      fdpass = null;
    }
    for (ManagedSocket s : sockets.values()) {
      s.close();
    }
    dirs.remove();
  }

  private final RuntimeDirs dirs = new RuntimeDirs();

  @Override
  public java.nio.file.Path runtimeDir() throws IOException {
    return dirs.runtime();
  }

  // ---------------------------------------------------------------- for watchers (arbiter loop)

  @Override
  public void publish(String watcherTopic, String event, Map<String, Object> payload) {
    if (LOG.isDebugEnabled()) {
      LOG.debug("event watcher.{}.{} {}", watcherTopic, event, payload);
    }
    for (EventListener l : listeners) {
      try {
        l.event(watcherTopic, event, payload);
      } catch (RuntimeException e) {
        LOG.warn("event listener failed on {}.{}: {}", watcherTopic, event, e.toString());
      }
    }
  }

  @Override
  public Guardian guardian() {
    return guardian;
  }

  @Override
  public Streams streams() {
    return streams;
  }

  /** Real-time output (null when {@code output_endpoint} is empty): rings of recent lines and the publisher's queue. */
  @Override
  public io.jcircus.server.stream.LiveOutput liveOutput() {
    return liveOutput;
  }

  @Override
  public IoEventLoop streamsLoop() {
    return streamsLoop;
  }

  @Override
  public int euid() {
    return euid;
  }

  @Override
  public int egid() {
    return egid;
  }

  @Override
  public ManagedSocket socket(String name) {
    return sockets.get(name.toLowerCase(Locale.ROOT));
  }

  @Override
  public List<ManagedSocket> sockets() {
    return new ArrayList<>(sockets.values());
  }

  /** The arbiter loop, for posting work. */
  public IoEventLoop loop() {
    return loop;
  }

  public void execute(Runnable r) {
    loop.execute(r);
  }

  public List<Watcher> watchers() {
    return new ArrayList<>(watchers);
  }

  /** Adds a watcher at run time (the {@code add} command); it starts only when asked. Arbiter loop only. */
  public Watcher addWatcher(WatcherConfig wc) {
    Watcher w = new Watcher(this, wc, loop);
    watchers.add(w);
    announce(wc.name, "add");
    return w;
  }

  /**
   * The {@code rm} command: announces the removal and stops the watcher at once (cancelling whatever was queued
   * on it, pending spawns included) unless {@code nostop}. The watcher stays in {@link #watchers} (stopping)
   * until its last process is reaped, so no process circusd started is ever unlisted; then it is forgotten.
   */
  public Future<Void> removeWatcher(Watcher w, boolean nostop) {
    announce(w.name(), "remove");
    Future<Void> removal = removals.get(w);
    if (removal != null) {
      return removal;
    }
    w.markRemoved();
    Future<Void> stopped = w.preempt(() -> {
      if (nostop) {
        w.abandonProcesses();
        return loop.newSucceededFuture(null);
      }
      return w.stop();
    });
    Promise<Void> gone = loop.newPromise();
    removals.put(w, gone);
    stopped.addListener(f -> {
      watchers.remove(w);
      removals.remove(w);
      if (liveOutput != null && watcher(w.name()) == null) {
        liveOutput.forget(w.name().toLowerCase(Locale.ROOT));
      }
      gone.trySuccess(null);
    });
    return gone;
  }

  /** Watchers that reloadconfig recreates, still stopping, and what takes each one's place once it has. */
  final Map<Watcher, Watcher> replacements = new java.util.IdentityHashMap<>();

  /** Watchers taken by {@code rm} whose processes are still stopping, and when each will be gone. */
  final Map<Watcher, Future<Void>> removals = new java.util.IdentityHashMap<>();

  /** When the watcher named {@code name} that {@code rm} took will be gone, or null if none is being removed. */
  public Future<Void> removal(String name) {
    for (Map.Entry<Watcher, Future<Void>> e : removals.entrySet()) {
      if (e.getKey().name().equalsIgnoreCase(name)) {
        return e.getValue();
      }
    }
    return null;
  }

  private java.util.concurrent.ExecutorService configReader;

  /**
   * Reads the configuration file again, off the arbiter loop (includes, globs and user lookups may take their
   * time); the future completes on the loop, failed with the {@link io.jcircus.protocol.ConfigException} that
   * names the file, line and key. Nothing changes until {@link #applyConfig}.
   */
  public Future<CircusConfig> readConfig() {
    Promise<CircusConfig> p = loop.newPromise();
    java.nio.file.Path file = cfg.file;
    try {
      configReader.execute(() -> {
        try {
          CircusConfig next = io.jcircus.server.config.ConfigLoader.load(file);
          loop.execute(() -> p.trySuccess(next));
        } catch (io.jcircus.protocol.ConfigException | RuntimeException e) {
          loop.execute(() -> p.tryFailure(e));
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      p.tryFailure(new IOException("circusd is stopping"));
    }
    return p;
  }

  /**
   * {@code reloadconfig}'s second half, on the loop: what {@code next} changes is applied (see
   * {@link ConfigChange}); the future completes, with the notes for the client, when every step is done.
   */
  public Future<List<String>> applyConfig(CircusConfig next) throws io.jcircus.protocol.ConfigException {
    Future<List<String>> f = new ConfigChange(this, next).apply();
    notifySystemd("RELOADING=1\nMONOTONIC_USEC=" + System.nanoTime() / 1000); // systemd 253 asks for the time
    cfg = next;
    f.addListener(done -> notifySystemd("READY=1\nSTATUS=configuration reloaded"));
    for (java.util.function.Consumer<CircusConfig> l : configListeners) {
      try {
        l.accept(next);
      } catch (RuntimeException e) {
        LOG.warn("configuration listener failed: {}", e.toString());
      }
    }
    return f;
  }

  /** The {@code updated} event, once per option changed by {@code set}. */
  public void publishUpdated(Watcher w) {
    announce(w.name(), "updated");
  }

  /** {@code watcher.<name>.<event>} with only a time, as Circus sends add, remove and updated. */
  private void announce(String watcher, String event) {
    publish(watcher.toLowerCase(Locale.ROOT).replace(' ', '_'), event, Payload.kv("time", Payload.now()));
  }

  /** The watcher named {@code name} (case-insensitive); one that {@code rm} took only if no other has the name. */
  public Watcher watcher(String name) {
    Watcher removed = null;
    for (Watcher w : watchers) {
      if (w.name().equalsIgnoreCase(name)) {
        if (!w.isRemoved()) {
          return w;
        }
        removed = w;
      }
    }
    return removed;
  }

  public int guardianPid() {
    return guardian.pid();
  }
}
