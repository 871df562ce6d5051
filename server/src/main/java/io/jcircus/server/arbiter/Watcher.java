package io.jcircus.server.arbiter;

import io.jcircus.server.config.StreamConfig;
import io.jcircus.server.config.WatcherConfig;
import io.jcircus.server.config.WatcherOptions;
import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.internal.posix.Signals;
import io.jcircus.server.internal.posix.Spawner;
import io.jcircus.server.stream.OutputSink;
import io.jcircus.server.stream.PipeReader;
import io.netty.channel.Channel;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@code numprocesses} copies of one command and keeps them running. Every method runs on the arbiter
 * loop; nothing here blocks: waits are timers, exits arrive as pidfd events.
 */
public final class Watcher {
  private static final Logger LOG = LoggerFactory.getLogger(Watcher.class);
  /** Spawns per loop turn when there is no warmup_delay, so a large watcher does not stall the loop. */
  private static final int SPAWN_BATCH = 32;

  /** Circus's watcher states, printed in lower case. */
  public enum State {
    STOPPED, STARTING, ACTIVE, STOPPING;

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final Arbiter arbiter;
  /** Replaced whole by {@link #reconfigure}; read on the loop only. */
  private WatcherConfig cfg;
  private final IoEventLoop loop;
  private final String topicName;
  private State state = State.STOPPED;
  private int numprocesses;
  private final LinkedHashMap<Integer, ManagedProcess> procs = new LinkedHashMap<>();
  private final BitSet wids = new BitSet();
  private long generation;

  private OutputSink stdoutSink;
  private OutputSink stderrSink;
  /** Where output goes when no stream is configured but circusd captures it for live output: its own fds. */
  private static final OutputSink PASS_STDOUT = new io.jcircus.server.stream.StdoutStream(null);
  private static final OutputSink PASS_STDERR = io.jcircus.server.stream.StdoutStream.stderr();
  private int openReaders;

  private int youngDeaths;
  private long nextSpawnNanos;
  private ScheduledFuture<?> manageTimer;
  private int spawnFailures;
  private int spawnCount;

  private Promise<Void> startPromise;
  private Promise<Void> stopPromise;
  private Promise<Void> reloadPromise;
  private Promise<Void> resizePromise;
  /** A rolling reload: one new process at a time, each old one stopped once its replacement has warmed up. */
  private boolean sequentialReload;
  private Future<?> lastOp;
  /** Bumped by {@link #preempt}: operations queued under an older epoch are cancelled instead of run. */
  private long epoch;
  /** Set by {@code rm}: the watcher stays listed, stopping, until its last process is reaped. */
  private boolean removed;

  Watcher(Arbiter arbiter, WatcherConfig cfg, IoEventLoop loop) {
    this.arbiter = arbiter;
    this.cfg = cfg;
    this.loop = loop;
    this.numprocesses = cfg.numprocesses;
    this.topicName = cfg.name.toLowerCase(Locale.ROOT).replace(' ', '_');
  }

  public String name() {
    return cfg.name;
  }

  public WatcherConfig config() {
    return cfg;
  }

  /** True once {@code rm} took this watcher: it is listed until its processes are gone, and takes no commands. */
  public boolean isRemoved() {
    return removed;
  }

  void markRemoved() {
    removed = true;
  }

  public State state() {
    return state;
  }

  public int priority() {
    return cfg.priority;
  }

  public int numprocesses() {
    return numprocesses;
  }

  /** Pids of live processes, oldest first. */
  public List<Integer> pids() {
    return new ArrayList<>(procs.keySet());
  }

  public List<ManagedProcess> processes() {
    return new ArrayList<>(procs.values());
  }

  /** Spawns so far (for tests and stats). */
  public int spawnCount() {
    return spawnCount;
  }

  private void event(String name, Map<String, Object> payload) {
    arbiter.publish(topicName, name, payload);
  }

