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
  @Test
  void sequentialConnectionsTakeTurnsAcrossWorkers() throws Exception {
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[watcher:web]",
        "cmd = " + Daemon.HOME.resolve("bin/chaussette-java") + " --threads 1 fd://$(circus.sockets.web)",
        "numprocesses = 4", "use_sockets = true", "copy_env = true", "readiness = notify", ""));
    await(Duration.ofSeconds(60), "4 workers ready", () -> d.logText().split("is ready after", -1).length - 1 >= 4);
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
