package io.jcircus.server.arbiter;

import io.jcircus.server.config.WatcherConfig;
import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.internal.posix.Signals;
import io.jcircus.server.internal.proc.ProcFs;
import io.netty.channel.IoEventLoop;
import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.net.URI;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A watcher's live processes, oldest first: spawning one (launch, pidfd, sd_notify, readiness check, output,
 * max_age), their worker ids ({@code $(circus.wid)}, the lowest free from 1), the reload generation, signals, and
 * taking one out once it is reaped. What an exit or a readiness report means is the {@link Watcher}'s to decide:
 * this tells it through the callbacks it is given. Loop thread only.
 */
final class ProcessTable {
  private static final Logger LOG = LoggerFactory.getLogger(Watcher.class);

  private final WatcherHost host;
  private final IoEventLoop loop;
  private final WatcherOutput output;
  private final java.util.function.BiConsumer<ManagedProcess, Posix.ExitStatus> exited;
  /** READY=1, or its readiness check passed. */
  private final java.util.function.Consumer<ManagedProcess> ready;
  /** Its max_age has passed: replace it. */
  private final java.util.function.Consumer<ManagedProcess> tooOld;
  /** A process whose liveness probe failed liveness_failures times in a row. */
  private final java.util.function.Consumer<ManagedProcess> dead;
  private final LinkedHashMap<Integer, ManagedProcess> procs = new LinkedHashMap<>();
  private final BitSet wids = new BitSet();
  private long generation;
  private int spawned;

  ProcessTable(WatcherHost host, IoEventLoop loop, WatcherOutput output,
      java.util.function.BiConsumer<ManagedProcess, Posix.ExitStatus> exited,
      java.util.function.Consumer<ManagedProcess> ready, java.util.function.Consumer<ManagedProcess> tooOld,
      java.util.function.Consumer<ManagedProcess> dead) {
    this.dead = dead;
    this.host = host;
    this.loop = loop;
    this.output = output;
    this.exited = exited;
    this.ready = ready;
    this.tooOld = tooOld;
  }

  /** Starts a process of the current generation; {@code onDrained} runs as each of its output pipes closes. */
  ManagedProcess spawn(WatcherConfig cfg, int numprocesses, Runnable onDrained) throws IOException {
    int wid = wids.nextClearBit(1);
    long t0 = System.nanoTime();
    ProcessLauncher.Launched l = ProcessLauncher.launch(cfg, host, wid, numprocesses, spawned, output.stdout(),
        output.stderr());
    host.observer().spawned(cfg.name, System.nanoTime() - t0);
    spawned++;
    ExitWatch watch;
    try {
      watch = ExitWatch.watch(loop, l.pid(), st -> {
        ManagedProcess p = procs.get(l.pid());
        if (p != null) { // not let go of (rm --nostop)
          exited.accept(p, st);
        }
      });
    } catch (IOException e) {
      Posix.kill(l.pid(), Signals.SIGKILL);
      l.close();
      throw e;
    }
    ManagedProcess p = new ManagedProcess(cfg.name, l.pid(), wid, watch, generation);
    procs.put(p.pid, p);
    wids.set(wid);
    host.guardian().spawned(p.pid);
    if (l.notifySocket() != null) {
      p.notify = l.notifySocket();
      p.notify.watch(loop, new NotifySocket.Listener() {
        @Override
        public void ready() {
          ready.accept(p);
        }

        @Override
        public void watchdog() {
          p.watchdogSeen = true;
        }

        @Override
        public void trigger() {
          if (cfg.livenessByNotify() && procs.containsKey(p.pid) && !p.stopping) {
            dead.accept(p);
          }
        }
      });
    }
    if (l.readyCheck() != null) {
      ReadyCheck.poll(loop, l.readyCheck(), () -> procs.containsKey(p.pid) && !p.ready,
          (long) (cfg.readyTimeout * 1000), () -> ready.accept(p));
    }
    if (cfg.livenessByNotify()) {
      watchdog(cfg, p);
    } else if (l.liveness() != null) {
      liveness(cfg, p, URI.create(l.liveness()));
    }
    output.attach(cfg.name, p, l.stdout(), l.stderr(), onDrained);
    if (cfg.maxAge > 0) {
      long delay = cfg.maxAge * 1000L + (cfg.maxAgeVariance > 0
          ? ThreadLocalRandom.current().nextLong(cfg.maxAgeVariance * 1000L + 1) : 0);
      p.armMaxAge(loop, delay, () -> tooOld.accept(p));
    }
    LOG.debug("watcher {}: spawned pid {} (wid {})", cfg.name, p.pid, wid);
    return p;
  }