  /** An ordered payload, as Circus's dicts are. */
  public static Map<String, Object> kv(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private static double now() {
    return System.currentTimeMillis() / 1000.0;
  }

  // ---------------------------------------------------------------- start / stop / reload

  /** Starts the processes; the future completes when {@code numprocesses} are running. */
  public Future<Void> start() {
    if (removed) {
      // rm (or a reloadconfig that recreates it) took this watcher: nothing may give it processes again, not
      // even the second half of a restart that was under way
      return loop.newFailedFuture(new IOException("watcher '" + cfg.name + "' was removed"));
    }
    switch (state) {
      case ACTIVE:
        return loop.newSucceededFuture(null);
      case STARTING:
        return startPromise;
      case STOPPING: {
        Promise<Void> p = loop.newPromise();
        stopPromise.addListener(f -> startUnlessPreempted(epoch, p));
        return p;
      }
      default:
        break;
    }
    state = State.STARTING;
    startPromise = loop.newPromise();
    settled = loop.newPromise();
    startPromise.addListener(f -> settle());
    spawnFailures = 0;
    youngDeaths = 0;
    nextSpawnNanos = 0;
    try {
      openStreams();
    } catch (IOException e) {
      state = State.STOPPED;
      LOG.error("watcher {}: cannot open output stream: {}", cfg.name, e.getMessage());
      startPromise.setFailure(e);
      return startPromise;
    }
    LOG.info("watcher {}: starting {} process(es)", cfg.name, numprocesses);
    manage();
    return startPromise;
  }

  /** Completes when the start under way is settled: active, failed, stopped, or backing off after a failure. */
  private Promise<Void> settled;

  /**
   * The start under way has done what it can for now: circusd's start order goes on to the next watcher
   * rather than waiting for one that backs off or retries for ever (it keeps trying on its own timer).
   */
  public Future<Void> startSettled() {
    if (state != State.STARTING || settled == null) {
      return loop.newSucceededFuture(null);
    }
    return settled;
  }

  private void settle() {
    if (settled != null) {
      settled.trySuccess(null);
    }
  }

  private static void complete(Promise<Void> p, Future<?> f) {
    if (f.isSuccess()) {
      p.trySuccess(null);
    } else {
      p.tryFailure(f.cause());
    }
  }

  private void becomeActive() {
    state = State.ACTIVE;
    LOG.info("watcher {}: active with {} process(es)", cfg.name, procs.size());
    event("start", kv("time", now()));
    if (startPromise != null) {
      startPromise.trySuccess(null);
    }
  }

  /** Stops every process gracefully; the future completes when all have been reaped. */
  /**
   * {@code rm --nostop}: the watcher lets go of its processes without signalling them. They are no longer
   * respawned, stopped or killed by circusd (the child guardian forgets them too, so they outlive even a
   * SIGKILL of circusd); circusd still reaps them when they exit, being their parent.
   */
  public void abandonProcesses() {
    state = State.STOPPED;
    if (manageTimer != null) {
      manageTimer.cancel(false);
      manageTimer = null;
    }
    for (ManagedProcess p : procs.values()) {
      p.cancelTimers();
      if (p.notify != null) {
        p.notify.close();
        p.notify = null;
      }
      arbiter.guardian().reaped(p.pid);
      LOG.info("watcher {}: leaving pid {} running (rm --nostop)", cfg.name, p.pid);
    }
    procs.clear(); // onExit ignores what is not in procs: exits are reaped, nothing is respawned
    Promise<Void> rp = reloadPromise;
    reloadPromise = null;
    if (rp != null) {
      rp.tryFailure(new IOException("watcher '" + cfg.name + "' was removed"));
    }
  }

  public Future<Void> stop() {
    if (state == State.STOPPED) {
      return loop.newSucceededFuture(null);
    }
    if (state == State.STOPPING) {
      return stopPromise;
    }
    if (state == State.STARTING && startPromise != null) {
      startPromise.tryFailure(new IOException("watcher " + cfg.name + " was stopped while starting"));
    }
    if (resizePromise != null) {
      Promise<Void> rp = resizePromise;
      resizePromise = null;
      rp.tryFailure(new IOException("watcher " + cfg.name + " was stopped while resizing"));
    }
    state = State.STOPPING;
    stopPromise = loop.newPromise();
    cancelManageTimer();
    LOG.info("watcher {}: stopping {} process(es)", cfg.name, procs.size());
    for (ManagedProcess p : new ArrayList<>(procs.values())) {
      terminate(p, "stop", cfg.gracefulTimeout);
    }
    if (procs.isEmpty()) {
      finishStop();
    }
    return stopPromise;
  }

  private void finishStop() {
    state = State.STOPPED;
    cancelManageTimer();
    if (reloadPromise != null) {
      reloadPromise.tryFailure(new IOException("watcher " + cfg.name + " stopped during reload"));
      reloadPromise = null;
    }
    maybeCloseStreams();
    LOG.info("watcher {}: stopped", cfg.name);
    event("stop", kv("time", now()));
    stopPromise.trySuccess(null);
    if (cfg.onDemand) {
      arbiter.armOnDemand(this); // a stopped on-demand watcher waits for the next connection, as in Circus
    }
  }

  public Future<Void> restart() {
    Promise<Void> p = loop.newPromise();
    long e = epoch;
    stop().addListener(f -> startUnlessPreempted(e, p));
    return p;
  }

  /**
   * The start after a stop (restart, or a start that found the watcher stopping): not if a stop or rm preempted
   * meanwhile ({@code epoch} moved on), or the user's stop would be undone by an operation that was under way.
   */
  private void startUnlessPreempted(long startedAt, Promise<Void> p) {
    if (startedAt != epoch) {
      p.tryFailure(new IOException("cancelled: watcher '" + cfg.name + "' was stopped meanwhile"));
      return;
    }
    start().addListener(g -> complete(p, g));
  }

  /**
   * Circus's reload: not graceful → stop and start; stopped → start; send_hup → SIGHUP every process;
   * otherwise start a new generation of processes, then stop the old ones.
   */
  public Future<Void> reload(boolean graceful) {
    return reload(graceful, false);
  }

  /**
   * {@code sequential}: a rolling reload, never more than one process above numprocesses, a draining old process
   * included: the next new process starts once the previous old one has exited.
   */
  public Future<Void> reload(boolean graceful, boolean sequential) {
    if (state == State.STOPPED || state == State.STOPPING) {
      return start();
    }
    if (!graceful) {
      return restart();
    }
    if (cfg.sendHup) {
      for (ManagedProcess p : procs.values()) {
        p.signal(Signals.SIGHUP);
        event("kill", kv("process_pid", p.pid, "time", now()));
      }
      event("reload", kv("time", now()));
      return loop.newSucceededFuture(null);
    }
    generation++;
    sequentialReload = sequential;
    if (reloadPromise == null) {
      reloadPromise = loop.newPromise();
    }
    Promise<Void> p = reloadPromise;
    manage();
    return p;
  }

  /**
   * Runs {@code op} once every earlier operation on this watcher has finished: operations on one watcher
   * are queued, operations on different watchers run concurrently (no global lock, unlike Circus).
   */
  public <T> Future<T> serialize(java.util.function.Supplier<Future<T>> op) {
    return enqueue(op, false);
  }

  /**
   * Runs {@code op} now, ahead of every queued operation, which is cancelled (its future fails): {@code stop}
   * and {@code rm} must not wait behind a resize or a start that may take hours (a warmup_delay, a watcher
   * retrying for ever). An operation already under way is ended by {@code op} itself ({@link #stop} fails a
   * start, completes a resize and fails a reload). Operations queued after this one run after it, as usual.
   */
  public <T> Future<T> preempt(java.util.function.Supplier<Future<T>> op) {
    return enqueue(op, true);
  }

  private <T> Future<T> enqueue(java.util.function.Supplier<Future<T>> op, boolean now) {
    Promise<T> p = loop.newPromise();
    if (now) {
      epoch++;
    }
    long mine = epoch;
    Runnable run = () -> {
      if (mine != epoch) {
        p.tryFailure(new IOException("cancelled: watcher '" + cfg.name + "' was stopped before this ran"));
        return;
      }
      Future<T> f;
      try {
        f = op.get();
      } catch (RuntimeException e) {
        p.tryFailure(e);
        return;
      }
      f.addListener(x -> {
        if (x.isSuccess()) {
          p.trySuccess(f.getNow());
        } else {
          p.tryFailure(x.cause());
        }
      });
    };
    Future<?> prev = lastOp;
    lastOp = p;
    if (now || prev == null || prev.isDone()) {
      run.run();
    } else {
      prev.addListener(x -> run.run());
    }
    return p;
  }

  /**
   * Takes a new configuration whole ({@code set}, a {@code reloadconfig} that changes only numprocesses): it is in
   * force at once; then, queued behind the watcher's earlier operations, the processes are resized to its
   * numprocesses if that differs from the current target, and reloaded if an option whose change needs new
   * processes ({@link WatcherOptions.Apply#RELOAD}) differs and the watcher is active.
   */
  public Future<Void> reconfigure(WatcherConfig next) {
    WatcherConfig prev = cfg;
    cfg = next;
    boolean reload = false;
    for (WatcherOptions.Option o : WatcherOptions.all()) {
      if (o.apply() == WatcherOptions.Apply.RELOAD && o.view() != null
          && !java.util.Objects.equals(o.view().apply(prev), o.view().apply(next))) {
        reload = true;
      }
    }
    boolean resize = next.numprocesses != numprocesses;
    boolean doReload = reload;
    return serialize(() -> {
      Future<Void> first = resize ? setNumprocesses(next.numprocesses) : loop.newSucceededFuture(null);
      if (!doReload) {
        return first;
      }
      Promise<Void> p = loop.newPromise();
      first.addListener(f -> {
        if (!f.isSuccess()) {
          p.tryFailure(f.cause());
        } else if (state == State.ACTIVE) {
          reload(true).addListener(g -> complete(p, g));
        } else {
          p.trySuccess(null);
        }
      });
      return p;
    });
  }

  /** Changes the target number of processes; completes when it is reached. */
  public Future<Void> setNumprocesses(int n) {
    numprocesses = Math.max(0, n);
    if (resizePromise == null) {
      resizePromise = loop.newPromise();
    }
    Promise<Void> p = resizePromise;
    if (state == State.ACTIVE || state == State.STARTING) {
      manage();
    }
    checkResizeDone();
    return p;
  }

  private void checkResizeDone() {
    if (resizePromise == null) {
      return;
    }
    if (state != State.ACTIVE && state != State.STARTING) {
      Promise<Void> p = resizePromise;
      resizePromise = null;
      p.trySuccess(null);
      return;
    }
    int live = 0;
    for (ManagedProcess p : procs.values()) {
      if (p.stopping) {
        return;
      }
      live++;
    }
    if (live == numprocesses) {
      Promise<Void> p = resizePromise;
      resizePromise = null;
      p.trySuccess(null);
    }
  }

  /**
   * Circus's {@code kill}: stops one process (or all) with {@code sig}, then SIGKILL after
   * {@code timeout}; the watcher respawns them as usual. Completes when they have been reaped.
   */
  public Future<Void> kill(Integer pid, int sig, double timeout) {
    List<ManagedProcess> targets = new ArrayList<>();
    for (ManagedProcess p : procs.values()) {
      if (pid == null || p.pid == pid) {
        targets.add(p);
      }
    }
    Promise<Void> done = loop.newPromise();
    if (targets.isEmpty()) {
      done.setSuccess(null);
      return done;
    }
    int[] left = {targets.size()};
    for (ManagedProcess p : targets) {
      p.exitWatch.onReaped(() -> {
        if (--left[0] == 0) {
          done.trySuccess(null);
        }
      });
      terminate(p, "kill", timeout, sig);
    }
    manage();
    return done;
  }

  public boolean hasProcess(int pid) {
    return procs.containsKey(pid);
  }

  // ---------------------------------------------------------------- the management step

  /** Brings the number of processes to the target: spawns missing ones (with backoff), stops surplus ones. */
  void manage() {
    if (state != State.STARTING && state != State.ACTIVE) {
      return;
    }
    if (manageTimer != null) {
      return; // a timer will come back here
    }
    List<ManagedProcess> current = new ArrayList<>();
    List<ManagedProcess> old = new ArrayList<>();
    for (ManagedProcess p : procs.values()) {
      if (!p.stopping) {
        (p.generation == generation ? current : old).add(p);
      }
    }
    if (sequentialReload && reloadPromise != null && !old.isEmpty()) {
      rollOne(current, old);
      return;
    }
    // Surplus of the current generation: the oldest go first.
    for (int i = 0; i < current.size() - numprocesses; i++) {
      terminate(current.get(i), "surplus", cfg.gracefulTimeout);
    }
    int missing = numprocesses - current.size();
    if (missing <= 0) {
      if (!old.isEmpty() && reloadPromise != null && !readyOrWaiting(current)) {
        return; // the old processes serve until the new ones report ready
      }
      for (ManagedProcess p : old) {
        terminate(p, "reload", cfg.gracefulTimeout);
      }
      if (state == State.STARTING) {
        becomeActive();
      }
      checkReloadDone();
      checkResizeDone();
      return;
    }
    if (state == State.ACTIVE && !cfg.respawn && reloadPromise == null && resizePromise == null) {
      // respawn = false: exited processes are not replaced; a reload or an incr still starts new ones, as Circus
      if (procs.isEmpty()) {
        LOG.info("watcher {}: no process left and respawn is off", cfg.name);
        stop();
      }
      return;
    }
    if (backingOff()) {
      return;
    }
    int n = cfg.warmupDelay > 0 ? 1 : Math.min(missing, SPAWN_BATCH);
    for (int i = 0; i < n; i++) {
      if (!spawnOrBackOff()) {
        return;
      }
    }
    if (missing > n) {
      if (cfg.warmupDelay > 0) {
        scheduleManage((long) (cfg.warmupDelay * 1e9));
      } else {
        loop.execute(this::manage);
      }
    } else {
      manage(); // completes the start or the reload
    }
  }

  /** True (and a timer set) while the crash-loop backoff forbids spawning. */
  private boolean backingOff() {
    long now = System.nanoTime();
    if (now < nextSpawnNanos) {
      scheduleManage(nextSpawnNanos - now);
      return true;
    }
    return false;
  }

  /** Spawns one process; on failure applies max_retry and the backoff and returns false. */
  private boolean spawnOrBackOff() {
    try {
      spawn();
      spawnFailures = 0;
      return true;
    } catch (IOException e) {
      onSpawnFailure(e);
      return false;
    }
  }

  /** sd_notify READY=1 from {@code p}: a rolling reload waiting for it goes on at once. */
  private void onReady(ManagedProcess p) {
    if (p.ready || !procs.containsKey(p.pid)) {
      return;
    }
    p.ready = true;
    LOG.info("watcher {}: pid {} is ready after {} ms", cfg.name, p.pid,
        (System.nanoTime() - p.startedNanos) / 1_000_000);
    if (p.notify != null) {
      p.notify.close();
      p.notify = null;
    }
    if (manageTimer != null) {
      manageTimer.cancel(false);
      manageTimer = null;
    }
    manage();
  }

  /**
   * Ready: reported READY=1 or passed its check (readiness = notify, check), or alive for warmup_delay. A process
   * found exited while being judged ({@link #warmedUp}) was never ready, however late its exit was noticed.
   */
  private boolean ready(ManagedProcess p) {
    if (cfg.waitsForReady() || p.ready) {
      return p.ready;
    }
    return !p.judging && System.nanoTime() - p.startedNanos >= (long) (cfg.warmupDelay * 1e9);
  }

  /**
   * Readiness by warmup_delay, judged when a rolling reload is about to retire an old process for {@code p}: the
   * delay has passed and {@code p} is still alive. An exit that is due on the same loop turn as the timer (or
   * noticed late on a loaded machine) is reaped here first, and counts as an exit before ready.
   */
  private boolean warmedUp(ManagedProcess p) {
    if (p.ready) {
      return true;
    }
    if (System.nanoTime() - p.startedNanos < (long) (cfg.warmupDelay * 1e9)) {
      return false;
    }
    p.judging = true;
    try {
      if (p.exitWatch.reapIfExited()) {
        return false; // onExit has run (and abandoned the reload)
      }
    } finally {
      p.judging = false;
    }
    p.ready = true;
    return true;
  }

  /**
   * With readiness = notify, true when every process of {@code current} has reported READY=1. Otherwise
   * schedules a check for the oldest waiting one's deadline, or, past it, abandons the reload.
   */
  private boolean readyOrWaiting(List<ManagedProcess> current) {
    if (!cfg.waitsForReady()) {
      return true;
    }
    long limit = (long) (cfg.readyTimeout * 1e9);
    long soonest = Long.MAX_VALUE;
    for (ManagedProcess p : current) {
      if (!p.ready) {
        long waited = System.nanoTime() - p.startedNanos;
        if (waited >= limit) {
          abandonReload(p, "did not report READY=1 within " + cfg.readyTimeout + " s");
          return false;
        }
        soonest = Math.min(soonest, limit - waited);
      }
    }
    if (soonest == Long.MAX_VALUE) {
      return true;
    }
    scheduleManage(soonest);
    return false;
  }

  /**
   * True if {@code p}, which just exited unasked, was a new process of a reload that had not become ready while
   * older processes still serve: the reload is then abandoned rather than retried with backoff for as long as
   * the new processes keep failing (a build that cannot start would otherwise hold the reload, and every
   * operation queued behind it, indefinitely).
   */
  private boolean diedBeforeReady(ManagedProcess p) {
    if (p.stopping || reloadPromise == null || p.generation != generation || ready(p)) {
      return false;
    }
    for (ManagedProcess q : procs.values()) {
      if (!q.stopping && q.generation != generation) {
        return true;
      }
    }
    return false;
  }

  /**
   * A new process did not report ready in time, or exited before it was: the new processes not ready yet are
   * stopped, the reload fails, and every process still running (the old ones, and new ones that did become
   * ready) is kept as the current set.
   */
  private void abandonReload(ManagedProcess late, String what) {
    String msg = "reload of '" + cfg.name + "' abandoned: pid " + late.pid + " " + what
        + "; the processes already serving keep running";
    LOG.error("watcher {}: {}", cfg.name, msg);
    for (ManagedProcess p : new ArrayList<>(procs.values())) {
      if (!p.stopping && p.generation == generation && !ready(p)) {
        terminate(p, "not ready", cfg.gracefulTimeout);
      }
    }
    for (ManagedProcess p : procs.values()) {
      p.generation = generation;
    }
    sequentialReload = false;
    Promise<Void> rp = reloadPromise;
    reloadPromise = null;
    if (rp != null) {
      rp.tryFailure(new IOException(msg));
    }
  }

  /** One step of a rolling reload. */
  private void rollOne(List<ManagedProcess> current, List<ManagedProcess> old) {
    for (ManagedProcess p : procs.values()) {
      if (p.stopping) {
        return; // still draining: its exit calls manage() again
      }
    }
    ManagedProcess newest = current.isEmpty() ? null : current.get(current.size() - 1);
    long warm = cfg.waitsForReady() ? 0 : (long) (cfg.warmupDelay * 1e9);
    if (newest != null && current.size() + old.size() > numprocesses) {
      if (!readyOrWaiting(List.of(newest))) {
        return;
      }
      long age = System.nanoTime() - newest.startedNanos;
      if (age < warm) {
        scheduleManage(warm - age);
        return;
      }
      if (!cfg.waitsForReady() && !warmedUp(newest)) {
        return; // it exited before it was seen warm: its exit has been handled
      }
      terminate(old.get(0), "reload", cfg.gracefulTimeout); // its replacement is up: retire one old process
      manage();
      return;
    }
    if (!backingOff() && spawnOrBackOff()) {
      scheduleManage(warm);
    }
  }

  private void checkReloadDone() {
    if (reloadPromise == null) {
      return;
    }
    for (ManagedProcess p : procs.values()) {
      if (p.generation != generation) {
        return;
      }
    }
    Promise<Void> p = reloadPromise;
    reloadPromise = null;
    sequentialReload = false;
    event("reload", kv("time", now()));
    p.trySuccess(null);
  }

  private void scheduleManage(long nanos) {
    manageTimer = loop.schedule(() -> {
      manageTimer = null;
      manage();
    }, Math.max(0, nanos), TimeUnit.NANOSECONDS);
  }

  private void cancelManageTimer() {
    if (manageTimer != null) {
      manageTimer.cancel(false);
      manageTimer = null;
    }
  }

  /** The delay before the next spawn after {@code youngDeaths} quick deaths in a row. */
  long backoffNanos() {
    if (youngDeaths <= 0) {
      return 0;
    }
    double d = cfg.backoffInitial * Math.pow(cfg.backoffFactor, Math.min(youngDeaths - 1, 60));
    return (long) (Math.min(d, cfg.backoffMax) * 1e9);
  }

  private void onSpawnFailure(IOException e) {
    spawnFailures++;
    youngDeaths++;
    long delay = backoffNanos();
    nextSpawnNanos = System.nanoTime() + delay;
    if (cfg.maxRetry >= 0 && spawnFailures > cfg.maxRetry) {
      LOG.error("watcher {}: {}; giving up after {} failed attempt(s) (max_retry = {}), stopping the watcher",
          cfg.name, e.getMessage(), spawnFailures, cfg.maxRetry);
      if (startPromise != null && !startPromise.isDone()) {
        startPromise.tryFailure(e);
      }
      stop();
      return;
    }
    LOG.error("watcher {}: {}; retrying in {} ms", cfg.name, e.getMessage(), delay / 1_000_000);
    settle();
    scheduleManage(delay);
  }

  // ---------------------------------------------------------------- spawning

  /** The sd_notify socket of the spawn in progress; {@link #adopt} hands it to the new process. */
  private NotifySocket pendingNotify;
  /** The expanded readiness check of the spawn in progress. */
  private String pendingCheck;

  private void spawn() throws IOException {
    try {
      spawnOne();
    } finally {
      if (pendingNotify != null) { // the spawn failed
        pendingNotify.close();
        pendingNotify = null;
      }
      pendingCheck = null;
    }
  }

  private void spawnOne() throws IOException {
    int wid = wids.nextClearBit(1);
    // socket name → fd in circusd, and → fd in the child (the same number, except for systemd's 3, 4, …)
    Map<String, Integer> parentFds = new LinkedHashMap<>();
    Map<String, Integer> socketFds = new LinkedHashMap<>();
    List<Channel> perProcess = new ArrayList<>();
    List<ManagedSocket> passed = socketsToPass();
    try {
      for (ManagedSocket s : passed) {
        int fd;
        if (s.config().reusePort()) {
          Channel ch = s.bindForProcess();
          perProcess.add(ch);
          fd = ManagedSocket.fdOf(ch);
        } else {
          fd = s.fd();
        }
        parentFds.put(s.name(), fd);
        socketFds.put(s.name(), cfg.handoff == WatcherConfig.Handoff.SYSTEMD ? 3 + socketFds.size() : fd);
      }
      if (cfg.notifyReady) {
        pendingNotify = NotifySocket.bind(arbiter.runtimeDir().resolve(
            cfg.name.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + wid + "-" + spawnCount + ".sock"), cfg.uid, cfg.gid);
      }
      SpawnPlan plan = SpawnPlan.of(cfg, wid, numprocesses, socketFds,
          pendingNotify == null ? null : pendingNotify.path.toString(),
          new SpawnPlan.Context(arbiter.euid(), arbiter.egid(), ProcessHandle.current().pid(), System.getenv()));
      pendingCheck = plan.readyCheck;
      Spawner.Request req = new Spawner.Request(plan.path, plan.argv, plan.env);
      if (cfg.workingDir != null) {
        req.workingDir(cfg.workingDir);
      }
      req.ownSession(cfg.ownSession);
      // stdin
      if (cfg.stdinSocket != null) {
        req.fd(0, parentFds.getOrDefault(cfg.stdinSocket, arbiter.socket(cfg.stdinSocket).fd()));
      } else if (cfg.closeChildStdin) {
        req.devNull(0, Posix.O_RDONLY);
      } else {
        req.fd(0, 0);
      }
      for (Map.Entry<String, Integer> e : socketFds.entrySet()) {
        req.fd(e.getValue(), parentFds.get(e.getKey()));
      }
      int[] outPipe = null;
      int[] errPipe = null;
      try {
        outPipe = setupOutput(req, 1, cfg.closeChildStdout, stdoutSink);
        errPipe = setupOutput(req, 2, cfg.closeChildStderr, stderrSink);
        int pid = Spawner.spawn(req);
        spawnCount++;
        Posix.closeQuietly(outPipe == null ? -1 : outPipe[1]);
        Posix.closeQuietly(errPipe == null ? -1 : errPipe[1]);
        int outRead = outPipe == null ? -1 : outPipe[0];
        int errRead = errPipe == null ? -1 : errPipe[0];
        outPipe = null;
        errPipe = null;
        adopt(pid, wid, outRead, errRead);
      } finally {
        if (outPipe != null) {
          Posix.closeQuietly(outPipe[0]);
          Posix.closeQuietly(outPipe[1]);
        }
        if (errPipe != null) {
          Posix.closeQuietly(errPipe[0]);
          Posix.closeQuietly(errPipe[1]);
        }
      }
    } finally {
      for (Channel ch : perProcess) {
        ch.close(); // the child holds its own reference now
      }
    }
  }

  private int[] setupOutput(Spawner.Request req, int fd, boolean close, OutputSink sink) throws IOException {
    if (close) {
      req.devNull(fd, Posix.O_WRONLY);
      return null;
    }
    if (sink == null && arbiter.liveOutput() == null) {
      req.fd(fd, fd); // Circus: without a stream the child writes to circusd's own stdout/stderr
      return null;
    }
    // with live output on, circusd reads every child's output and passes it on to its own stdout/stderr
    int[] p = Posix.pipeCloexec();
    Posix.setNonBlocking(p[0], true);
    Posix.trySetPipeSize(p[0], 1 << 20);
    req.fd(fd, p[1]);
    return p;
  }

  private void adopt(int pid, int wid, int outRead, int errRead) throws IOException {
    ExitWatch watch;
    try {
      watch = ExitWatch.watch(loop, pid, st -> onExit(pid, st));
    } catch (IOException e) {
      Posix.kill(pid, Signals.SIGKILL);
      Posix.closeQuietly(outRead);
      Posix.closeQuietly(errRead);
      throw e;
    }
    ManagedProcess p = new ManagedProcess(pid, wid, watch, generation);
    procs.put(pid, p);
    if (pendingNotify != null) {
      p.notify = pendingNotify;
      pendingNotify = null;
      p.notify.watch(loop, () -> onReady(p));
    }
    if (pendingCheck != null) {
      String check = pendingCheck;
      pendingCheck = null;
      ReadyCheck.poll(loop, check, () -> procs.containsKey(pid) && !p.ready,
          (long) (cfg.readyTimeout * 1000), () -> onReady(p));
    }
    wids.set(wid);
    arbiter.guardian().spawned(pid);
    OutputSink out = stdoutSink;
    OutputSink err = stderrSink;
    io.jcircus.server.stream.LiveOutput live = arbiter.liveOutput();
    if (live != null) {
      OutputSink[] tees = live.sinks(cfg.name.toLowerCase(Locale.ROOT), pid,
          out != null ? out : PASS_STDOUT, err != null ? err : PASS_STDERR);
      out = tees[0];
      err = tees[1];
    }
    if (outRead >= 0) {
      attachReader(p, outRead, out, "stdout");
    }
    if (errRead >= 0) {
      attachReader(p, errRead, err, "stderr");
    }
    if (cfg.maxAge > 0) {
      long delay = cfg.maxAge * 1000L + (cfg.maxAgeVariance > 0
          ? ThreadLocalRandom.current().nextLong(cfg.maxAgeVariance * 1000L + 1) : 0);
      p.maxAgeTimer = loop.schedule(() -> {
        p.maxAgeTimer = null;
        if (procs.containsKey(pid) && !p.stopping) {
          LOG.info("watcher {}: pid {} reached max_age, replacing it", cfg.name, pid);
          terminate(p, "max_age", cfg.gracefulTimeout);
          manage();
        }
      }, delay, TimeUnit.MILLISECONDS);
    }
    LOG.debug("watcher {}: spawned pid {} (wid {})", cfg.name, pid, wid);
    event("spawn", kv("process_pid", pid, "time", p.started));
  }

  private void attachReader(ManagedProcess p, int fd, OutputSink sink, String what) {
    openReaders++;
    PipeReader r = new PipeReader(fd, sink, p.pid, what, () -> loop.execute(this::readerClosed));
    p.pipes.add(r);
    IoEventLoop streams = arbiter.streamsLoop();
    streams.execute(() -> {
      io.netty.util.concurrent.Future<IoRegistration> f = streams.register(r);
      f.addListener(x -> {
        if (x.isSuccess()) {
          r.registered((IoRegistration) x.getNow());
        } else {
          LOG.warn("watcher {}: cannot read {} of pid {}: {}", cfg.name, what, p.pid, x.cause().toString());
          r.close();
          loop.execute(this::readerClosed);
        }
      });
    });
  }

  private void readerClosed() {
    openReaders--;
    maybeCloseStreams();
  }

  /** The environment of the systemd and Einhorn conventions, for the sockets in child fd order. */
  private List<ManagedSocket> socketsToPass() {
    List<ManagedSocket> out = new ArrayList<>();
    if (cfg.useSockets) {
      // Only the sockets the command names; with no reference at all, every socket (as Circus does).
      if (cfg.socketRefs.isEmpty()) {
        out.addAll(arbiter.sockets());
      } else {
        for (String n : cfg.socketRefs) {
          out.add(arbiter.socket(n));
        }
      }
    }
    if (cfg.stdinSocket != null) {
      ManagedSocket s = arbiter.socket(cfg.stdinSocket);
      if (!out.contains(s) && s.config().reusePort()) {
        out.add(s);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- stopping processes

  /** Asks a process to stop: stop_signal now, SIGKILL to its group after {@code timeout} seconds. */
  void terminate(ManagedProcess p, String reason, double timeout) {
    terminate(p, reason, timeout, cfg.stopSignal);
  }

  void terminate(ManagedProcess p, String reason, double timeout, int sig) {
    if (p.stopping) {
      return;
    }
    p.stopping = true;
    p.stopReason = reason;
    if (p.maxAgeTimer != null) {
      p.maxAgeTimer.cancel(false);
      p.maxAgeTimer = null;
    }
    if (cfg.stopChildren) {
      p.descendants = ProcFs.descendants(p.pid);
    }
    p.signal(sig);
    event("kill", kv("process_pid", p.pid, "time", now()));
    if (cfg.stopChildren) {
      for (long[] d : p.descendants) {
        if (ProcFs.startTime((int) d[0]) == d[1]) {
          Posix.kill((int) d[0], sig);
          event("kill", kv("process_pid", (int) d[0], "time", now()));
        }
      }
    }
    long ms = (long) (timeout * 1000);
    p.killTimer = loop.schedule(() -> hardKill(p), ms, TimeUnit.MILLISECONDS);
  }

  private void hardKill(ManagedProcess p) {
    p.killTimer = null;
    if (!p.exitWatch.isReaped()) {
      LOG.info("watcher {}: pid {} still alive after graceful_timeout ({} s), sending SIGKILL",
          cfg.name, p.pid, cfg.gracefulTimeout);
      event("kill", kv("process_pid", p.pid, "time", now()));
    }
    List<long[]> victims = new ArrayList<>(p.descendants);
    if (cfg.stopChildren && !p.exitWatch.isReaped()) {
      victims.addAll(ProcFs.descendants(p.pid));
    }
    // The group is pinned while any member lives, so this cannot hit a stranger.
    p.signalGroup(Signals.SIGKILL);
    p.signal(Signals.SIGKILL);
    for (long[] d : victims) {
      if (ProcFs.startTime((int) d[0]) == d[1]) {
        Posix.kill((int) d[0], Signals.SIGKILL);
      }
    }
  }

  /** Sends {@code sig} to one process, or to all; returns how many were signalled. */
  public int signal(int sig, Integer pid, boolean children) {
    int n = 0;
    for (ManagedProcess p : procs.values()) {
      if (pid != null && p.pid != pid) {
        continue;
      }
      if (p.signal(sig) == 0) {
        n++;
        event("kill", kv("process_pid", p.pid, "time", now()));
      }
      if (children) {
        for (long[] d : ProcFs.descendants(p.pid)) {
          Posix.kill((int) d[0], sig);
        }
      }
    }
    return n;
  }

  // ---------------------------------------------------------------- exits

  private void onExit(int pid, Posix.ExitStatus st) {
    ManagedProcess p = procs.get(pid);
    if (p == null) {
      return;
    }
    boolean diedBeforeReady = diedBeforeReady(p);
    procs.remove(pid);
    wids.clear(p.wid);
    arbiter.guardian().reaped(pid);
    if (p.notify != null) {
      p.notify.close();
      p.notify = null;
    }
    if (p.maxAgeTimer != null) {
      p.maxAgeTimer.cancel(false);
    }
    if (p.killTimer != null && !(cfg.stopChildren && p.stopping)) {
      p.killTimer.cancel(false); // with stop_children it stays armed for descendants left behind (#1044)
    }
    double uptime = p.uptimeSeconds();
    Map<String, Object> payload = new LinkedHashMap<>();
    payload.put("process_pid", pid);
    payload.put("time", now());
    payload.put("exit_code", st.exitCode());
    payload.put("commanded", p.stopping);
    if (p.stopping) {
      payload.put("reason", p.stopReason);
    }
    event("reap", payload);
    for (ManagedSocket s : socketsToPass()) {
      String lost = s == null ? null : s.pathLost();
      if (lost != null) {
        LOG.error("watcher {}: socket '{}': {} by the time pid {} exited: the socket still listens, but clients that"
            + " connect by path cannot reach it until circusd restarts. gunicorn removes a unix socket it was given"
            + " as fd://N when it stops; give it the socket with handoff = systemd (LISTEN_FDS), which it leaves"
            + " in place", cfg.name, s.name(), lost, pid);
      }
    }
    if (p.stopping) {
      LOG.debug("watcher {}: pid {} stopped ({}), exit code {}", cfg.name, pid, p.stopReason, st.exitCode());
    } else if (!cfg.respawn) {
      LOG.info("watcher {}: pid {} exited with code {} (respawn is off)", cfg.name, pid, st.exitCode());
    } else {
      if (uptime < cfg.backoffMinUptime) {
        youngDeaths++;
      } else {
        youngDeaths = 0;
      }
      long delay = backoffNanos();
      nextSpawnNanos = System.nanoTime() + delay;
      String how = st.signalled() ? "killed by " + Signals.name(-st.exitCode()) : "exited with code " + st.exitCode();
      if (delay > 0) {
        settle();
        LOG.warn("watcher {}: pid {} {} after {} s; {} quick exit(s) in a row, next spawn in {} ms",
            cfg.name, pid, how, String.format(Locale.ROOT, "%.2f", uptime), youngDeaths, delay / 1_000_000);
      } else {
        LOG.info("watcher {}: pid {} {} after {} s", cfg.name, pid, how, String.format(Locale.ROOT, "%.2f", uptime));
      }
    }
    if (state == State.STOPPING) {
      if (procs.isEmpty()) {
        finishStop();
      }
      return;
    }
    if (diedBeforeReady) {
      String how = st.signalled() ? "was killed by " + Signals.name(-st.exitCode())
          : "exited with code " + st.exitCode();
      abandonReload(p, how + " before " + (cfg.notifyReady ? "it reported READY=1"
          : cfg.readyCheck != null ? "its readiness check passed"
          : "its warmup_delay of " + cfg.warmupDelay + " s passed"));
    }
    manage();
    checkReloadDone();
    checkResizeDone();
  }

  // ---------------------------------------------------------------- streams

  private void openStreams() throws IOException {
    if (stdoutSink == null && cfg.stdoutStream != null && !cfg.closeChildStdout) {
      stdoutSink = open(cfg.stdoutStream);
    }
    if (stderrSink == null && cfg.stderrStream != null && !cfg.closeChildStderr) {
      stderrSink = open(cfg.stderrStream);
    }
  }

  private OutputSink open(StreamConfig sc) throws IOException {
    return arbiter.streams().open(sc, cfg.name.hashCode());
  }

  private void maybeCloseStreams() {
    if (state != State.STOPPED || openReaders > 0) {
      return;
    }
    OutputSink out = stdoutSink;
    OutputSink err = stderrSink;
    stdoutSink = null;
    stderrSink = null;
    if (out != null || err != null) {
      arbiter.streamsLoop().execute(() -> {
        if (out != null) {
          out.close();
        }
        if (err != null) {
          err.close();
        }
      });
    }
  }

  @Override
  public String toString() {
    return "watcher " + cfg.name + " (" + state + ", " + procs.size() + " process(es))";
  }
}
