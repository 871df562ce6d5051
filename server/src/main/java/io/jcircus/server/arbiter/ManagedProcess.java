package io.jcircus.server.arbiter;

import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.internal.posix.Signals;
import io.jcircus.server.internal.proc.ProcFs;
import io.jcircus.server.stream.PipeReader;
import io.netty.channel.IoEventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One child of a watcher and its life: spawned → ready → stopping → reaped. It owns its pidfd (signals that cannot
 * reach a stranger), its timers (max_age, the SIGKILL after graceful_timeout), its sd_notify socket and its output
 * readers; the {@link Watcher} decides when it is ready, when it stops and what its exit means. Owned by the
 * arbiter loop.
 */
public final class ManagedProcess {
  final int pid;
  final int wid;
  /** Wall clock, seconds since the epoch, as Circus reports it. */
  final double started;
  final long startedNanos;
  final ExitWatch exitWatch;
  final List<PipeReader> pipes = new ArrayList<>(2);
  /** Set once circusd has asked the process to stop (commanded exit). */
  boolean stopping;
  String stopReason;
  ScheduledFuture<?> killTimer;
  ScheduledFuture<?> maxAgeTimer;
  /** Descendants seen when the stop began: {pid, starttime}. */
  List<long[]> descendants = List.of();
  /** Generation for reload: processes of an older generation are replaced (re-tagged when a reload is abandoned). */
  long generation;
  /** sd_notify: the process's NOTIFY_SOCKET while it has not reported READY=1 (until exit with liveness = notify). */
  NotifySocket notify;
  /** Being replaced: out of the watcher's count, signalled once its successor is ready ({@code Watcher.replace}). */
  boolean outgoing;
  /** liveness = notify: WATCHDOG=1 heard since the last check. */
  boolean watchdogSeen;
  /** Ready: reported READY=1 or passed its check; with warmup_delay, seen alive once the delay had passed. */
  boolean ready;
  /** Set while {@link Watcher} reaps it to judge its warmup: an exit found then is an exit before ready. */
  boolean judging;

  /** The watcher's name, for what this logs. */
  private final String watcher;

  ManagedProcess(String watcher, int pid, int wid, ExitWatch exitWatch, long generation) {
    this.watcher = watcher;
    this.pid = pid;
    this.wid = wid;
    this.exitWatch = exitWatch;
    this.started = System.currentTimeMillis() / 1000.0;
    this.startedNanos = System.nanoTime();
    this.generation = generation;
  }

  public int pid() {
    return pid;
  }

  public int wid() {
    return wid;
  }

  public double started() {
    return started;
  }

  public boolean isStopping() {
    return stopping;
  }

  double uptimeSeconds() {
    return (System.nanoTime() - startedNanos) / 1e9;
  }

  /** Signals the process itself, safely against pid reuse. Returns 0 or the errno. */
  int signal(int sig) {
    return exitWatch.signal(sig);
  }

  /** Signals its process group (it leads its own, with or without a session of its own: pgid == pid). */
  int signalGroup(int sig) {
    return Posix.kill(-pid, sig);
  }

  private static final Logger LOG = LoggerFactory.getLogger(ManagedProcess.class);

  /**
   * Asks it to stop: {@code sig} now (and to the descendants it has then, with stop_children), SIGKILL to its
   * group after {@code timeout} seconds. {@code killed} is told of every pid signalled (the "kill" events).
   * Once stopping, later calls do nothing.
   */
  void terminate(String reason, double timeout, int sig, boolean stopChildren, IoEventLoop loop, IntConsumer killed) {
    if (stopping) {
      return;
    }
    stopping = true;
    stopReason = reason;
    if (maxAgeTimer != null) {
      maxAgeTimer.cancel(false);
      maxAgeTimer = null;
    }
    if (stopChildren) {
      descendants = ProcFs.descendants(pid);
    }
    signal(sig);
    killed.accept(pid);
    if (stopChildren) {
      for (long[] d : descendants) {
        if (ProcFs.startTime((int) d[0]) == d[1]) {
          Posix.kill((int) d[0], sig);
          killed.accept((int) d[0]);
        }
      }
    }
    killTimer = loop.schedule(() -> hardKill(timeout, stopChildren, killed), (long) (timeout * 1000),
        TimeUnit.MILLISECONDS);
  }

  private void hardKill(double timeout, boolean stopChildren, IntConsumer killed) {
    killTimer = null;
    if (!exitWatch.isReaped()) {
      LOG.info("watcher {}: pid {} still alive after graceful_timeout ({} s), sending SIGKILL", watcher, pid, timeout);
      killed.accept(pid);
    }
    List<long[]> victims = new ArrayList<>(descendants);
    if (stopChildren && !exitWatch.isReaped()) {
      victims.addAll(ProcFs.descendants(pid));
    }
    // The group is pinned while any member lives, so this cannot hit a stranger.
    signalGroup(Signals.SIGKILL);
    signal(Signals.SIGKILL);
    for (long[] d : victims) {
      if (ProcFs.startTime((int) d[0]) == d[1]) {
        Posix.kill((int) d[0], Signals.SIGKILL);
      }
    }
  }

  /** Replaces it after {@code delayMs}: {@code expire} runs then unless it is stopping or gone by then. */
  void armMaxAge(IoEventLoop loop, long delayMs, Runnable expire) {
    maxAgeTimer = loop.schedule(() -> {
      maxAgeTimer = null;
      if (!stopping && !exitWatch.isReaped()) {
        expire.run();
      }
    }, delayMs, TimeUnit.MILLISECONDS);
  }

  /**
   * Reaped: its timers and sd_notify socket go. With stop_children the SIGKILL timer of a commanded stop stays
   * armed for descendants left behind (Circus #1044).
   */
  void reaped(boolean stopChildren) {
    if (notify != null) {
      notify.close();
      notify = null;
    }
    if (maxAgeTimer != null) {
      maxAgeTimer.cancel(false);
      maxAgeTimer = null;
    }
    if (killTimer != null && !(stopChildren && stopping)) {
      killTimer.cancel(false);
      killTimer = null;
    }
  }

  @Override
  public String toString() {
    return "pid " + pid + " (wid " + wid + ")";
  }
}
