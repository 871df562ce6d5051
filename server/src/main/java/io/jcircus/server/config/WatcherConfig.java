package io.jcircus.server.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** A {@code [watcher:NAME]} section with every value parsed and checked. Not modified after load. */
public final class WatcherConfig {
  public String name;
  public String cmd;
  public String args = "";
  public String executable;
  public int numprocesses = 1;
  public double warmupDelay;
  public String workingDir;
  public boolean shell;
  public String shellArgs;
  /** Resolved numeric ids, or -1. */
  public int uid = -1;
  public int gid = -1;
  public String uidName;
  public String userHome;
  public boolean copyEnv;
  public boolean copyPath;
  /** [env] and matching [env:…] sections, merged in order. */
  public Map<String, String> env = new LinkedHashMap<>();
  public boolean sendHup;
  public int stopSignal = 15;
  public boolean stopChildren;
  public double gracefulTimeout = 30;
  public int maxRetry = 5;
  public boolean respawn = true;
  public boolean autostart = true;
  public int priority;
  public boolean singleton;
  public boolean useSockets;
  public boolean onDemand;
  public String stdinSocket;
  /** How sockets reach the process besides $(circus.sockets.NAME) (see README, "Handing sockets over"). */
  public Handoff handoff = Handoff.CIRCUS;

  /** When a new process counts as ready (rolling reloads wait for it): after warmup_delay, or on sd_notify READY=1. */
  public boolean notifyReady;
  /**
   * readiness = tcp://HOST:PORT or http://HOST:PORT/PATH: ready once a connection (or a 2xx/3xx GET) succeeds;
   * $(circus.wid) and the other spawn-time variables are expanded per process. Null otherwise.
   */
  public String readyCheck;

  /** Whether processes report readiness (notify or a check) rather than being ready after warmup_delay. */
  public boolean waitsForReady() {
    return notifyReady || readyCheck != null;
  }
  /** How long a new process may take to report READY=1 before a reload is abandoned. */
  public double readyTimeout = 30;

  /** Socket handoff conventions. */
  public enum Handoff {
    /** Circus: each socket at circusd's own fd number, named in argv/env by $(circus.sockets.NAME). */
    CIRCUS,
    /** systemd socket activation: fds from 3 on, LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID = the worker's pid. */
    SYSTEMD,
    /** Einhorn: each socket at circusd's fd number, EINHORN_FD_COUNT and EINHORN_FD_0…n-1. */
    EINHORN
  }
  public boolean closeChildStdin = true;
  /**
   * own_session (default true, as Circus): each process starts a session of its own; false: it leads a process
   * group of its own in circusd's session (see README, "Rolling reloads on a busy machine": the kernel's autogroup).
   */
  public boolean ownSession = true;
  public boolean closeChildStdout;
  public boolean closeChildStderr;
  public int maxAge;
  public int maxAgeVariance = 30;
  /** rlimit name (lower case, e.g. "nofile") → value; -1 means unlimited. */
  public Map<String, Long> rlimits = new TreeMap<>();
  public StreamConfig stdoutStream;
  public StreamConfig stderrStream;
  public Map<String, String> hooks = new TreeMap<>();
  /** Crash-loop backoff: a process that lived less than minUptime seconds died young. */
  public double backoffMinUptime = 1.0;
  public double backoffInitial = 0.1;
  public double backoffFactor = 2.0;
  public double backoffMax = 30.0;
  /** Keys Circus does not know, kept as written (plugins read them). */
  public Map<String, String> freeform = new TreeMap<>();
  /** Every key of the section as written (after config-time substitution), for {@code options}. */
  public Map<String, String> raw = new TreeMap<>();
  /** Sockets the command refers to with $(circus.sockets.NAME). */
  public List<String> socketRefs = List.of();

  @Override
  public String toString() {
    return "watcher:" + name;
  }
}
