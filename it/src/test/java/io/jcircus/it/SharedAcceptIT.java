package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * chaussette-java workers sharing one socket take turns: each accept wakes one idle worker (EPOLLEXCLUSIVE)
 * and a worker moves to the back of the queue every 8 connections it accepted, so connections spread evenly
 * even when they come one at a time (with Netty's own server channel, 400 sequential connections went
 * 373/17/6/4).
 */
class SharedAcceptIT extends ItBase {
  /** {@code n} chaussette-java workers (one event loop each, {@code options} added) on one socket, all ready. */
  private Daemon chaussetteWorkers(int n, String options, String moreConfig) throws Exception {
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[watcher:web]",
        "cmd = " + Daemon.HOME.resolve("bin/chaussette-java") + " " + options + " --threads 1 fd://$(circus.sockets.web)",
        "numprocesses = " + n, "use_sockets = true", "copy_env = true", "readiness = notify", moreConfig));
    await(Duration.ofSeconds(60), n + " workers ready", () -> d.logText().split("is ready after", -1).length - 1 >= n);
    return d;
  }

  @Test
  void sequentialConnectionsTakeTurnsAcrossWorkers() throws Exception {
    Daemon d = chaussetteWorkers(4, "", "");
    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < 200; i++) {
      counts.merge(httpGet(d.port("web")), 1, Integer::sum);
    }
    System.out.println("200 sequential connections: " + counts.values());
    assertThat(counts).hasSize(4);
    // 50 each when nothing else runs; a worker busy with GC or the scheduler is skipped for a turn
    assertThat(counts.values()).allSatisfy(n -> assertThat(n).isBetween(30, 70));
    assertThat(d.logText()).contains("EPOLLEXCLUSIVE");
  }

  /**
   * A burst of 64 keep-alive connections, as a load tester or a client pool opens them: the workers publish their
   * open connections in a table in /dev/shm, and one well above the average steps aside ({@code Balance}), so
   * each gets close to a quarter. Left to the kernel the same burst went 31/13/10/10 and 24/22/14/4 with wrk.
   * The table is 0600 and goes with the last worker.
   */
  @Test
  void aBurstOfKeepAliveConnectionsSpreadsEvenly() throws Exception {
    burstSpreadsEvenly("");
  }

  /** The same with Jetty (the servlet backend), whose acceptor thread stays out of accept() instead. */
  @Test
  void aBurstSpreadsEvenlyOverServletWorkersToo() throws Exception {
    burstSpreadsEvenly("--backend servlet");
  }

  private void burstSpreadsEvenly(String backend) throws Exception {
    Daemon d = chaussetteWorkers(4, backend,
        "[env:web]\nCHAUSSETTE_BALANCE = " + System.getProperty("it.balance", "on") + "\n");
    String log = d.logText();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("through (/\\S*?jcircus-balance-\\d+)").matcher(log);
    boolean balancing = m.find();
    if (!"off".equals(System.getProperty("it.balance"))) {
      assertThat(balancing).as(log).isTrue();
      Path table = Path.of(m.group(1));
      assertThat(java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(table)))
          .isEqualTo("rw-------");
    }
    List<Integer> spreads = new java.util.ArrayList<>();
    for (int round = 0; round < 5; round++) {
      Map<String, Integer> counts = burst(d.port("web"), 64);
      List<Integer> sorted = new java.util.ArrayList<>(counts.values());
      while (sorted.size() < 4) {
        sorted.add(0); // a worker that got none
      }
      sorted.sort(java.util.Comparator.reverseOrder());
      System.out.println("64 keep-alive connections at once" + (backend.isEmpty() ? "" : " (" + backend + ")")
          + ": " + sorted);
      assertThat(sorted.stream().mapToInt(Integer::intValue).sum()).isEqualTo(64);
      spreads.add(sorted.get(0) - sorted.get(3));
      Thread.sleep(300); // the workers see the closes
    }
    // A quarter each is 16; a worker steps aside at more than 2 above the average it sees, which lags a little:
    // between the most and the fewest connections, 1-10 here in most rounds (26 once, a servlet worker's first
    // round). Left to the kernel: 2-32 with the netty backend, 12-59 with Jetty's (60/2/1/1), most rounds above
    // 18. The median of five rounds, so that one round skewed by a worker kept off the CPU longer than the 50 ms
    // the others step aside does not decide.
    List<Integer> ordered = spreads.stream().sorted().toList();
    assertThat(ordered.get(2)).as("most minus fewest connections per worker, per round: " + spreads)
        .isLessThanOrEqualTo(10);
    if (balancing) {
      Path table = Path.of(m.group(1));
      d.close();
      assertThat(table).as("the last worker to leave deletes the table").doesNotExist();
    }
  }

  /**
   * A new worker warms up before it accepts only when other workers serve meanwhile (a rolling reload): after a
   * restart nobody does, and clients would wait in the queue for the whole warm-up, so the first new worker
   * accepts at once.
   */
  @Test
  void aWorkerWarmsUpOnlyWhileOthersServe() throws Exception {
    Daemon d = chaussetteWorkers(2, "", "");
    String endpoint = d.endpoint();
    circusctlAt(endpoint, "reload", "web", "--sequential", "--waiting");
    List<Long> reloaded = d.children();
    for (long pid : reloaded) {
      assertThat(servingLine(d, pid)).as("a rolling reload's worker " + pid).contains("warmed up: ");
    }
    long t0 = System.nanoTime();
    circusctlAt(endpoint, "restart", "web", "--waiting");
    String body = httpGet(d.port("web"));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    List<Long> restarted = d.children();
    assertThat(restarted).hasSize(2).doesNotContainAnyElementsOf(reloaded);
    await(Duration.ofSeconds(60), "the restarted workers serving",
        () -> restarted.stream().allMatch(pid -> servingLine(d, pid).contains("serving on")));
    System.out.println("restart and a first answer (" + body + "): " + ms + " ms");
    long cold = restarted.stream().filter(pid -> servingLine(d, pid).contains("no warm-up: no other worker accepts"))
        .count();
    assertThat(cold).as(d.logText()).isGreaterThanOrEqualTo(1);
  }

  private static String servingLine(Daemon d, long pid) {
    return d.logText().lines().filter(l -> l.contains("chaussette-java " + pid + " serving on")).findFirst()
        .orElse("(no serving line for " + pid + ")");
  }

  /** Opens {@code n} connections, then sends a keep-alive request on each, then reads them all: who answered. */
  private static Map<String, Integer> burst(int port, int n) throws Exception {
    List<java.net.Socket> open = new java.util.ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        java.net.Socket s = new java.net.Socket();
        open.add(s);
        s.connect(new java.net.InetSocketAddress("127.0.0.1", port), 2000);
        s.setSoTimeout(10_000);
      }
      byte[] req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
      for (java.net.Socket s : open) {
        s.getOutputStream().write(req); // with TCP_DEFER_ACCEPT, this is when the connection can be accepted
      }
      Map<String, Integer> counts = new HashMap<>();
      for (java.net.Socket s : open) {
        java.io.InputStream in = s.getInputStream();
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
          int c = in.read();
          if (c < 0) {
            throw new java.io.IOException("closed after " + head);
          }
          head.append((char) c);
        }
        java.util.regex.Matcher len = java.util.regex.Pattern.compile("(?i)content-length: (\\d+)").matcher(head);
        assertThat(len.find()).as(head.toString()).isTrue();
        String body = new String(in.readNBytes(Integer.parseInt(len.group(1))), StandardCharsets.US_ASCII).strip();
        counts.merge(body, 1, Integer::sum);
      }
      return counts;
    } finally {
      for (java.net.Socket s : open) {
        s.close();
      }
    }
  }

  /** An AF_UNIX socket of circusd's, handed over as fd://N: one-shot and keep-alive requests both answered. */
  @Test
  void aUnixSocketHandedOverServesOneShotAndKeepAliveRequests() throws Exception {
    Path sock = dir.resolve("web.sock");
    Daemon d = start(String.join("\n",
        "[socket:web]", "family = AF_UNIX", "path = " + sock,
        "[watcher:web]",
        "cmd = " + Daemon.HOME.resolve("bin/chaussette-java") + " --threads 1 fd://$(circus.sockets.web)",
        "numprocesses = 2", "use_sockets = true", "copy_env = true", "readiness = notify", ""));
    await(Duration.ofSeconds(60), "2 workers ready", () -> d.logText().split("is ready after", -1).length - 1 >= 2);
    assertThat(d.logText()).contains("(unix fd ");
    String once = unixExchange(sock, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertThat(once).startsWith("HTTP/1.1 200 OK").contains("hello from pid ");
    String both = unixExchange(sock, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        + "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assertThat(both.split("hello from pid ", -1)).as(both).hasSize(3);
  }

  /** Sends {@code request} over a unix socket and reads until the server closes. */
  private static String unixExchange(Path sock, String request) throws Exception {
    try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
      ch.connect(java.net.UnixDomainSocketAddress.of(sock));
      ch.write(java.nio.ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII)));
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(4096);
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (ch.read(buf) >= 0 && System.nanoTime() < deadline) {
        out.write(buf.array(), 0, buf.position());
        buf.clear();
      }
      return out.toString(StandardCharsets.US_ASCII);
    }
  }

  @Test
  void deferAcceptQueuesAConnectionOnlyOnceItsRequestArrives() throws Exception {
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0", "defer_accept = 5",
        "[watcher:web]", "cmd = " + python() + " " + worker("pidserver.py") + " $(circus.sockets.web) drain",
        "use_sockets = true", ""));
    await(Duration.ofSeconds(20), "worker up", () -> d.logText().contains("TCP_DEFER_ACCEPT"));
    assertThat(d.logText()).doesNotContain("TCP_DEFER_ACCEPT 0)");
    // the worker answers as soon as it accepts, without reading: it can only answer once the client has sent
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", d.port("web"))) {
      s.setSoTimeout(700);
      assertThatThrownBy(() -> s.getInputStream().read()).isInstanceOf(java.net.SocketTimeoutException.class);
      s.setSoTimeout(10_000);
      s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      byte[] pid = new byte[16];
      int n = s.getInputStream().read(pid);
      assertThat(new String(pid, 0, Math.max(0, n), StandardCharsets.US_ASCII).strip()).matches("\\d+");
    }
  }

  /**
   * chaussette-java sets TCP_DEFER_ACCEPT (1 s) on the HTTP socket it is handed when circus.ini set none: a
   * client that has sent nothing is not accepted yet, so the worker's 0.3 s first-request timeout cannot close
   * it; with {@code --defer-accept 0} the same client is accepted at once and closed after 0.3 s.
   */
  @Test
  void chaussetteDefersAcceptOnItsHttpSocketUnlessToldNot() throws Exception {
    String chaussette = "cmd = " + Daemon.HOME.resolve("bin/chaussette-java") + " --threads 1 ";
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[socket:plain]", "host = 127.0.0.1", "port = 0",
        "[watcher:web]", chaussette + "fd://$(circus.sockets.web)", "use_sockets = true", "copy_env = true",
        "readiness = notify",
        "[watcher:plain]", chaussette + "--defer-accept 0 fd://$(circus.sockets.plain)", "use_sockets = true",
        "copy_env = true", "readiness = notify",
        "[env:web,plain]", "CHAUSSETTE_REQUEST_TIMEOUT = 0.3", "CHAUSSETTE_WARMUP_MS = 1000", ""));
    await(Duration.ofSeconds(60), "2 workers ready", () -> d.logText().split("is ready after", -1).length - 1 >= 2);
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", d.port("web"))) {
      s.setSoTimeout(800);
      assertThatThrownBy(() -> s.getInputStream().read()).isInstanceOf(java.net.SocketTimeoutException.class);
      s.setSoTimeout(10_000);
      s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)).startsWith("HTTP/1.1 200");
    }
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", d.port("plain"))) {
      s.setSoTimeout(5_000);
      long t0 = System.nanoTime();
      assertThat(s.getInputStream().read()).isEqualTo(-1); // accepted at once, closed by the request timeout
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(800));
    }
    assertThat(d.logText()).contains("TCP_DEFER_ACCEPT");
  }

  @Test
  void aSocketInheritedInBlockingModeDoesNotStallAWorker() throws Exception {
    Path script = worker("blocking_parent.py");
    Process p = new ProcessBuilder(python(), script.toString(), Daemon.HOME.resolve("bin/chaussette-java").toString(),
        "100").redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as(out).isZero();
      String served = out.lines().filter(l -> l.startsWith("served ")).findFirst().orElseThrow(() ->
          new AssertionError("no result: " + out));
      List<String> parts = List.of(served.split(" "));
      assertThat(parts.get(1)).isEqualTo("100");
      assertThat(parts.subList(2, parts.size())).as(served).hasSize(2)
          .allSatisfy(pc -> assertThat(Integer.parseInt(pc.split(":")[1])).isGreaterThan(20));
    } finally {
      p.destroyForcibly();
      p.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
