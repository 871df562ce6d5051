package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * What a hostile local peer can send to circusd's ZeroMQ endpoints: oversized and lying frames, garbage and
 * unfinished greetings, a thousand half-open connections. After each, circusd answers {@code status} within
 * 100 ms, still lists every child, and holds no descriptor more than before.
 */
class HostileIT extends ItBase {
  private static final String SLEEPERS = "[watcher:sleeper]\ncmd = sleep 3600\nnumprocesses = 2\n";

  private static int port(String endpoint) {
    Matcher m = Pattern.compile(":(\\d+)$").matcher(endpoint);
    assertThat(m.find()).as(endpoint).isTrue();
    return Integer.parseInt(m.group(1));
  }

  /** Status within 100 ms (the best of three, each answered), and the sleepers as they were. */
  private static void stillServing(Daemon d, Probe probe, List<Long> sleepers) throws Exception {
    assertThat(probe.statusMs(3)).as("status round trip, ms").isLessThan(100.0);
    assertThat(d.children()).containsExactlyInAnyOrderElementsOf(sleepers);
    Probe.Reply r = probe.call("list", Map.of("name", "sleeper"));
    List<Long> listed = new ArrayList<>();
    r.reply().get("pids").forEach(n -> listed.add(n.asLong()));
    assertThat(listed).containsExactlyInAnyOrderElementsOf(sleepers);
  }

  /** Waits until circusd holds at most {@code baseline} descriptors (JeroMQ closes a dropped peer's on its I/O thread). */
  private static void fdsBackTo(Daemon d, int baseline) throws InterruptedException {
    await(Duration.ofSeconds(10), "circusd's descriptors back to " + baseline + " (now " + d.fdCount() + ")",
        () -> d.fdCount() <= baseline);
  }

  // ------------------------------------------------------------------ raw ZMTP 3.0

  /** A ZMTP 3.0 greeting with the NULL mechanism, as a client. */
  static byte[] greeting() {
    byte[] g = new byte[64];
    g[0] = (byte) 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 0;
    byte[] mech = "NULL".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(mech, 0, g, 12, mech.length);
    return g;
  }

