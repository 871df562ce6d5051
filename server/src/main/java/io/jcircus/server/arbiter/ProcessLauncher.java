package io.jcircus.server.arbiter;

import io.jcircus.server.config.WatcherConfig;
import io.jcircus.server.internal.posix.Fd;
import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.internal.posix.Spawner;
import io.jcircus.server.stream.OutputSink;
import io.netty.channel.Channel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Starts one process of a watcher: the sockets it is given (bound per process for so_reuseport), its sd_notify
 * socket, the {@link SpawnPlan} (argv, environment, prefix), its stdin and the pipes its output comes back on. What
 * comes back is owned by the caller, who must {@link Launched#close} it if it cannot adopt the process.
 */
final class ProcessLauncher {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Watcher.class);

  private ProcessLauncher() {}

  /** A running child and what belongs to it: the read ends of its output pipes and its sd_notify socket. */
  record Launched(int pid, int wid, Fd stdout, Fd stderr, NotifySocket notifySocket, String readyCheck,
      String liveness)
      implements AutoCloseable {
    @Override
    public void close() {
      stdout.close();
      stderr.close();
      if (notifySocket != null) {
        notifySocket.close();
      }
    }
  }

  /**
   * Spawns process {@code wid} of {@code cfg}. {@code out}/{@code err}: the watcher's streams, null for none;
   * {@code serial} makes its sd_notify socket's name unique.
   */
  static Launched launch(WatcherConfig cfg, WatcherHost host, int wid, int numprocesses, int serial,
      OutputSink out, OutputSink err) throws IOException {
    // socket name → fd in circusd, and → fd in the child (the same number, except for systemd's 3, 4, …)
    Map<String, Integer> parentFds = new LinkedHashMap<>();
    Map<String, Integer> socketFds = new LinkedHashMap<>();
    List<Channel> perProcess = new ArrayList<>();
    NotifySocket notify = null;
    try (Fd.Pipe outPipe = pipe(cfg.closeChildStdout, out, host); Fd.Pipe errPipe = pipe(cfg.closeChildStderr, err, host)) {
      for (ManagedSocket s : socketsToPass(cfg, host)) {
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
      if (cfg.usesNotifySocket()) {
        notify = NotifySocket.bind(host.runtimeDir().resolve(
            cfg.name.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + wid + "-" + serial + ".sock"), cfg.uid, cfg.gid);
      }
      SpawnPlan plan = SpawnPlan.of(cfg, wid, numprocesses, socketFds,
          notify == null ? null : notify.path.toString(),
          new SpawnPlan.Context(host.euid(), host.egid(), ProcessHandle.current().pid(), System.getenv()));
      Spawner.Request req = new Spawner.Request(plan.path, plan.argv, plan.env);
      if (cfg.workingDir != null) {
        req.workingDir(cfg.workingDir);
      }
      req.ownSession(cfg.ownSession);
      if (cfg.stdinSocket != null) {
        req.fd(0, parentFds.getOrDefault(cfg.stdinSocket, host.socket(cfg.stdinSocket).fd()));
      } else if (cfg.closeChildStdin) {
        req.devNull(0, Posix.O_RDONLY);
      } else {
        req.fd(0, 0);
      }
      for (Map.Entry<String, Integer> e : socketFds.entrySet()) {
        req.fd(e.getValue(), parentFds.get(e.getKey()));
      }
      output(req, 1, cfg.closeChildStdout, outPipe);
      output(req, 2, cfg.closeChildStderr, errPipe);
      int pid = Spawner.spawn(req);
      Launched l = new Launched(pid, wid, new Fd(outPipe.read().release()), new Fd(errPipe.read().release()), notify,
          plan.readyCheck, plan.liveness);
      notify = null;
      return l;
    } finally {
      if (notify != null) { // the spawn failed
        notify.close();
      }
      for (Channel ch : perProcess) {
        ch.close(); // the child holds its own reference now
      }
    }
  }

  /**
   * The pipe a child's stdout or stderr goes through, or null: closed (/dev/null), or, with neither a stream nor
   * live output, written straight to circusd's own fd as Circus does.
   */
  private static Fd.Pipe pipe(boolean closed, OutputSink sink, WatcherHost host) throws IOException {
    if (closed || (sink == null && host.liveOutput() == null)) {
      return new Fd.Pipe(new Fd(-1), new Fd(-1));
    }
    Fd.Pipe p = Fd.Pipe.open();
    Posix.setNonBlocking(p.read().get(), true);
    Posix.trySetPipeSize(p.read().get(), 1 << 20);
    return p;
  }

  private static void output(Spawner.Request req, int fd, boolean closed, Fd.Pipe pipe) {
    if (closed) {
      req.devNull(fd, Posix.O_WRONLY);
    } else if (pipe.write().isOpen()) {
      req.fd(fd, pipe.write().get());
    } else {
      req.fd(fd, fd);
    }
  }

  /**
   * After pid {@code pid} exited: says so if a unix socket it was given lost its path meanwhile (gunicorn removes
   * one it was given as fd://N when it stops), since clients that connect by path can no longer reach it.
   */
  static void checkSocketPaths(WatcherConfig cfg, WatcherHost host, int pid) {
    for (ManagedSocket s : socketsToPass(cfg, host)) {
      String lost = s == null ? null : s.pathLost();
      if (lost != null) {
        LOG.error("watcher {}: socket '{}': {} by the time pid {} exited: the socket still listens, but clients that"
            + " connect by path cannot reach it until circusd restarts. gunicorn removes a unix socket it was given"
            + " as fd://N when it stops; give it the socket with handoff = systemd (LISTEN_FDS), which it leaves"
            + " in place", cfg.name, s.name(), lost, pid);
      }
    }
  }

  /** The sockets a process of {@code cfg} is given, in child fd order. */
  static List<ManagedSocket> socketsToPass(WatcherConfig cfg, WatcherHost host) {
    List<ManagedSocket> out = new ArrayList<>();
    if (cfg.useSockets) {
      // Only the sockets the command names; with no reference at all, every socket (as Circus does).
      if (cfg.socketRefs.isEmpty()) {
        out.addAll(host.sockets());
      } else {
        for (String n : cfg.socketRefs) {
          out.add(host.socket(n));
        }
      }
    }
    if (cfg.stdinSocket != null) {
      ManagedSocket s = host.socket(cfg.stdinSocket);
      if (!out.contains(s) && s.config().reusePort()) {
        out.add(s);
      }
    }
    return out;
  }
}
