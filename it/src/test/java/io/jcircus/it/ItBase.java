package io.jcircus.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.junit.jupiter.api.io.TempDir;

/** Logs STARTING/FINISHED, gives each test a temp dir and reaps every daemon (and its children) it started. */
abstract class ItBase {
  @TempDir Path dir;
  private final List<Daemon> daemons = new ArrayList<>();
  private String name;

  /** On a failure, the tail of each circusd's log goes to the output CI keeps, before the daemons are reaped. */
  @RegisterExtension
  final TestExecutionExceptionHandler dumpLogs = (context, failure) -> {
    for (Daemon d : daemons) {
      String[] lines = d.logText().split("\n");
      int from = Math.max(0, lines.length - 80);
      System.out.println("---- circusd pid " + d.pid() + " log, last " + (lines.length - from) + " of " + lines.length
          + " lines, at the failure of " + name);
      for (int i = from; i < lines.length; i++) {
        System.out.println("| " + lines[i]);
      }
    }
    throw failure;
  };

  @BeforeEach
  void starting(TestInfo info) {
    name = getClass().getSimpleName() + "." + info.getDisplayName();
    System.out.println("STARTING " + name);
  }

  @AfterEach
  void finished() throws Exception {
    List<Long> leaked = new ArrayList<>();
    for (Daemon d : daemons) {
      boolean cleanExit = !d.process.isAlive();
      if (cleanExit) {
        for (long p : d.seen) {
          if (Proc.alive(p)) {
            leaked.add(p);
          }
        }
      }
      d.close();
    }
    System.out.println("FINISHED " + name);
    if (!leaked.isEmpty()) {
      throw new AssertionError("processes outlived their circusd: " + leaked);
    }
  }

  /** Control and event endpoints on free loopback ports, so tests never meet another circusd. */
  static String endpoints() throws IOException {
    return "[circus]\nendpoint = tcp://127.0.0.1:" + freePort() + "\npubsub_endpoint = tcp://127.0.0.1:" + freePort() + "\n";
  }

  /** Ports handed out by {@link #freePort} in this JVM: the kernel may offer a just-released port again. */
  private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * A loopback port free now and not handed out before in this run, taken from below the kernel's ephemeral range
   * (net.ipv4.ip_local_port_range): a {@code port = 0} socket of circusd's, or a client's source port, is always
   * taken from that range, so neither can take this port between the moment it is chosen here and the moment
   * circusd binds it (a port chosen by binding port 0 once met circusd's own {@code port = 0} socket in CI).
   */
  static int freePort() throws IOException {
    int low = ephemeralLow();
    java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
    for (int attempt = 0; low > 11_000 && attempt < 200; attempt++) {
      int port = r.nextInt(10_000, low);
      if (HANDED_OUT.contains(port)) {
        continue;
      }
      try (java.net.ServerSocket s = new java.net.ServerSocket()) {
        s.bind(new java.net.InetSocketAddress(java.net.InetAddress.getByName("127.0.0.1"), port), 1);
      } catch (IOException inUse) {
        continue;
      }
      if (HANDED_OUT.add(port)) {
        return port;
      }
    }
    while (true) { // no room below the ephemeral range: what the kernel offers
      try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
        if (HANDED_OUT.add(s.getLocalPort())) {
          return s.getLocalPort();
        }
      }
    }
  }

