package io.jcircus.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A real circusd started from the built jar as a separate JVM, with its log in a file. */
final class Daemon implements AutoCloseable {
  static final Path HOME = Path.of(System.getProperty("jcircus.home", "..")).toAbsolutePath().normalize();
  static final Path JAR = HOME.resolve("server/target/jcircus-server.jar");

  final Path config;
  final Path log;
  final Process process;
  /** Every pid this daemon was seen to run, so cleanup can reap leftovers. */
  final Set<Long> seen = new LinkedHashSet<>();

  private Daemon(Path config, Path log, Process process) {
    this.config = config;
    this.log = log;
    this.process = process;
  }

  static List<String> javaCommand() {
    List<String> cmd = new ArrayList<>();
    // Dies with the test JVM however that ends (circusd's guardian then takes its children): a test run that is
    // killed leaves no daemon behind. Test threads that start daemons live as long as the JVM.
    cmd.add("setpriv");
    cmd.add("--pdeathsig");
    cmd.add("KILL");
    cmd.add("--");
    // As bin/circusd does: signals blocked for circusd's signalfd, -Xrs so the JVM leaves them alone.
    cmd.add("env");
    cmd.add("--block-signal=HUP,INT,QUIT,TERM");
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xrs");
    cmd.add("-XX:+StartAttachListener"); // as bin/circusd: jcmd and JMX attach without SIGQUIT
    cmd.add("-XX:+UseSerialGC");
    cmd.add("-Xmx96m");
    cmd.add("-XX:TieredStopAtLevel=1");
    return cmd;
  }

  /** Starts circusd on {@code config} and waits until it reports running. */
  static Daemon start(Path config, String... extraArgs) throws Exception {
    return start(config, "circusd running", extraArgs);
  }

  /** Starts circusd on {@code config} and waits for {@code logLine} in its log. */
  static Daemon start(Path config, String logLine, String... extraArgs) throws Exception {
    return start(config, Map.of(), logLine, extraArgs);
  }

  /** The same, with {@code env} added to circusd's environment. */
  static Daemon start(Path config, Map<String, String> env, String logLine, String... extraArgs) throws Exception {
    Path log = config.resolveSibling(config.getFileName() + ".log");
    List<String> cmd = javaCommand();
    cmd.add("-jar");
    cmd.add(JAR.toString());
    cmd.add(config.toString());
    cmd.add("--log-level=debug");
    cmd.addAll(List.of(extraArgs));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.directory(config.getParent().toFile());
    pb.environment().putAll(env);
    Daemon d = new Daemon(config, log, pb.start());
    try {
      d.awaitLog(logLine, Duration.ofSeconds(30));
    } catch (Throwable t) {
      d.close(); // a daemon that did not come up in time is not left running for the rest of the run
      throw t;
    }
    d.children();
    return d;
  }

  /** Runs circusd expecting it to exit; returns exit code and output. */
  static Result run(Path config, Duration timeout) throws Exception {
    List<String> cmd = javaCommand();
    cmd.add("-jar");
    cmd.add(JAR.toString());
    cmd.add(config.toString());
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("circusd did not exit: " + new String(out, StandardCharsets.UTF_8));
    }
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  record Result(int exitCode, String output) {}

  /** Open file descriptors of circusd now. */
  int fdCount() {
    String[] fds = Path.of("/proc", Long.toString(pid()), "fd").toFile().list();
    return fds == null ? -1 : fds.length;
  }

  long pid() {
    return process.pid();
  }

  String logText() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "<no log: " + e + ">";
    }
  }

  void awaitLog(String text, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (logText().contains(text)) {
        return;
      }
      if (!process.isAlive()) {
        throw new AssertionError("circusd exited (" + process.exitValue() + ") before '" + text + "':\n" + logText());
      }
      Thread.sleep(20);
    }
    throw new AssertionError("timed out waiting for '" + text + "' in the log:\n" + logText());
  }

  private static final Pattern SOCKET = Pattern.compile("socket '([^']+)' listening on (\\S+?):?(\\d*) \\(fd (\\d+)\\)");

  /** The port a managed TCP socket got. */
  /** The control endpoint its circus.ini names. */
  String endpoint() throws IOException {
    java.util.regex.Matcher m = Pattern.compile("\\nendpoint = (\\S+)").matcher("\n" + Files.readString(config));
    if (!m.find()) {
      throw new AssertionError("no endpoint in " + config);
    }
    return m.group(1);
  }

  int port(String socket) {
    Matcher m = SOCKET.matcher(logText());
    while (m.find()) {
      if (m.group(1).equals(socket)) {
        return Integer.parseInt(m.group(3));
      }
    }
    throw new AssertionError("socket " + socket + " not in the log:\n" + logText());
  }

  int socketFd(String socket) {
    Matcher m = SOCKET.matcher(logText());
    while (m.find()) {
      if (m.group(1).equals(socket)) {
        return Integer.parseInt(m.group(4));
      }
    }
    throw new AssertionError("socket " + socket + " not in the log");
  }

  long guardianPid() {
    Matcher m = Pattern.compile("guardian started, pid (\\d+)").matcher(logText());
    if (!m.find()) {
      throw new AssertionError("no guardian in the log");
    }
    return Long.parseLong(m.group(1));
  }

  /** Live children of circusd, guardian excluded. */
  List<Long> children() {
    List<Long> out = new ArrayList<>();
    long g = -1;
    try {
      g = guardianPid();
    } catch (AssertionError e) {
      // not yet
    }
    for (long c : Proc.children(pid())) {
      seen.add(c);
      if (c != g) {
        out.add(c);
      }
    }
    return out;
  }

  /** Children whose command line contains {@code marker}. */
  List<Long> children(String marker) {
    List<Long> out = new ArrayList<>();
    for (long c : children()) {
      if (Proc.cmdline(c).contains(marker)) {
        out.add(c);
      }
    }
    return out;
  }

  void signal(int sig) throws IOException, InterruptedException {
    Proc.kill(pid(), sig);
  }

  int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("circusd still running after " + timeout + ":\n" + logText());
    }
    return process.exitValue();
  }

  /** Kills circusd if needed and every process it was seen to run. */
  @Override
  public void close() throws Exception {
    children();
    try {
      seen.add(guardianPid());
    } catch (AssertionError e) {
      // never started
    }
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(15, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
    for (long p : seen) {
      if (Proc.alive(p)) {
        Proc.kill(p, 9);
      }
    }
  }
}
