package io.jcircus.server.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A {@code [watcher:NAME]} section with every value parsed and checked. Immutable: {@link ConfigLoader} and the
 * {@code add} and {@code set} commands fill a {@link Builder}; a change builds a new configuration
 * ({@link #toBuilder}) that the watcher takes whole. The keys, their types, defaults and how a change applies are
 * in {@link WatcherOptions}.
 */
public final class WatcherConfig {
  public final String name;
  public final String cmd;
  public final String args;
  public final String executable;
  public final int numprocesses;
  public final double warmupDelay;
  public final String workingDir;
  public final boolean shell;
  public final String shellArgs;
  /** Resolved numeric ids, or -1. */
  public final int uid;
  public final int gid;
  public final String uidName;
  public final String userHome;
  public final boolean copyEnv;
  public final boolean copyPath;
  /** [env] and matching [env:…] sections, merged in order. */
  public final Map<String, String> env;
  public final boolean sendHup;
  public final int stopSignal;
  public final boolean stopChildren;
  public final double gracefulTimeout;
  public final int maxRetry;
  public final boolean respawn;
  public final boolean autostart;
  public final int priority;
  public final boolean singleton;
  public final boolean useSockets;
  public final boolean onDemand;
  public final String stdinSocket;
  /** How sockets reach the process besides $(circus.sockets.NAME) (see README, "Handing sockets over"). */
  public final Handoff handoff;
  /** When a new process counts as ready (rolling reloads wait for it): after warmup_delay, or on sd_notify READY=1. */
  public final boolean notifyReady;
  /**
   * readiness = tcp://HOST:PORT or http://HOST:PORT/PATH: ready once a connection (or a 2xx/3xx GET) succeeds;
   * $(circus.wid) and the other spawn-time variables are expanded per process. Null otherwise.
   */
  public final String readyCheck;
  /**
   * liveness = http://…|tcp://…: probed every livenessInterval s once the process is up; notify: WATCHDOG=1
   * datagrams expected as often; null: none.
   */
  public final String liveness;
  public final double livenessInterval;
  public final double livenessTimeout;
  public final int livenessFailures;
  /** restart (replace the process), stop (the watcher), or a signal's name. */
  public final String livenessAction;
  /** How long a new process may take to report READY=1 before a reload is abandoned. */
  public final double readyTimeout;
  public final boolean closeChildStdin;
  /**
   * own_session (default true, as Circus): each process starts a session of its own; false: it leads a process
   * group of its own in circusd's session (see README, "Rolling reloads on a busy machine": the kernel's autogroup).
   */
  public final boolean ownSession;
  /** cluster_singleton: with a cluster, runs on exactly one of the nodes that define it (leader election). */
  public final boolean clusterSingleton;
  public final boolean closeChildStdout;
  public final boolean closeChildStderr;
  public final int maxAge;
  public final int maxAgeVariance;
  /** rlimit name (lower case, e.g. "nofile") → value; -1 means unlimited. */
  public final Map<String, Long> rlimits;
  public final StreamConfig stdoutStream;
  public final StreamConfig stderrStream;
  public final Map<String, String> hooks;
  /** Crash-loop backoff: a process that lived less than minUptime seconds died young. */
  public final double backoffMinUptime;
  public final double backoffInitial;
  public final double backoffFactor;
  public final double backoffMax;
  /** Keys Circus does not know, kept as written (plugins read them). */
  public final Map<String, String> freeform;
  /** Every key of the section as written (after config-time substitution), for {@code options}. */
  public final Map<String, String> raw;
  /** Sockets the command refers to with $(circus.sockets.NAME). */
  public final List<String> socketRefs;

  private WatcherConfig(Builder b) {
    this.name = b.name;
    this.cmd = b.cmd;
    this.args = b.args;
    this.executable = b.executable;
    this.numprocesses = b.numprocesses;
    this.warmupDelay = b.warmupDelay;
    this.workingDir = b.workingDir;
    this.shell = b.shell;
    this.shellArgs = b.shellArgs;
    this.uid = b.uid;
    this.gid = b.gid;
    this.uidName = b.uidName;
    this.userHome = b.userHome;
    this.copyEnv = b.copyEnv;
    this.copyPath = b.copyPath;
    this.env = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(b.env));
    this.sendHup = b.sendHup;
    this.stopSignal = b.stopSignal;
    this.stopChildren = b.stopChildren;
    this.gracefulTimeout = b.gracefulTimeout;
    this.maxRetry = b.maxRetry;
    this.respawn = b.respawn;
    this.autostart = b.autostart;
    this.priority = b.priority;
    this.singleton = b.singleton;
    this.useSockets = b.useSockets;
    this.onDemand = b.onDemand;
    this.stdinSocket = b.stdinSocket;
    this.handoff = b.handoff;
    this.notifyReady = b.notifyReady;
    this.readyCheck = b.readyCheck;
    this.liveness = b.liveness;
    this.livenessInterval = b.livenessInterval;
    this.livenessTimeout = b.livenessTimeout;
    this.livenessFailures = b.livenessFailures;
    this.livenessAction = b.livenessAction;
    this.readyTimeout = b.readyTimeout;
    this.closeChildStdin = b.closeChildStdin;
    this.ownSession = b.ownSession;
    this.clusterSingleton = b.clusterSingleton;
    this.closeChildStdout = b.closeChildStdout;
    this.closeChildStderr = b.closeChildStderr;
    this.maxAge = b.maxAge;
    this.maxAgeVariance = b.maxAgeVariance;
    this.rlimits = java.util.Collections.unmodifiableMap(new TreeMap<>(b.rlimits));
    this.stdoutStream = b.stdoutStream;
    this.stderrStream = b.stderrStream;
    this.hooks = java.util.Collections.unmodifiableMap(new TreeMap<>(b.hooks));
    this.backoffMinUptime = b.backoffMinUptime;
    this.backoffInitial = b.backoffInitial;
    this.backoffFactor = b.backoffFactor;
    this.backoffMax = b.backoffMax;
    this.freeform = java.util.Collections.unmodifiableMap(new TreeMap<>(b.freeform));
    this.raw = java.util.Collections.unmodifiableMap(new TreeMap<>(b.raw));
    this.socketRefs = List.copyOf(b.socketRefs);
  }

  /** A builder holding this configuration's values, to change some and build another. */
  public Builder toBuilder() {
    Builder b = new Builder();
    Builder.copy(this, b);
    return b;
  }

  /** {@code liveness = notify}: processes send sd_notify's WATCHDOG=1 at least every liveness_interval. */
  public boolean livenessByNotify() {
    return "notify".equals(liveness);
  }

  /** Whether processes get a NOTIFY_SOCKET: readiness or liveness by sd_notify. */
  public boolean usesNotifySocket() {
    return notifyReady || livenessByNotify();
  }

  /** Whether processes report readiness (notify or a check) rather than being ready after warmup_delay. */
  public boolean waitsForReady() {
    return notifyReady || readyCheck != null;
  }

  @Override
  public String toString() {
    return "watcher:" + name;
  }

  /** Socket handoff conventions. */
  public enum Handoff {
    /** Circus: each socket at circusd's own fd number, named in argv/env by $(circus.sockets.NAME). */
    CIRCUS,
    /** systemd socket activation: fds from 3 on, LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID = the worker's pid. */
    SYSTEMD,
    /** Einhorn: each socket at circusd's fd number, EINHORN_FD_COUNT and EINHORN_FD_0…n-1. */
    EINHORN
  }

  /** The mutable side: field for field the configuration, with the defaults of an empty section. */
  public static final class Builder {
    public String name;
    public String cmd;
    public String args = "";
    public String executable;
    public int numprocesses = 1;
    public double warmupDelay;
    public String workingDir;
    public boolean shell;
    public String shellArgs;
    public int uid = -1;
    public int gid = -1;
    public String uidName;
    public String userHome;
    public boolean copyEnv;
    public boolean copyPath;
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
    public Handoff handoff = Handoff.CIRCUS;
    public boolean notifyReady;
    public String readyCheck;
    public String liveness;
    public double livenessInterval = 10;
    public double livenessTimeout = 2;
    public int livenessFailures = 3;
    public String livenessAction = "restart";
    public double readyTimeout = 30;
    public boolean closeChildStdin = true;
    public boolean ownSession = true;
    public boolean clusterSingleton;
    public boolean closeChildStdout;
    public boolean closeChildStderr;
    public int maxAge;
    public int maxAgeVariance = 30;
    public Map<String, Long> rlimits = new TreeMap<>();
    public StreamConfig stdoutStream;
    public StreamConfig stderrStream;
    public Map<String, String> hooks = new TreeMap<>();
    public double backoffMinUptime = 1.0;
    public double backoffInitial = 0.1;
    public double backoffFactor = 2.0;
    public double backoffMax = 30.0;
    public Map<String, String> freeform = new TreeMap<>();
    public Map<String, String> raw = new TreeMap<>();
    public List<String> socketRefs = List.of();

    /** Builds the immutable configuration (maps and lists are copied). */
    public WatcherConfig build() {
      return new WatcherConfig(this);
    }

    private static void copy(WatcherConfig c, Builder b) {
      b.name = c.name;
      b.cmd = c.cmd;
      b.args = c.args;
      b.executable = c.executable;
      b.numprocesses = c.numprocesses;
      b.warmupDelay = c.warmupDelay;
      b.workingDir = c.workingDir;
      b.shell = c.shell;
      b.shellArgs = c.shellArgs;
      b.uid = c.uid;
      b.gid = c.gid;
      b.uidName = c.uidName;
      b.userHome = c.userHome;
      b.copyEnv = c.copyEnv;
      b.copyPath = c.copyPath;
      b.env = new LinkedHashMap<>(c.env);
      b.sendHup = c.sendHup;
      b.stopSignal = c.stopSignal;
      b.stopChildren = c.stopChildren;
      b.gracefulTimeout = c.gracefulTimeout;
      b.maxRetry = c.maxRetry;
      b.respawn = c.respawn;
      b.autostart = c.autostart;
      b.priority = c.priority;
      b.singleton = c.singleton;
      b.useSockets = c.useSockets;
      b.onDemand = c.onDemand;
      b.stdinSocket = c.stdinSocket;
      b.handoff = c.handoff;
      b.notifyReady = c.notifyReady;
      b.readyCheck = c.readyCheck;
      b.liveness = c.liveness;
      b.livenessInterval = c.livenessInterval;
      b.livenessTimeout = c.livenessTimeout;
      b.livenessFailures = c.livenessFailures;
      b.livenessAction = c.livenessAction;
      b.readyTimeout = c.readyTimeout;
      b.closeChildStdin = c.closeChildStdin;
      b.ownSession = c.ownSession;
      b.clusterSingleton = c.clusterSingleton;
      b.closeChildStdout = c.closeChildStdout;
      b.closeChildStderr = c.closeChildStderr;
      b.maxAge = c.maxAge;
      b.maxAgeVariance = c.maxAgeVariance;
      b.rlimits = new TreeMap<>(c.rlimits);
      b.stdoutStream = c.stdoutStream;
      b.stderrStream = c.stderrStream;
      b.hooks = new TreeMap<>(c.hooks);
      b.backoffMinUptime = c.backoffMinUptime;
      b.backoffInitial = c.backoffInitial;
      b.backoffFactor = c.backoffFactor;
      b.backoffMax = c.backoffMax;
      b.freeform = new TreeMap<>(c.freeform);
      b.raw = new TreeMap<>(c.raw);
      b.socketRefs = c.socketRefs;
    }
  }
}
