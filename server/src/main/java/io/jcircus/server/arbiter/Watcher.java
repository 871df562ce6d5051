package io.jcircus.server.arbiter;

import static io.jcircus.server.arbiter.Payload.kv;
import static io.jcircus.server.arbiter.Payload.now;

import io.jcircus.server.config.WatcherConfig;
import io.jcircus.server.config.WatcherOptions;
import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.internal.posix.Signals;
import io.netty.channel.IoEventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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

  private final WatcherHost host;
  /** Replaced whole by {@link #reconfigure}; read on the loop only. */
  private WatcherConfig cfg;
  private final IoEventLoop loop;
  private final String topicName;
  private State state = State.STOPPED;
  private int numprocesses;
  final ProcessTable procs;

  private final WatcherOutput output;

  private final Backoff backoff = new Backoff();
  private ScheduledFuture<?> manageTimer;

  private Promise<Void> startPromise;
  private Promise<Void> stopPromise;
  private final Pending resize = new Pending();
  private final Rollout rollout = new Rollout(this);
  private final OpQueue ops;
  /** Set by {@code rm}: the watcher stays listed, stopping, until its last process is reaped. */
  private boolean removed;
  /** The hooks of {@link #cfg} (made again when the configuration changes). */
  private Hooks hooks;
  private WatcherConfig hooksOf;
  /** before_spawn: a hook under way, and the spawns it allowed that are not made yet. */
  private boolean beforeSpawnRunning;
  private int spawnPermits;

  private Hooks hooks() {
    if (hooksOf != cfg) {
      hooks = Hooks.of(cfg);
      hooksOf = cfg;
    }
    return hooks;
  }

  /** {@code stats --extended}: a process's figures with what the extended_stats hook adds (as they are without one). */
  public Future<Map<String, Object>> extendedStats(int pid, Map<String, Object> stats) {
    return hooks().has("extended_stats") ? hooks().extendedStats(this, loop, pid, stats)
        : loop.newSucceededFuture(stats);
  }

  /** Runs hook {@code name}; the result (go on?) comes back on the loop. */
  private Future<Boolean> hook(String name, Map<String, Object> args) {
    return hooks().run(this, loop, name, args);
  }

  Watcher(WatcherHost host, WatcherConfig cfg, IoEventLoop loop) {
    this.host = host;
    this.cfg = cfg;
    this.loop = loop;
    this.output = new WatcherOutput(host, loop);
    this.procs = new ProcessTable(host, loop, output, this::onExit, this::onReady, this::replaceOld, this::notAlive);
    this.ops = new OpQueue(loop, "watcher '" + cfg.name + "'");
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
    return procs.pids();
  }

  public List<ManagedProcess> processes() {
    return procs.all();
  }

  /** Spawns so far (for tests and stats). */
  public int spawnCount() {
    return procs.spawned();
  }

  /** The metrics' view of this watcher's processes (Rollout reports readiness through it). */
  ProcessObserver observer() {
    return host.observer();
  }

  void event(String name, Map<String, Object> payload) {
    host.publish(topicName, name, payload);
  }

  // ---------------------------------------------------------------- start / stop / reload

  /** Starts the processes; the future completes when {@code numprocesses} are running. */
  public Future<Void> start() {
    if (removed) {
      // rm (or a reloadconfig that recreates it) took this watcher: nothing may give it processes again, not
      // even the second half of a restart that was under way
      return loop.newFailedFuture(new IOException("watcher '" + cfg.name + "' was removed"));
    }
    if (!host.mayRun(this)) {
      return loop.newFailedFuture(new IOException("watcher '" + cfg.name + "' is a cluster singleton that another"
          + " node holds (or ZooKeeper has not elected this one)"));
    }
    switch (state) {
      case ACTIVE:
        return loop.newSucceededFuture(null);
      case STARTING:
        return startPromise;
      case STOPPING: {
        Promise<Void> p = loop.newPromise();
        long e = ops.epoch();
        stopPromise.addListener(f -> startUnlessPreempted(e, p));
        return p;
      }
      default:
        break;
    }
    state = State.STARTING;
    startPromise = loop.newPromise();
    settled = loop.newPromise();
    startPromise.addListener(f -> settle());
    backoff.reset();
    try {
      output.open(cfg);
    } catch (IOException e) {
      state = State.STOPPED;
      LOG.error("watcher {}: cannot open output stream: {}", cfg.name, e.getMessage());
      startPromise.setFailure(e);
      return startPromise;
    }
    LOG.info("watcher {}: starting {} process(es)", cfg.name, numprocesses);
    if (!hooks().has("before_start")) {
      manage();
      return startPromise;
    }
    Promise<Void> starting = startPromise;
    hook("before_start", kv()).addListener(f -> {
      if (state != State.STARTING || startPromise != starting) {
        return; // stopped (or started again) meanwhile
      }
      if (Boolean.TRUE.equals(f.getNow())) {
        manage();
      } else {
        state = State.STOPPED;
        LOG.warn("watcher {}: before_start hook failed; not started", cfg.name);
        starting.tryFailure(new IOException("watcher '" + cfg.name + "': before_start hook failed"));
      }
    });
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
    if (hooks().has("after_start")) {
      hook("after_start", kv()).addListener(f -> {
        if (!Boolean.TRUE.equals(f.getNow()) && state == State.ACTIVE) {
          LOG.warn("watcher {}: after_start hook failed; stopping it", cfg.name);
          stop();
        }
      });
    }
  }

  /**
   * {@code rm --nostop}: the watcher lets go of its processes without signalling them. They are no longer
   * respawned, stopped or killed by circusd (the child guardian forgets them too, so they outlive even a
   * SIGKILL of circusd); circusd still reaps them when they exit, being their parent.
   */
  public void abandonProcesses() {
    state = State.STOPPED;
    cancelManageTimer();
    procs.letGo(cfg.name);
    rollout.fail("watcher '" + cfg.name + "' was removed");
  }

  /** Stops every process gracefully; the future completes when all have been reaped. */
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
    resize.fail("watcher " + cfg.name + " was stopped while resizing");
    state = State.STOPPING;
    stopPromise = loop.newPromise();
    cancelManageTimer();
    LOG.info("watcher {}: stopping {} process(es)", cfg.name, procs.size());
    if (!hooks().has("before_stop")) {
      stopProcesses();
      return stopPromise;
    }
    Promise<Void> stopping = stopPromise;
    hook("before_stop", kv()).addListener(f -> { // its answer changes nothing, as in Circus; its time is waited for
      if (state == State.STOPPING && stopPromise == stopping) {
        stopProcesses();
      }
    });
    return stopPromise;
  }

  private void stopProcesses() {
    for (ManagedProcess p : procs.all()) {
      terminate(p, "stop", cfg.gracefulTimeout);
    }
    if (procs.isEmpty()) {
      finishStop();
    }
  }

  private void finishStop() {
    state = State.STOPPED;
    cancelManageTimer();
    rollout.fail("watcher " + cfg.name + " stopped during reload");
    output.closeIfDrained();
    LOG.info("watcher {}: stopped", cfg.name);
    event("stop", kv("time", now()));
    stopPromise.trySuccess(null);
    hook("after_stop", kv());
    if (cfg.onDemand) {
      host.armOnDemand(this); // a stopped on-demand watcher waits for the next connection, as in Circus
    }
  }

  public Future<Void> restart() {
    Promise<Void> p = loop.newPromise();
    long e = ops.epoch();
    stop().addListener(f -> startUnlessPreempted(e, p));
    return p;
  }

  /**
   * The start after a stop (restart, or a start that found the watcher stopping): not if a stop or rm preempted
   * meanwhile ({@code epoch} moved on), or the user's stop would be undone by an operation that was under way.
   */
  private void startUnlessPreempted(long startedAt, Promise<Void> p) {
    if (startedAt != ops.epoch()) {
      p.tryFailure(new IOException("cancelled: watcher '" + cfg.name + "' was stopped meanwhile"));
      return;
    }
    start().addListener(g -> complete(p, g));
  }

  /**
   * Circus's reload: not graceful → stop and start; stopped → start; send_hup → SIGHUP every process; otherwise
   * a new generation of processes, then the old ones stop. {@code sequential}: a rolling reload, never more than
   * one process above numprocesses, a draining old one included.
   */
  public Future<Void> reload(boolean graceful, boolean sequential) {
    if (state == State.STOPPED || state == State.STOPPING) {
      return start();
    }
    if (!graceful) {
      return restart();
    }
    if (cfg.sendHup) {
      procs.signal(Signals.SIGHUP, null, false, pid -> event("kill", kv("process_pid", pid, "time", now())));
      event("reload", kv("time", now()));
      return loop.newSucceededFuture(null);
    }
    procs.nextGeneration();
    Future<Void> p = rollout.begin(sequential, loop);
    manage();
    return p;
  }

  /** Runs {@code op} once every earlier operation on this watcher has finished (see {@link OpQueue}). */
  public <T> Future<T> serialize(java.util.function.Supplier<Future<T>> op) {
    return ops.serialize(op);
  }

  /**
   * Runs {@code op} now, cancelling every queued operation: {@code stop} and {@code rm} must not wait behind a
   * resize or a start that may take hours. An operation already under way is ended by {@code op} itself
   * ({@link #stop} fails a start, completes a resize and fails a reload).
   */
  public <T> Future<T> preempt(java.util.function.Supplier<Future<T>> op) {
    return ops.preempt(op);
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
          reload(true, false).addListener(g -> complete(p, g));
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
    Future<Void> f = resize.join(loop);
    if (state == State.ACTIVE || state == State.STARTING) {
      manage();
    }
    checkResizeDone();
    return f;
  }

  /** A resize is done once the watcher is not running, or runs exactly its target with none stopping. */
  private void checkResizeDone() {
    if (resize.active() && ((state != State.ACTIVE && state != State.STARTING)
        || (!procs.anyStopping() && procs.size() == numprocesses))) {
      resize.succeed();
    }
  }

  /**
   * Circus's {@code kill}: stops one process (or all) with {@code sig}, then SIGKILL after
   * {@code timeout}; the watcher respawns them as usual. Completes when they have been reaped.
   */
  public Future<Void> kill(Integer pid, int sig, double timeout) {
    return kill(pid, sig, timeout, false);
  }

  /**
   * {@code replaceFirst}: when one process is killed and the watcher serves a socket, it is {@linkplain #replace
   * replaced}: signalled once its successor is ready, so the socket never has one worker fewer (resource_watcher
   * asks for this).
   */
  public Future<Void> kill(Integer pid, int sig, double timeout, boolean replaceFirst) {
    List<ManagedProcess> targets = pid == null ? procs.all()
        : procs.contains(pid) ? List.of(procs.get(pid)) : List.of();
    boolean replacing = replaceFirst && pid != null && !targets.isEmpty();
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
      if (replacing) {
        replace(p, "kill", timeout, sig);
      } else {
        terminate(p, "kill", timeout, sig);
      }
    }
    manage();
    return done;
  }

  public boolean hasProcess(int pid) {
    return procs.contains(pid);
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
    List<ManagedProcess> current = procs.serving(true);
    List<ManagedProcess> old = procs.serving(false);
    if (rollout.rolling() && !old.isEmpty()) {
      rollout.rollOne(current, old);
      return;
    }
    // Surplus of the current generation: the oldest go first.
    for (int i = 0; i < current.size() - numprocesses; i++) {
      terminate(current.get(i), "surplus", cfg.gracefulTimeout);
    }
    int missing = numprocesses - current.size();
    if (missing <= 0) {
      if (!old.isEmpty() && rollout.active() && !rollout.readyOrWaiting(current)) {
        return; // the old processes serve until the new ones report ready
      }
      for (ManagedProcess p : old) {
        terminate(p, "reload", cfg.gracefulTimeout);
      }
      if (state == State.STARTING) {
        becomeActive();
      }
      rollout.checkDone();
      checkResizeDone();
      return;
    }
    if (state == State.ACTIVE && !cfg.respawn && !rollout.active() && !resize.active()) {
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
  boolean backingOff() {
    long wait = backoff.remaining(System.nanoTime());
    if (wait > 0) {
      scheduleManage(wait);
      return true;
    }
    return false;
  }

  /** Spawns one process; on failure applies max_retry and the backoff and returns false. */
  boolean spawnOrBackOff() {
    if (hooks().has("before_spawn")) {
      if (spawnPermits == 0) {
        if (!beforeSpawnRunning) {
          beforeSpawnRunning = true;
          hook("before_spawn", kv()).addListener(f -> {
            beforeSpawnRunning = false;
            if (state != State.STARTING && state != State.ACTIVE) {
              return;
            }
            if (Boolean.TRUE.equals(f.getNow())) {
              spawnPermits++;
              manage();
            } else {
              onSpawnFailure(new IOException("before_spawn hook failed")); // max_retry and the backoff apply
            }
          });
        }
        return false; // for now: manage() comes back with the hook's answer
      }
      spawnPermits--;
    }
    try {
      ManagedProcess p = procs.spawn(cfg, numprocesses, () -> {
        if (state == State.STOPPED) {
          output.closeIfDrained();
        }
      });
      event("spawn", kv("process_pid", p.pid, "time", p.started));
      backoff.spawned();
      if (hooks().has("after_spawn")) {
        hook("after_spawn", kv("pid", p.pid)).addListener(f -> {
          if (!Boolean.TRUE.equals(f.getNow()) && procs.contains(p.pid)
              && (state == State.STARTING || state == State.ACTIVE)) {
            LOG.warn("watcher {}: after_spawn hook failed for pid {}; stopping the watcher", cfg.name, p.pid);
            stop(); // as Circus: the process is killed with the others
          }
        });
      }
      return true;
    } catch (IOException e) {
      onSpawnFailure(e);
      return false;
    }
  }

  /** sd_notify READY=1 from {@code p}: a rolling reload waiting for it goes on at once. */
  private void onReady(ManagedProcess p) {
    if (p.ready || !procs.contains(p.pid)) {
      return;
    }
    p.ready = true;
    host.observer().ready(cfg.name, System.nanoTime() - p.startedNanos);
    LOG.info("watcher {}: pid {} is ready after {} ms", cfg.name, p.pid,
        (System.nanoTime() - p.startedNanos) / 1_000_000);
    if (p.notify != null && !cfg.livenessByNotify()) {
      p.notify.close();
      p.notify = null;
    }
    cancelManageTimer();
    manage();
  }

  void scheduleManage(long nanos) {
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

  private void onSpawnFailure(IOException e) {
    long delay = backoff.spawnFailed(cfg);
    if (backoff.exhausted(cfg)) {
      LOG.error("watcher {}: {}; giving up after {} failed attempt(s) (max_retry = {}), stopping the watcher",
          cfg.name, e.getMessage(), backoff.spawnFailures(), cfg.maxRetry);
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

  // ---------------------------------------------------------------- stopping processes

  /** Asks a process to stop: stop_signal now, SIGKILL to its group after {@code timeout} seconds. */
  void terminate(ManagedProcess p, String reason, double timeout) {
    terminate(p, reason, timeout, cfg.stopSignal);
  }

  void terminate(ManagedProcess p, String reason, double timeout, int sig) {
    p.terminate(reason, timeout, sig, cfg.stopChildren, loop,
        pid -> event("kill", kv("process_pid", pid, "time", now())));
  }

  /** Sends {@code sig} to one process, or to all; returns how many were signalled. */
  public int signal(int sig, Integer pid, boolean children) {
    if (!hooks().has("before_signal") && !hooks().has("after_signal")) {
      return procs.signal(sig, pid, children, p -> event("kill", kv("process_pid", p, "time", now())));
    }
    List<Integer> targets = pid != null ? (procs.contains(pid) ? List.of(pid) : List.of()) : pids();
    for (int target : targets) {
      hook("before_signal", kv("pid", target, "signum", sig)).addListener(f -> {
        // a refusal keeps the signal back, except SIGKILL (as Circus)
        if ((Boolean.TRUE.equals(f.getNow()) || sig == 9) && procs.contains(target)) {
          procs.signal(sig, target, children, p -> event("kill", kv("process_pid", p, "time", now())));
          hook("after_signal", kv("pid", target, "signum", sig));
        }
      });
    }
    return targets.size();
  }

  // ---------------------------------------------------------------- exits

  /**
   * A process is about to be replaced: with sockets to serve, its successor is spawned now (before the old one is
   * signalled), as long as the watcher is active and neither backing off nor resizing; otherwise manage() spawns it
   * once the old one stops, as for any exit.
   */
  /**
   * Replaces {@code p} without the watcher's socket ever having one worker fewer: when the watcher serves a socket
   * (and no reload, resize or backoff is under way), {@code p} steps out of the count, its successor is spawned,
   * and {@code p} is signalled once the successor is ready (READY=1, its check, or warmup_delay alive), or
   * ready_timeout (warmup_delay) has passed whatever became of it. Otherwise {@code p} is stopped and respawned as
   * any exit is.
   */
  void replace(ManagedProcess p, String reason, double timeout, int sig) {
    boolean sockets = cfg.useSockets || !cfg.socketRefs.isEmpty();
    long limit = (long) ((cfg.waitsForReady() ? cfg.readyTimeout : cfg.warmupDelay) * 1e9);
    if (!sockets || p.outgoing || p.stopping || state != State.ACTIVE || resize.active() || rollout.active()
        || backoff.remaining(System.nanoTime()) > 0) {
      terminate(p, reason, timeout, sig);
      return;
    }
    long t0 = System.nanoTime();
    p.outgoing = true; // no longer counted: manage() spawns its successor
    manage();
    if (limit <= 0) {
      terminate(p, reason, timeout, sig); // warmup_delay = 0: a successor counts as ready once spawned
      return;
    }
    LOG.info("watcher {}: replacing pid {} ({}) once its successor is ready", cfg.name, p.pid, reason);
    ScheduledFuture<?>[] timer = new ScheduledFuture<?>[1];
    timer[0] = loop.scheduleWithFixedDelay(() -> {
      if (!procs.contains(p.pid) || p.stopping) {
        timer[0].cancel(false);
        return;
      }
      boolean successorReady = false;
      for (ManagedProcess s : procs.serving(true)) {
        successorReady |= s.startedNanos >= t0 && rollout.ready(s);
      }
      if (successorReady || System.nanoTime() - t0 >= limit || state != State.ACTIVE) {
        timer[0].cancel(false);
        if (!successorReady && state == State.ACTIVE) {
          LOG.warn("watcher {}: no successor of pid {} ready within {} ms; stopping it anyway", cfg.name, p.pid,
              limit / 1_000_000);
        }
        terminate(p, reason, timeout, sig);
        manage();
      }
    }, 20, 20, TimeUnit.MILLISECONDS);
  }

  /** Its liveness probe failed liveness_failures times in a row: liveness_action. */
  private void notAlive(ManagedProcess p) {
    String action = cfg.livenessAction;
    LOG.warn("watcher {}: pid {} failed its liveness check {} times in a row ({}): {}", cfg.name, p.pid,
        cfg.livenessFailures, cfg.liveness, action.equals("restart") ? "replacing it" : action.equals("stop")
            ? "stopping the watcher" : "sending SIG" + action.toUpperCase(Locale.ROOT).replaceFirst("^SIG", ""));
    event("liveness_failure", kv("process_pid", p.pid, "time", now(), "action", action));
    if (action.equals("restart")) {
      replace(p, "liveness", cfg.gracefulTimeout, cfg.stopSignal);
      manage();
    } else if (action.equals("stop")) {
      stop();
    } else {
      signal(io.jcircus.server.internal.posix.Signals.parse(action), p.pid, false);
    }
  }

  /** max_age has passed for {@code p}: it is replaced as if its time had come. */
  private void replaceOld(ManagedProcess p) {
    LOG.info("watcher {}: pid {} reached max_age, replacing it", cfg.name, p.pid);
    terminate(p, "max_age", cfg.gracefulTimeout);
    manage();
  }

  private void onExit(ManagedProcess p, Posix.ExitStatus st) {
    int pid = p.pid;
    boolean diedBeforeReady = rollout.diedBeforeReady(p);
    procs.remove(p, cfg.stopChildren);
    double uptime = p.uptimeSeconds();
    Map<String, Object> reap = kv("process_pid", pid, "time", now(), "exit_code", st.exitCode(), "commanded",
        p.stopping);
    if (p.stopping) {
      reap.put("reason", p.stopReason);
    }
    hook("before_reap", kv("process_pid", pid, "time", reap.get("time")));
    event("reap", reap);
    hook("after_reap", kv("process_pid", pid, "time", reap.get("time"), "exit_code", st.exitCode(),
        "process_status", st.signalled() ? "signalled" : "exited"));
    ProcessLauncher.checkSocketPaths(cfg, host, pid);
    if (p.stopping) {
      LOG.debug("watcher {}: pid {} stopped ({}), exit code {}", cfg.name, pid, p.stopReason, st.exitCode());
    } else if (!cfg.respawn) {
      LOG.info("watcher {}: pid {} exited with code {} (respawn is off)", cfg.name, pid, st.exitCode());
    } else {
      long delay = backoff.exited(uptime, cfg);
      String how = st.signalled() ? "killed by " + Signals.name(-st.exitCode()) : "exited with code " + st.exitCode();
      if (delay > 0) {
        settle();
        LOG.warn("watcher {}: pid {} {} after {} s; {} quick exit(s) in a row, next spawn in {} ms",
            cfg.name, pid, how, String.format(Locale.ROOT, "%.2f", uptime), backoff.youngDeaths(), delay / 1_000_000);
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
      rollout.exitedBeforeReady(p, st);
    }
    manage();
    rollout.checkDone();
    checkResizeDone();
  }

  @Override
  public String toString() {
    return "watcher " + cfg.name + " (" + state + ", " + procs.size() + " process(es))";
  }
}