  /** The NULL mechanism's READY command naming {@code socketType}. */
  static byte[] ready(String socketType) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.write(5);
    body.writeBytes("READY".getBytes(StandardCharsets.US_ASCII));
    byte[] name = "Socket-Type".getBytes(StandardCharsets.US_ASCII);
    byte[] value = socketType.getBytes(StandardCharsets.US_ASCII);
    body.write(name.length);
    body.writeBytes(name);
    body.writeBytes(new byte[] {0, 0, 0, (byte) value.length});
    body.writeBytes(value);
    byte[] b = body.toByteArray();
    ByteArrayOutputStream cmd = new ByteArrayOutputStream();
    cmd.write(0x04);
    cmd.write(b.length);
    cmd.writeBytes(b);
    return cmd.toByteArray();
  }

  /** A long frame header announcing {@code size} bytes. */
  static byte[] longFrame(long size) {
    byte[] h = new byte[9];
    h[0] = 0x02;
    for (int i = 0; i < 8; i++) {
      h[8 - i] = (byte) (size >>> (8 * i));
    }
    return h;
  }

  /** Reads until circusd closes the connection; fails if it has not within {@code seconds}. */
  static void closedByPeer(Socket s, int seconds) throws IOException {
    s.setSoTimeout(seconds * 1000);
    InputStream in = s.getInputStream();
    byte[] buf = new byte[4096];
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    try {
      while (in.read(buf) >= 0) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("circusd kept the connection open for more than " + seconds + " s");
        }
      }
    } catch (SocketTimeoutException e) {
      throw new AssertionError("circusd kept the connection open for more than " + seconds + " s");
    } catch (java.net.SocketException reset) {
      // a reset is a close too
    }
  }

  private static Socket connect(int port) throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
    return s;
  }

  // ------------------------------------------------------------------ tests

  @Test
  void oversizedAndLyingFramesDropOnlyThatPeer() throws Exception {
    Daemon d = start("[circus]\nmax_message_size = 64k\n" + SLEEPERS);
    String endpoint = d.endpoint();
    try (Probe probe = new Probe(dir, endpoint, 2000)) {
      probe.statusMs(3);
      List<Long> sleepers = d.children();
      assertThat(sleepers).hasSize(2);
      int fds = d.fdCount();

      // a libzmq client sending 100 MB in one frame (the reproduction)
      Process big = new ProcessBuilder(python(), "-c", "import sys,time,zmq\n"
          + "s=zmq.Context().socket(zmq.DEALER);s.setsockopt(zmq.LINGER,0);s.connect(sys.argv[1])\n"
          + "s.send(b'A'*(100<<20));time.sleep(2)", endpoint).inheritIO().start();
      // a request just over max_message_size is dropped with its peer; one under it is answered
      Probe.Reply over = probe.raw("{\"id\": \"big\", \"command\": \"status\", \"pad\": \"" + "x".repeat(70_000) + "\"}");
      assertThat(over.reply()).as("a frame over max_message_size").isNull();
      Probe.Reply under = probe.raw("{\"id\": \"small\", \"command\": \"status\", \"pad\": \"" + "x".repeat(60_000) + "\"}");
      assertThat(under.ok()).as("a frame under max_message_size: " + under).isTrue();
      assertThat(big.waitFor(30, TimeUnit.SECONDS)).isTrue();
      stillServing(d, probe, sleepers);

      // a raw peer that finishes its handshake, then announces a 1 GiB frame and sends 1 KB of it
      try (Socket s = connect(port(endpoint))) {
        OutputStream out = s.getOutputStream();
        out.write(greeting());
        out.write(ready("DEALER"));
        out.write(longFrame(1L << 30));
        out.write(new byte[1024]);
        out.flush();
        closedByPeer(s, 5);
      }
      // one that announces 2^63-1 bytes
      try (Socket s = connect(port(endpoint))) {
        OutputStream out = s.getOutputStream();
        out.write(greeting());
        out.write(ready("DEALER"));
        out.write(longFrame(Long.MAX_VALUE));
        out.flush();
        closedByPeer(s, 5);
      }
      // garbage instead of a greeting: bytes that do not start a ZMTP 3 greeting read as an unversioned
      // (ZMTP 1.0) peer's frames, each bounded; the peer is answered or dropped and circusd goes on
      for (int seed = 0; seed < 20; seed++) {
        try (Socket s = connect(port(endpoint))) {
          byte[] junk = new byte[4096];
          new java.util.Random(seed).nextBytes(junk);
          s.getOutputStream().write(junk);
        }
      }
      // a ZMTP 3 greeting with a mechanism nobody knows
      try (Socket s = connect(port(endpoint))) {
        byte[] g = greeting();
        System.arraycopy("EVIL".getBytes(StandardCharsets.US_ASCII), 0, g, 12, 4);
        s.getOutputStream().write(g);
        closedByPeer(s, 5);
      }
      // a truncated frame: 100 bytes announced, 10 sent, then the peer goes
      try (Socket s = connect(port(endpoint))) {
        OutputStream out = s.getOutputStream();
        out.write(greeting());
        out.write(ready("DEALER"));
        out.write(new byte[] {0x00, 100});
        out.write(new byte[10]);
        out.flush();
      }
      // the events endpoint (PUB) bounds a subscriber's frames the same way
      String pubsub = Pattern.compile("pubsub_endpoint = (\\S+)").matcher(java.nio.file.Files.readString(d.config))
          .results().findFirst().orElseThrow().group(1);
      try (Socket s = connect(port(pubsub))) {
        OutputStream out = s.getOutputStream();
        out.write(greeting());
        out.write(ready("SUB"));
        out.write(longFrame(1L << 30));
        out.flush();
        closedByPeer(s, 5);
      }
      stillServing(d, probe, sleepers);
      fdsBackTo(d, fds);
      assertThat(d.logText()).doesNotContain("OutOfMemoryError").doesNotContain("Exception in thread");
    }
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(10))).isZero();
  }

  @Test
  void aThousandHalfOpenConnectionsAreDroppedAfterTheHandshakeTimeout() throws Exception {
    Daemon d = start(SLEEPERS);
    String endpoint = d.endpoint();
    try (Probe probe = new Probe(dir, endpoint, 5000)) {
      probe.statusMs(3);
      List<Long> sleepers = d.children();
      int fds = d.fdCount();
      List<Socket> held = new ArrayList<>();
      try {
        for (int i = 0; i < 1000; i++) {
          held.add(connect(port(endpoint)));
        }
        // half of them send a partial greeting and stop there
        for (int i = 0; i < held.size(); i += 2) {
          held.get(i).getOutputStream().write(new byte[] {(byte) 0xFF, 0, 0});
        }
        stillServing(d, probe, sleepers);
        long t0 = System.nanoTime();
        for (Socket s : held) {
          closedByPeer(s, 20); // the handshake interval is 10 s; the wait overlaps for all of them
        }
        long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        System.out.println("1000 half-open connections dropped by circusd within " + took + " ms");
      } finally {
        for (Socket s : held) {
          s.close();
        }
      }
      stillServing(d, probe, sleepers);
      fdsBackTo(d, fds);
    }
  }

  @Test
  void aBusyControlPortFailsAtOnceWithNothingStarted() throws Exception {
    try (java.net.ServerSocket taken = new java.net.ServerSocket()) {
      taken.bind(new InetSocketAddress("127.0.0.1", 0));
      java.nio.file.Path marker = dir.resolve("started");
      java.nio.file.Path cfg = dir.resolve("busy.ini");
      java.nio.file.Files.writeString(cfg, "[circus]\nendpoint = tcp://127.0.0.1:" + taken.getLocalPort()
          + "\npubsub_endpoint = tcp://127.0.0.1:" + freePort() + "\n[watcher:first]\ncmd = /usr/bin/touch "
          + marker + "\nrespawn = false\n");
      long t0 = System.nanoTime();
      Daemon.Result r = Daemon.run(cfg, Duration.ofSeconds(30));
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertThat(r.exitCode()).as(r.output()).isEqualTo(1);
      assertThat(r.output()).contains("cannot bind endpoint tcp://127.0.0.1:" + taken.getLocalPort())
          .contains("EADDRINUSE").doesNotContain("Errno 48");
      assertThat(marker).as("no watcher may start before the endpoints are bound").doesNotExist();
      assertThat(ms).as("time to fail, ms").isLessThan(15_000);
    }
  }

  @Test
  void aWatcherRetryingForEverDelaysNothing() throws Exception {
    Daemon d = startAwaiting("control channel ready",
        "[watcher:broken]\ncmd = /nonexistent/program\nmax_retry = -1\npriority = 10\n"
        + "[watcher:after]\ncmd = sleep 3600\npriority = 1\n");
    try (Probe probe = new Probe(dir, d.endpoint(), 5000)) {
      assertThat(probe.statusMs(3)).isLessThan(100.0);
      // the watcher after the broken one starts anyway
      await(Duration.ofSeconds(10), "watcher 'after' active", () -> {
        try {
          return "active".equals(probe.call("status", Map.of("name", "after")).reply().path("status").asText());
        } catch (IOException e) {
          throw new AssertionError(e);
        }
      });
      assertThat(probe.call("status", Map.of("name", "broken")).reply().path("status").asText()).isEqualTo("starting");
      assertThat(probe.statusMs(3)).isLessThan(100.0);
    }
    long t0 = System.nanoTime();
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(10))).isZero();
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("SIGTERM to exit, ms").isLessThan(5_000);
  }

  @Test
  void controlAndSigtermDoNotWaitForWarmupDelay() throws Exception {
    Daemon d = startAwaiting("control channel ready",
        "[watcher:slow]\ncmd = sleep 3600\nnumprocesses = 4\nwarmup_delay = 5\n");
    try (Probe probe = new Probe(dir, d.endpoint(), 5000)) {
      long t0 = System.nanoTime();
      assertThat(probe.statusMs(3)).isLessThan(100.0);
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("first answers, ms").isLessThan(4_000);
      assertThat(probe.call("status", Map.of("name", "slow")).reply().path("status").asText()).isEqualTo("starting");
    }
    long t0 = System.nanoTime();
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(10))).isZero();
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("SIGTERM to exit, ms").isLessThan(5_000);
  }
}
