package io.jcircus.server.arbiter;

import io.jcircus.server.config.WatcherConfig;
import io.netty.util.concurrent.Future;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A reload under way: when the new processes count as ready (sd_notify, a check, or warmup_delay with the process
 * seen alive), when an old one may be retired (all at once, or one by one for a rolling reload), and when the reload
 * is abandoned (a new process exits, or does not report ready in time) rather than retried for ever. The
 * {@link Watcher} owns the processes and the generations; this owns the reload's promise. Loop thread only.
 */
final class Rollout {
  private static final Logger LOG = LoggerFactory.getLogger(Watcher.class);

  private final Watcher w;
  private final Pending promise = new Pending();
  /** A rolling reload: one new process at a time, each old one stopped once its replacement has warmed up. */
  private boolean sequential;

  Rollout(Watcher w) {
    this.w = w;
  }

  private WatcherConfig cfg() {
    return w.config();
  }

  /** Starts (or joins) a reload; the watcher has just moved to a new generation. */
  Future<Void> begin(boolean sequential, io.netty.util.concurrent.EventExecutor loop) {
    this.sequential = sequential;
    return promise.join(loop);
  }

  /** A reload is under way. */
  boolean active() {
    return promise.active();
  }

  /** A rolling reload is under way. */
  boolean rolling() {
    return sequential && promise.active();
  }

  /** Ends the reload under way, if any, with {@code why} (the watcher stopped or was removed). */
  void fail(String why) {
    sequential = false;
    promise.fail(why);
  }

  /**
   * Ready: reported READY=1 or passed its check (readiness = notify, check), or alive for warmup_delay. A process
   * found exited while being judged ({@link #warmedUp}) was never ready, however late its exit was noticed.
   */
  boolean ready(ManagedProcess p) {
    if (cfg().waitsForReady() || p.ready) {
      return p.ready;
    }
    return !p.judging && System.nanoTime() - p.startedNanos >= (long) (cfg().warmupDelay * 1e9);
  }

  /**
   * Readiness by warmup_delay, judged when a rolling reload is about to retire an old process for {@code p}: the
   * delay has passed and {@code p} is still alive. An exit that is due on the same loop turn as the timer (or
   * noticed late on a loaded machine) is reaped here first, and counts as an exit before ready.
   */
  boolean warmedUp(ManagedProcess p) {
    if (p.ready) {
      return true;
    }
    if (System.nanoTime() - p.startedNanos < (long) (cfg().warmupDelay * 1e9)) {
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
    w.observer().ready(w.name(), System.nanoTime() - p.startedNanos);
    return true;
  }

  /**
   * With readiness = notify, true when every process of {@code current} has reported READY=1. Otherwise
   * schedules a check for the oldest waiting one's deadline, or, past it, abandons the reload.
   */
  boolean readyOrWaiting(List<ManagedProcess> current) {
    if (!cfg().waitsForReady()) {
      return true;
    }
    long limit = (long) (cfg().readyTimeout * 1e9);
    long soonest = Long.MAX_VALUE;
    for (ManagedProcess p : current) {
      if (!p.ready) {
        long waited = System.nanoTime() - p.startedNanos;
        if (waited >= limit) {
          abandon(p, "did not report READY=1 within " + cfg().readyTimeout + " s");
          return false;
        }
        soonest = Math.min(soonest, limit - waited);
      }
    }
    if (soonest == Long.MAX_VALUE) {
      return true;
    }
    w.scheduleManage(soonest);
    return false;
  }

  /**
   * True if {@code p}, which just exited unasked, was a new process of a reload that had not become ready while
   * older processes still serve: the reload is then abandoned rather than retried with backoff for as long as
   * the new processes keep failing (a build that cannot start would otherwise hold the reload, and every
   * operation queued behind it, indefinitely).
   */
  boolean diedBeforeReady(ManagedProcess p) {
    if (p.stopping || !promise.active() || p.generation != w.procs.generation() || ready(p)) {
      return false;
    }
    return !w.procs.serving(false).isEmpty();
  }

  /**
   * A new process did not report ready in time, or exited before it was: the new processes not ready yet are
   * stopped, the reload fails, and every process still running (the old ones, and new ones that did become
   * ready) is kept as the current set.
   */
  void abandon(ManagedProcess late, String what) {
    String msg = "reload of '" + cfg().name + "' abandoned: pid " + late.pid + " " + what
        + "; the processes already serving keep running";
    LOG.error("watcher {}: {}", cfg().name, msg);
    for (ManagedProcess p : w.procs.serving(true)) {
      if (!ready(p)) {
        w.terminate(p, "not ready", cfg().gracefulTimeout);
      }
    }
    w.procs.adoptAll();
    fail(msg);
  }

  /** {@code p}, new and not ready yet, exited unasked: the reload is abandoned (see {@link #diedBeforeReady}). */
  void exitedBeforeReady(ManagedProcess p, io.jcircus.server.internal.posix.Posix.ExitStatus st) {
    String how = st.signalled() ? "was killed by " + io.jcircus.server.internal.posix.Signals.name(-st.exitCode())
        : "exited with code " + st.exitCode();
    abandon(p, how + " before " + (cfg().notifyReady ? "it reported READY=1"
        : cfg().readyCheck != null ? "its readiness check passed"
        : "its warmup_delay of " + cfg().warmupDelay + " s passed"));
  }

  /** One step of a rolling reload. */
  void rollOne(List<ManagedProcess> current, List<ManagedProcess> old) {
    if (w.procs.anyStopping()) {
      return; // still draining: its exit calls manage() again
    }
    ManagedProcess newest = current.isEmpty() ? null : current.get(current.size() - 1);
    long warm = cfg().waitsForReady() ? 0 : (long) (cfg().warmupDelay * 1e9);
    if (newest != null && current.size() + old.size() > w.numprocesses()) {
      if (!readyOrWaiting(List.of(newest))) {
        return;
      }
      long age = System.nanoTime() - newest.startedNanos;
      if (age < warm) {
        w.scheduleManage(warm - age);
        return;
      }
      if (!cfg().waitsForReady() && !warmedUp(newest)) {
        return; // it exited before it was seen warm: its exit has been handled
      }
      w.terminate(old.get(0), "reload", cfg().gracefulTimeout); // its replacement is up: retire one old process
      w.manage();
      return;
    }
    if (!w.backingOff() && w.spawnOrBackOff()) {
      w.scheduleManage(warm);
    }
  }

  /** Done once every process left is of the new generation. */
  void checkDone() {
    if (!promise.active() || !w.procs.allCurrent()) {
      return;
    }
    sequential = false;
    w.event("reload", Payload.kv("time", Payload.now()));
    promise.succeed();
  }
}
