package io.jcircus.server.arbiter;

import io.jcircus.server.config.Shlex;
import io.jcircus.server.config.Substitution;
import io.jcircus.server.config.WatcherConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one spawn of a watcher's process runs: the program and its argv (behind the prlimit/setpriv and systemd
 * exec prefixes), its environment and the readiness check, with every {@code $(circus.X)} expanded for that
 * process. Pure: computed from the configuration, the process's wid and the fd numbers its sockets get, with no
 * event loop and no socket bound, so it is unit-tested on its own ({@code SpawnPlanTest}). The watcher adds the
 * descriptors (stdin, sockets, output pipes) and spawns it.
 */
final class SpawnPlan {
  /** The executable posix_spawn runs (the first prefix helper, or the resolved program). */
  final String path;
  /** The whole argv, prefix helpers first. */
  final List<String> argv;
  /** NAME=value, in order. */
  final List<String> env;
  /** readiness = tcp://… or http://… expanded for this process, or null. */
  final String readyCheck;
  /** The liveness probe's address for this process ($(circus.wid) and the rest expanded); null: none. */
  final String liveness;

  private SpawnPlan(String path, List<String> argv, List<String> env, String readyCheck, String liveness) {
    this.liveness = liveness;
    this.path = path;
    this.argv = List.copyOf(argv);
    this.env = List.copyOf(env);
    this.readyCheck = readyCheck;
  }

  /** Who circusd runs as, and the environment it was started with. */
  record Context(int euid, int egid, long masterPid, Map<String, String> environ) { }

  /**
   * The plan for process {@code wid} of {@code cfg} (running {@code numprocesses} in all), whose sockets reach it
   * at {@code socketFds} (name → fd number in the child, in handoff order); {@code notifySocket} is its sd_notify
   * path, or null.
   *
   * @throws IOException if the program cannot be found, or the command line cannot be split
   */
  static SpawnPlan of(WatcherConfig cfg, int wid, int numprocesses, Map<String, Integer> socketFds,
      String notifySocket, Context ctx) throws IOException {
    try {
      Map<String, String> env = childEnv(cfg, ctx.environ());
      handoffEnv(cfg, env, socketFds, ctx.masterPid());
      if (notifySocket != null) {
        env.put("NOTIFY_SOCKET", notifySocket);
        if (cfg.livenessByNotify()) { // sd_watchdog_enabled(3): send WATCHDOG=1 within this many microseconds
          env.put("WATCHDOG_USEC", Long.toString((long) (cfg.livenessInterval * 1e6)));
        }
      }
      java.util.function.Function<String, String> lookup = key -> lookup(cfg, key, wid, numprocesses, env, socketFds);
      String readyCheck = cfg.readyCheck == null ? null : Substitution.expand(cfg.readyCheck, lookup);
      String liveness = cfg.liveness == null || cfg.livenessByNotify() ? cfg.liveness
          : Substitution.expand(cfg.liveness, lookup);
      for (Map.Entry<String, String> e : env.entrySet()) {
        e.setValue(Substitution.expand(e.getValue(), lookup));
      }
      String cmd = Substitution.expand(cfg.cmd, lookup);
      String args = Substitution.expand(cfg.args, lookup);
      List<String> argv = new ArrayList<>();
      if (cfg.shell) {
        argv.add("/bin/sh");
        argv.add("-c");
        argv.add(args.isEmpty() ? cmd : cmd + " " + args);
        if (cfg.shellArgs != null) {
          argv.addAll(Shlex.split(Substitution.expand(cfg.shellArgs, lookup)));
        }
      } else {
        argv.addAll(Shlex.split(cmd));
        argv.addAll(Shlex.split(args));
      }
      if (argv.isEmpty()) {
        throw new IOException("cmd is empty after substitution");
      }
      String program = cfg.executable != null ? Substitution.expand(cfg.executable, lookup) : argv.get(0);
      String path = resolveExecutable(cfg, program, env, ctx.environ());
      List<String> prefix = new ArrayList<>(execPrefix(cfg, ctx.euid(), ctx.egid()));
      if (cfg.handoff == WatcherConfig.Handoff.SYSTEMD) {
        // LISTEN_PID must be the worker's own pid, unknown before posix_spawn returns: a shell that sets it
        // to $$ and execs the program keeps that pid (as setpriv and prlimit do).
        prefix.addAll(List.of("/bin/sh", "-c", "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\""));
      }
      List<String> envList = new ArrayList<>(env.size());
      for (Map.Entry<String, String> e : env.entrySet()) {
        envList.add(e.getKey() + "=" + e.getValue());
      }
      if (prefix.isEmpty()) {
        return new SpawnPlan(path, argv, envList, readyCheck, liveness);
      }
      List<String> full = new ArrayList<>(prefix);
      full.add(path);
      full.addAll(argv.subList(1, argv.size()));
      return new SpawnPlan(prefix.get(0), full, envList, readyCheck, liveness);
    } catch (IllegalArgumentException e) {
      throw new IOException("cannot build the command line: " + e.getMessage(), e);
    }
  }