  /**
   * liveness: every liveness_interval s, once the process is ready (or at once if the watcher has no readiness),
   * a probe within liveness_timeout s, off the loop; liveness_failures failures in a row and {@code dead} acts.
   */
  private void liveness(WatcherConfig cfg, ManagedProcess p, URI uri) {
    long every = (long) (cfg.livenessInterval * 1000);
    int[] failed = {0};
    boolean[] probing = {false};
    ScheduledFuture<?>[] timer = new ScheduledFuture<?>[1];
    timer[0] = loop.scheduleWithFixedDelay(() -> {
      if (!procs.containsKey(p.pid) || p.stopping) {
        timer[0].cancel(false);
        return;
      }
      if (probing[0] || (cfg.waitsForReady() && !p.ready)) {
        return;
      }
      probing[0] = true;
      ReadyCheck.probe(uri, (long) (cfg.livenessTimeout * 1000)).whenComplete((ok, err) -> loop.execute(() -> {
        probing[0] = false;
        if (!procs.containsKey(p.pid) || p.stopping) {
          return;
        }
        if (Boolean.TRUE.equals(ok)) {
          failed[0] = 0;
        } else if (++failed[0] >= cfg.livenessFailures) {
          failed[0] = 0;
          dead.accept(p);
        }
      }));
    }, every, every, TimeUnit.MILLISECONDS);
  }

  /**
   * liveness = notify: every liveness_interval s, once the process is ready (or at once with warmup), a WATCHDOG=1
   * must have come since the last check; liveness_failures silent intervals in a row and {@code dead} acts.
   */
  private void watchdog(WatcherConfig cfg, ManagedProcess p) {
    long every = (long) (cfg.livenessInterval * 1000);
    int[] silent = {0};
    ScheduledFuture<?>[] timer = new ScheduledFuture<?>[1];
    timer[0] = loop.scheduleWithFixedDelay(() -> {
      if (!procs.containsKey(p.pid) || p.stopping) {
        timer[0].cancel(false);
        return;
      }
      if (cfg.waitsForReady() && !p.ready) {
        p.watchdogSeen = false;
        return;
      }
      if (p.watchdogSeen) {
        silent[0] = 0;
      } else if (++silent[0] >= cfg.livenessFailures) {
        silent[0] = 0;
        dead.accept(p);
      }
      p.watchdogSeen = false;
    }, every, every, TimeUnit.MILLISECONDS);
  }

  /** Takes out a reaped process: its wid is free again, the guardian forgets it, its timers go. */
  void remove(ManagedProcess p, boolean stopChildren) {
    procs.remove(p.pid);
    wids.clear(p.wid);
    host.guardian().reaped(p.pid);
    p.reaped(stopChildren);
  }

  /** rm --nostop: lets go of every process without signalling it (the guardian forgets them too). */
  void letGo(String watcher) {
    for (ManagedProcess p : procs.values()) {
      p.reaped(false); // its timers and sd_notify socket go
      host.guardian().reaped(p.pid);
      LOG.info("watcher {}: leaving pid {} running (rm --nostop)", watcher, p.pid);
    }
    procs.clear(); // exits of what is not here are reaped and ignored: nothing is respawned
  }

  ManagedProcess get(int pid) {
    return procs.get(pid);
  }

  boolean contains(int pid) {
    return procs.containsKey(pid);
  }

  /** Live processes, oldest first (a copy: callers may stop them while iterating). */
  List<ManagedProcess> all() {
    return new ArrayList<>(procs.values());
  }

  Collection<ManagedProcess> view() {
    return procs.values();
  }

  List<Integer> pids() {
    return new ArrayList<>(procs.keySet());
  }

  int size() {
    return procs.size();
  }

  boolean isEmpty() {
    return procs.isEmpty();
  }

  /** Spawns so far. */
  int spawned() {
    return spawned;
  }

  long generation() {
    return generation;
  }

  /** A reload begins: processes spawned from now on are new, the others old. */
  void nextGeneration() {
    generation++;
  }

  /** A reload ends, done or abandoned: every process left is current. */
  void adoptAll() {
    for (ManagedProcess p : procs.values()) {
      p.generation = generation;
    }
  }

  /** Processes not stopping, of the current generation ({@code current} true) or of older ones. */
  List<ManagedProcess> serving(boolean current) {
    List<ManagedProcess> out = new ArrayList<>();
    for (ManagedProcess p : procs.values()) {
      if (!p.stopping && !p.outgoing && (p.generation == generation) == current) {
        out.add(p);
      }
    }
    return out;
  }

  boolean anyStopping() {
    for (ManagedProcess p : procs.values()) {
      if (p.stopping) {
        return true;
      }
    }
    return false;
  }

  /** Every process is of the current generation. */
  boolean allCurrent() {
    for (ManagedProcess p : procs.values()) {
      if (p.generation != generation) {
        return false;
      }
    }
    return true;
  }

  /**
   * Sends {@code sig} to one process ({@code pid}) or to all, and with {@code children} to their descendants;
   * {@code signalled} is told of each process signalled. Returns how many were.
   */
  int signal(int sig, Integer pid, boolean children, IntConsumer signalled) {
    int n = 0;
    for (ManagedProcess p : procs.values()) {
      if (pid != null && p.pid != pid) {
        continue;
      }
      if (p.signal(sig) == 0) {
        n++;
        signalled.accept(p.pid);
      }
      if (children) {
        for (long[] d : ProcFs.descendants(p.pid)) {
          Posix.kill((int) d[0], sig);
        }
      }
    }
    return n;
  }
}