  private static int ephemeralLow() {
    try {
      return Integer.parseInt(Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim()
          .split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 32_768;
    }
  }

  Daemon start(String config, String... args) throws Exception {
    return startAwaiting("circusd running", config, args);
  }

  /** Starts circusd with the test's endpoints and {@code config}; returns once {@code logLine} is in its log. */
  /** The daemons this test started (each reaped after it). */
  List<Daemon> daemons() {
    return daemons;
  }

  /** Whether the tests run as root (CI does): some checks (chown, other users) need it. */
  static boolean root() {
    try {
      return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    } catch (IOException e) {
      return false;
    }
  }

  Daemon startAwaiting(String logLine, String config, String... args) throws Exception {
    return startAs("circus.ini", logLine, config, args);
  }

  /** Starts circusd from {@code file} in the test's directory (its log beside it): several daemons in one test. */
  Daemon startAs(String file, String logLine, String config, String... args) throws Exception {
    Path p = dir.resolve(file);
    Files.writeString(p, endpoints() + config);
    Daemon d = Daemon.start(p, logLine, args);
    daemons.add(d);
    return d;
  }

  Path worker(String name) throws IOException {
    Path p = dir.resolve(name);
    try (InputStream in = ItBase.class.getResourceAsStream("/workers/" + name)) {
      Files.copy(in, p);
    }
    return p;
  }

  /** Connects to 127.0.0.1:port and returns the first line of the reply. */
  static String ask(int port) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
      s.setSoTimeout(5000);
      return readLine(s.getInputStream());
    }
  }

  /** GET / over a fresh connection; returns the body of a 200 reply. */
  static String httpGet(int port) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
      s.setSoTimeout(5000);
      s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      String resp = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      if (!resp.startsWith("HTTP/1.1 200") && !resp.startsWith("HTTP/1.0 200")) {
        throw new IOException("bad response: " + resp);
      }
      return resp.substring(resp.indexOf("\r\n\r\n") + 4).strip();
    }
  }

  static String askUnix(Path path) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(path));
      ByteBuffer buf = ByteBuffer.allocate(64);
      while (ch.read(buf) > 0 && buf.get(buf.position() - 1) != '\n') {
        // read the line
      }
      return new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII).strip();
    }
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0 && c != '\n') {
      sb.append((char) c);
    }
    return sb.toString();
  }

  static void send(OutputStream out, String s) throws IOException {
    out.write(s.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  /** Polls {@code cond} every few ms until it holds; fails after {@code timeout}. */
  static long await(Duration timeout, String what, BooleanSupplier cond) throws InterruptedException {
    long t0 = System.nanoTime();
    long deadline = t0 + timeout.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout + " waiting for " + what);
      }
      Thread.sleep(2);
    }
    return System.nanoTime() - t0;
  }

  /** Runs {@code bin/circusctl --endpoint ENDPOINT --timeout 90 ARGS…}; asserts exit 0 and returns its output. */
  static String circusctlAt(String endpoint, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Daemon.HOME.resolve("bin/circusctl").toString(),
        "--endpoint", endpoint, "--timeout", "90"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", args) + ": no exit within 120 s");
    }
    if (p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", args) + ": exit " + p.exitValue() + ": " + out);
    }
    return out;
  }

  static String python() {
    for (String p : new String[] {"/usr/bin/python3", "/usr/local/bin/python3"}) {
      if (Files.isExecutable(Path.of(p))) {
        return p;
      }
    }
    return "python3";
  }

  /** bin/circusctl against {@code d}: what it printed (stdout and stderr), trimmed; "" if it could not run. */
  static String ctl(Daemon d, String... args) {
    try {
      List<String> cmd = new java.util.ArrayList<>(List.of(Daemon.HOME.resolve("bin/circusctl").toString()));
      cmd.addAll(List.of(args));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().put("CIRCUSCTL_ENDPOINT", d.endpoint());
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
      return out;
    } catch (Exception e) {
      return "";
    }
  }

  /** A condition for {@link #await} that may throw: false when it does. */
  static boolean quietly(java.util.concurrent.Callable<Boolean> c) {
    try {
      return c.call();
    } catch (Exception e) {
      return false;
    }
  }

  /**
   * A DEALER to {@code d}'s control endpoint that has had a reply: JeroMQ 0.6.0 now and then never completes a first
   * connection (circusctl's client retries for the same reason), so the first request is retried on a fresh socket
   * until one answers, and what a test then times is circusd, not that.
   */
  static org.zeromq.ZMQ.Socket dealer(org.zeromq.ZContext zmq, Daemon d) throws IOException {
    for (int attempt = 0; attempt < 30; attempt++) {
      org.zeromq.ZMQ.Socket s = zmq.createSocket(org.zeromq.SocketType.DEALER);
      s.setLinger(0);
      s.setReceiveTimeOut(1000);
      s.connect(d.endpoint());
      s.send("{\"id\": \"hello" + attempt + "\", \"command\": \"numwatchers\", \"properties\": {}}");
      if (s.recvStr() != null) {
        s.setReceiveTimeOut(10_000);
        return s;
      }
      zmq.destroySocket(s);
    }
    throw new AssertionError("circusd at " + d.endpoint() + " never answered");
  }
}
