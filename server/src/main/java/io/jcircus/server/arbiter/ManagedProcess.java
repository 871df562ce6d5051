package io.jcircus.server.arbiter;

import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.stream.PipeReader;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayList;
import java.util.List;

/** One child of a watcher. Owned by the arbiter loop. */
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
  /** sd_notify: the process's NOTIFY_SOCKET while it has not reported READY=1. */
  NotifySocket notify;
  /** Ready: reported READY=1 or passed its check; with warmup_delay, seen alive once the delay had passed. */
  boolean ready;
  /** Set while {@link Watcher} reaps it to judge its warmup: an exit found then is an exit before ready. */
  boolean judging;

  ManagedProcess(int pid, int wid, ExitWatch exitWatch, long generation) {
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

  void cancelTimers() {
    if (killTimer != null) {
      killTimer.cancel(false);
      killTimer = null;
    }
    if (maxAgeTimer != null) {
      maxAgeTimer.cancel(false);
      maxAgeTimer = null;
    }
  }

  @Override
  public String toString() {
    return "pid " + pid + " (wid " + wid + ")";
  }
}