  /** copy_env (with the target user's USER, LOGNAME, HOME), the watcher's [env], virtualenv. */
  static Map<String, String> childEnv(WatcherConfig cfg, Map<String, String> environ) {
    Map<String, String> env = new LinkedHashMap<>();
    if (cfg.copyEnv) {
      env.putAll(environ);
      if (cfg.uid >= 0 && cfg.uidName != null) {
        env.put("USER", cfg.uidName);
        env.put("LOGNAME", cfg.uidName);
        if (cfg.userHome != null) {
          env.put("HOME", cfg.userHome);
        }
      }
    }
    env.putAll(cfg.env);
    if (cfg.copyEnv && cfg.raw.containsKey("virtualenv")) {
      String venv = cfg.raw.get("virtualenv");
      env.put("VIRTUAL_ENV", venv);
      env.put("PATH", venv + "/bin" + (env.containsKey("PATH") ? ":" + env.get("PATH") : ""));
    }
    return env;
  }

  /** The variables of the socket handoff convention (see README, "Handing sockets over"). */
  static void handoffEnv(WatcherConfig cfg, Map<String, String> env, Map<String, Integer> childFds, long masterPid) {
    switch (cfg.handoff) {
      case SYSTEMD:
        env.put("LISTEN_FDS", Integer.toString(childFds.size()));
        env.put("LISTEN_FDNAMES", String.join(":", childFds.keySet()));
        env.remove("LISTEN_PID"); // set by the exec shim to the worker's pid
        break;
      case EINHORN: {
        env.put("EINHORN_FD_COUNT", Integer.toString(childFds.size()));
        int i = 0;
        for (int fd : childFds.values()) {
          env.put("EINHORN_FD_" + i++, Integer.toString(fd));
        }
        env.put("EINHORN_MASTER_PID", Long.toString(masterPid));
        break;
      }
      default:
        break;
    }
  }

  /** What {@code $(circus.KEY)} is for this process. */
  static String lookup(WatcherConfig cfg, String key, int wid, int numprocesses, Map<String, String> env,
      Map<String, Integer> socketFds) {
    if (key.equals("wid")) {
      return Integer.toString(wid);
    }
    if (key.startsWith("sockets.")) {
      Integer fd = socketFds.get(key.substring(8));
      return fd == null ? null : fd.toString();
    }
    if (key.startsWith("env.")) {
      return Substitution.env(env, key.substring(4));
    }
    if (key.startsWith("rlimits.")) {
      Long v = cfg.rlimits.get(key.substring(8));
      return v == null ? null : v < 0 ? "unlimited" : v.toString();
    }
    switch (key) {
      case "name": return cfg.name;
      case "numprocesses": return Integer.toString(numprocesses);
      case "working_dir": return cfg.workingDir == null ? System.getProperty("user.dir") : cfg.workingDir;
      case "uid": return cfg.uid < 0 ? null : Integer.toString(cfg.uid);
      case "gid": return cfg.gid < 0 ? null : Integer.toString(cfg.gid);
      case "use_fds": return Boolean.toString(cfg.useSockets);
      default:
        return cfg.raw.get(key);
    }
  }

  /** A program with a slash as it is (relative to working_dir); else the first executable on the child's PATH. */
  static String resolveExecutable(WatcherConfig cfg, String program, Map<String, String> env,
      Map<String, String> environ) throws IOException {
    if (program.contains("/")) {
      Path p = Path.of(program);
      if (!p.isAbsolute() && cfg.workingDir != null) {
        p = Path.of(cfg.workingDir).resolve(p);
      }
      return p.toString(); // posix_spawn reports ENOENT/EACCES with the path
    }
    String pathVar = env.get("PATH");
    if (pathVar == null) {
      pathVar = environ.get("PATH");
    }
    if (pathVar == null) {
      pathVar = "/usr/local/bin:/usr/bin:/bin";
    }
    for (String dir : pathVar.split(":")) {
      if (dir.isEmpty()) {
        dir = ".";
      }
      Path c = Path.of(dir).resolve(program);
      if (!c.isAbsolute() && cfg.workingDir != null) {
        c = Path.of(cfg.workingDir).resolve(c);
      }
      if (Files.isRegularFile(c) && Files.isExecutable(c)) {
        return c.toString();
      }
    }
    throw new IOException("posix_spawn(" + program + "): ENOENT (not found in PATH=" + pathVar + ")");
  }

  /** util-linux helpers that exec the command (same pid) after setting limits and credentials. */
  static List<String> execPrefix(WatcherConfig cfg, int euid, int egid) {
    List<String> prefix = new ArrayList<>();
    if (!cfg.rlimits.isEmpty()) {
      prefix.add("/usr/bin/prlimit");
      for (Map.Entry<String, Long> e : cfg.rlimits.entrySet()) {
        String v = e.getValue() < 0 ? "unlimited" : e.getValue().toString();
        prefix.add("--" + e.getKey() + "=" + v + ":" + v);
      }
      prefix.add("--");
    }
    boolean changeUid = cfg.uid >= 0 && cfg.uid != euid;
    boolean changeGid = cfg.gid >= 0 && cfg.gid != egid;
    if (changeUid || changeGid) {
      prefix.add("/usr/bin/setpriv");
      if (changeUid) {
        prefix.add("--reuid=" + cfg.uid);
      }
      if (cfg.gid >= 0) {
        prefix.add("--regid=" + cfg.gid);
      }
      prefix.add(changeUid && cfg.uidName != null ? "--init-groups" : "--clear-groups");
      prefix.add("--");
    }
    return prefix;
  }
}
