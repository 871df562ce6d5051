package io.jcircus.server;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.config.CircusConfig;
import io.jcircus.protocol.ConfigException;
import io.jcircus.server.config.ConfigLoader;
import io.jcircus.server.control.Controller;
import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.internal.posix.Signals;
import io.jcircus.server.internal.posix.Spawner;
import io.jcircus.server.lifecycle.Components;
import io.jcircus.server.lifecycle.LifeCycle;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code circusd}: reads circus.ini, starts the arbiter, and runs until SIGTERM, SIGINT or SIGQUIT.
 * SIGHUP reloads every watcher gracefully. This is the only class that ends the JVM.
 */
@Command(
    name = "circusd",
    mixinStandardHelpOptions = true,
    versionProvider = Circusd.Version.class,
    description = "Run and watch processes and sockets described by a Circus configuration file.")
public final class Circusd implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "CONFIG", description = "The configuration file (circus.ini).")
  Path config;

  @Option(names = "--log-level", paramLabel = "LEVEL",
      description = "critical, error, warning, info or debug (default: [circus] loglevel, else info).")
  String logLevel;

  @Option(names = "--log-output", paramLabel = "OUTPUT",
      description = "'-' or 'stdout' for standard output, 'stderr', or a file (default: [circus] logoutput, else -).")
  String logOutput;

  @Option(names = "--logger-config", paramLabel = "FILE", description = "Accepted for compatibility; ignored.")
  String loggerConfig;

  @Option(names = "--pidfile", paramLabel = "FILE", description = "Write circusd's pid to FILE.")
  Path pidfile;

  @Option(names = "--daemon", description = "Detach: run in a new session with standard I/O on /dev/null.")
  boolean daemon;

  /** Prints the version from the jar manifest. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"circusd (jcircus) " + version()};
    }
  }

  static String version() {
    String v = Circusd.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  public static void main(String[] args) {
    CommandLine cl = new CommandLine(new Circusd());
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      System.err.println("circusd: " + ex.getMessage());
      return 1;
    });
    int rc = cl.execute(args);
    System.exit(rc);
  }

  @Override
  public Integer call() {
    CircusConfig cfg;
    try {
      cfg = ConfigLoader.load(config);
    } catch (ConfigException e) {
      System.err.println("circusd: configuration error: " + e.getMessage());
      return 2;
    }
    if (daemon) {
      return daemonize();
    }
    String level = logLevel != null ? logLevel : cfg.loglevel != null ? cfg.loglevel : "info";
    String output = logOutput != null ? logOutput : cfg.logoutput != null ? cfg.logoutput : "-";
    configureLogging(level, output);
    org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Circusd.class);
    for (String w : cfg.warnings) {
      log.warn("{}", w);
    }
    if (cfg.umask != null) {
      Posix.umask(cfg.umask);
    }
    Path pid = pidfile != null ? pidfile : cfg.pidfile != null ? Path.of(cfg.pidfile) : null;
    int self = (int) ProcessHandle.current().pid();
    if (pid != null) {
      try {
        writePidfile(pid, self);
      } catch (IOException e) {
        log.error("{}", e.getMessage());
        return 1;
      }
    }
    log.info("circusd (jcircus {}) starting: pid {}, config {}", version(), self, cfg.file);
    Arbiter arbiter = new Arbiter(cfg);
    Controller controller = new Controller(cfg, arbiter);
    Components components = new Components();
    try {
      // Everything a client or a signal needs comes up before any watcher starts (as Circus binds its
      // controller first): a busy port fails here with nothing started, and circusd answers status and
      // SIGTERM while a watcher is still starting, backing off or retrying for ever. A failed start stops
      // what had started, in reverse.
      components.start(arbiter);
      components.start(controller);
      components.start(new io.jcircus.server.plugin.PluginHost(arbiter, controller.registry(), cfg));
      components.start(new io.jcircus.server.metrics.MetricsServer(cfg, arbiter, controller.registry()));
      components.start(new io.jcircus.server.cluster.ClusterMember(cfg, arbiter, version()));
      components.start(LifeCycle.of("signal handling", () -> installSignals(arbiter, log), () -> { },
          Duration.ofSeconds(1)));
    } catch (IOException e) {
      log.error("cannot start: {}", e.getMessage());
      removePidfile(pid, self);
      return 1;
    }
    arbiter.setSdNotify(io.jcircus.server.arbiter.SdNotify.fromEnvironment());
    log.info("control channel ready; starting watchers");
    arbiter.startWatchers(() -> log.info("circusd running"));
    arbiter.awaitTermination();
    components.stopAll();
    removePidfile(pid, self);
    log.info("circusd stopped");
    return 0;
  }

  /**
   * SIGTERM, SIGINT and SIGQUIT stop circusd, SIGHUP reloads. Under bin/circusd the four are blocked in every
   * thread and read from a signalfd on the arbiter loop; a JVM started some other way gets JVM signal
   * handlers for TERM, INT and HUP (HotSpot keeps SIGQUIT for thread dumps there).
   */
  private static void installSignals(Arbiter arbiter, org.slf4j.Logger log) throws IOException {
    int[] sigs = {Signals.SIGHUP, Signals.SIGINT, Signals.SIGQUIT, Signals.SIGTERM};
    if (Posix.blockedInThisThread(sigs)) {
      arbiter.onSignals(sig -> {
        if (sig == Signals.SIGHUP) {
          log.info("received SIGHUP, reloading");
          arbiter.reloadAll();
        } else {
          log.info("received {}, shutting down", Signals.name(sig));
          arbiter.shutdown();
        }
      }, sigs);
      return;
    }
    log.debug("signals are not blocked (not started through bin/circusd): using JVM signal handlers");
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        sun.misc.Signal.handle(new sun.misc.Signal(name), s -> {
          log.info("received SIG{}, shutting down", name);
          arbiter.shutdown();
        });
      } catch (IllegalArgumentException e) {
        log.warn("cannot handle SIG{}: {}", name, e.getMessage());
      }
    }
    try {
      sun.misc.Signal.handle(new sun.misc.Signal("HUP"), s -> {
        log.info("received SIGHUP, reloading");
        arbiter.reloadAll();
      });
    } catch (IllegalArgumentException e) {
      log.warn("cannot handle SIGHUP: {}", e.getMessage());
    }
  }

  /** slf4j-simple is configured through system properties, which must be set before the first logger. */
  static void configureLogging(String level, String output) {
    String l;
    switch (level.toLowerCase(Locale.ROOT)) {
      case "critical": case "error": l = "error"; break;
      case "warning": case "warn": l = "warn"; break;
      case "debug": l = "debug"; break;
      case "trace": l = "trace"; break;
      default: l = "info";
    }
    String out;
    switch (output) {
      case "-": case "stdout": out = "System.out"; break;
      case "stderr": out = "System.err"; break;
      default: out = Path.of(output).toAbsolutePath().toString();
    }
    setDefault("org.slf4j.simpleLogger.defaultLogLevel", l);
    setDefault("org.slf4j.simpleLogger.logFile", out);
    setDefault("org.slf4j.simpleLogger.showDateTime", "true");
    setDefault("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd HH:mm:ss.SSS");
    setDefault("org.slf4j.simpleLogger.showThreadName", "false");
    setDefault("org.slf4j.simpleLogger.showShortLogName", "true");
    setDefault("org.slf4j.simpleLogger.levelInBrackets", "true");
    setDefault("org.slf4j.simpleLogger.log.io.netty", "warn");
    // ZooKeeper's client logs every connection attempt; ClusterMember logs what matters (connected, lost…)
    setDefault("org.slf4j.simpleLogger.log.org.apache.zookeeper", "error");
    setDefault("org.slf4j.simpleLogger.log.org.apache.curator", "warn");
  }

  private static void setDefault(String k, String v) {
    if (System.getProperty(k) == null) {
      System.setProperty(k, v);
    }
  }

  private static void writePidfile(Path pidfile, int self) throws IOException {
    if (Files.exists(pidfile)) {
      String s = Files.readString(pidfile, StandardCharsets.US_ASCII).strip();
      try {
        int other = Integer.parseInt(s);
        if (other != self && ProcessHandle.of(other).map(ProcessHandle::isAlive).orElse(false)) {
          throw new IOException("pidfile " + pidfile + ": circusd already running with pid " + other);
        }
      } catch (NumberFormatException e) {
        // stale garbage: overwrite
      }
    }
    Path dir = pidfile.toAbsolutePath().getParent();
    Path tmp = Files.createTempFile(dir, ".circusd", ".pid");
    Files.writeString(tmp, self + "\n", StandardCharsets.US_ASCII);
    Files.move(tmp, pidfile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void removePidfile(Path pidfile, int self) {
    if (pidfile == null) {
      return;
    }
    try {
      if (Files.readString(pidfile, StandardCharsets.US_ASCII).strip().equals(Integer.toString(self))) {
        Files.delete(pidfile);
      }
    } catch (IOException e) {
      // gone already
    }
  }

  /** Re-runs this JVM detached: new session, stdio on /dev/null, same arguments without --daemon. */
  private int daemonize() {
    PrintStream err = System.err;
    List<String> argv = new ArrayList<>();
    String java = ProcessHandle.current().info().command().orElse(
        Path.of(System.getProperty("java.home"), "bin", "java").toString());
    argv.add(java);
    argv.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
    argv.add("-cp");
    argv.add(System.getProperty("java.class.path"));
    argv.add(Circusd.class.getName());
    argv.add(config.toAbsolutePath().toString());
    if (logLevel != null) {
      argv.add("--log-level=" + logLevel);
    }
    if (logOutput != null) {
      argv.add("--log-output=" + (logOutput.equals("-") || logOutput.equals("stdout") || logOutput.equals("stderr")
          ? logOutput : Path.of(logOutput).toAbsolutePath().toString()));
    }
    if (pidfile != null) {
      argv.add("--pidfile=" + pidfile.toAbsolutePath());
    }
    List<String> env = new ArrayList<>();
    System.getenv().forEach((k, v) -> env.add(k + "=" + v));
    Spawner.Request r = new Spawner.Request(java, argv, env)
        .devNull(0, Posix.O_RDONLY).devNull(1, Posix.O_WRONLY).devNull(2, Posix.O_WRONLY);
    int[] sigs = {Signals.SIGHUP, Signals.SIGINT, Signals.SIGQUIT, Signals.SIGTERM};
    if (Posix.blockedInThisThread(sigs)) {
      r.blockSignals(sigs); // keep bin/circusd's arrangement in the detached daemon
    }
    try {
      int pid = Spawner.spawn(r);
      err.println("circusd: running in the background, pid " + pid);
      return 0;
    } catch (IOException e) {
      err.println("circusd: cannot daemonize: " + e.getMessage());
      return 1;
    }
  }
}
