package io.jcircus.chaussette;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.Socket;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A connection's first request over a real loopback socket, served by {@link FirstRequest} or handed to the
 * Netty pipeline: the responses are the same either way, and only one-shot requests skip the channel.
 */
class FirstRequestTest {
  private static final byte[] BIG = new byte[8 << 20];

  private MultiThreadIoEventLoopGroup loops;
  private SharedAcceptor.Group acceptors;
  private final AtomicInteger channels = new AtomicInteger();
  private int port;
  private FirstRequest.Serving serving;
  private Drain drain;

  /** Echoes method, uri and body length; /big answers 8 MiB; /boom throws. */
  private static FullHttpResponse app(io.netty.handler.codec.http.FullHttpRequest req) {
    if (req.uri().equals("/boom")) {
      throw new IllegalStateException("boom");
    }
    if (req.uri().equals("/big")) {
      return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.wrappedBuffer(BIG));
    }
    String text = req.method() + " " + req.uri() + " " + req.content().toString(StandardCharsets.UTF_8)
        + " host=" + req.headers().get("Host") + "\n";
    return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
        Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
  }

  @BeforeEach
  void start() throws IOException {
    Arrays.fill(BIG, (byte) 'x');
    loops = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
    serve(1000);
  }

  /** A fresh drain, pipeline and listener; {@code requestTimeoutMs}: how long a first request may take. */
  private void serve(long requestTimeoutMs) throws IOException {
    drain = new Drain();
    Consumer<Channel> pipeline = Chaussette.pipeline(FirstRequestTest::app, drain);
    Consumer<Channel> counting = ch -> {
      channels.incrementAndGet();
      pipeline.accept(ch);
    };
    serving = new FirstRequest.Serving(FirstRequestTest::app, counting, drain, requestTimeoutMs);
    listen(null);
  }

  /** A new listener and acceptors; {@code readNow} null: the acceptor's own choice, else always that. */
  private void listen(Boolean readNow) throws IOException {
    Socket listener = Socket.newSocketStream();
    listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    listener.listen(64);
    port = ((InetSocketAddress) listener.localAddress()).getPort();
    acceptors = new SharedAcceptor.Group(listener.intValue(), false, loops,
        (fd, unix, loop, now) -> FirstRequest.accepted(fd, unix, loop, serving, readNow == null ? now : readNow));
  }

  @AfterEach
  void stop() {
    acceptors.stop();
    loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
  }

  /** Sends the parts (pausing between them) and reads until the server closes. */
  private String exchange(long pauseMs, String... parts) throws Exception {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      for (int i = 0; i < parts.length; i++) {
        if (i > 0) {
          Thread.sleep(pauseMs);
        }
        s.getOutputStream().write(parts[i].getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
      }
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  @Test
  void oneShotRequestIsAnsweredAndClosedWithoutAChannel() throws Exception {
    for (int i = 0; i < 20; i++) {
      String r = exchange(0, "GET /a?b=" + i + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
      assertThat(r).startsWith("HTTP/1.1 200 OK\r\n").containsIgnoringCase("connection: close\r\n")
          .containsIgnoringCase("content-length: ").endsWith("\r\n\r\nGET /a?b=" + i + "  host=h\n");
    }
    String old = exchange(0, "GET /old HTTP/1.0\r\nHost: h\r\n\r\n");
    assertThat(old).startsWith("HTTP/1.1 200 OK\r\n").endsWith("GET /old  host=h\n");
    assertThat(channels).hasValue(0);
  }

  @Test
  void requestArrivingInPiecesWaitsForTheRest() throws Exception {
    String r = exchange(150, "POST /form HTTP/1.1\r\nHo", "st: h\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello", " world");
    assertThat(r).startsWith("HTTP/1.1 200 OK\r\n").endsWith("POST /form hello world host=h\n");
    assertThat(channels).hasValue(0);
  }

  @Test
  void keepAliveAndPipelinedRequestsGoToTheCodecWithTheBytesAlreadyRead() throws Exception {
    String both = exchange(0, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assertThat(both).contains("GET /1  host=h\n").endsWith("GET /2  host=h\n");
    String sequential = exchange(100, "GET /k HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /l HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assertThat(sequential).contains("GET /k  host=h\n").endsWith("GET /l  host=h\n");
    assertThat(channels).hasValue(2);
  }

  @Test
  void whatTheStrictParserDeclinesIsTheCodecs() throws Exception {
    assertThat(exchange(0, "GARBAGE\r\n\r\n")).startsWith("HTTP/1.1 400 Bad Request\r\n");
    String chunked = exchange(0, "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + "5\r\nhello\r\n0\r\n\r\n");
    assertThat(chunked).startsWith("HTTP/1.1 200 OK\r\n").endsWith("POST /c hello host=h\n");
    assertThat(channels).hasValue(2);
  }

  @Test
  void anHttp11RequestWithoutExactlyOneHostIsRefusedOnBothPaths() throws Exception {
    // one request and a close: the strict parser's path; keep-alive: the codec's
    for (String connection : new String[] {"Connection: close\r\n", ""}) {
      String none = exchange(0, "GET /n HTTP/1.1\r\n" + connection + "\r\n");
      assertThat(none).as(connection).startsWith("HTTP/1.1 400 Bad Request\r\n")
          .containsIgnoringCase("connection: close\r\n").doesNotContain("GET /n");
      String two = exchange(0, "GET /t HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + connection + "\r\n");
      assertThat(two).as(connection).startsWith("HTTP/1.1 400 Bad Request\r\n").doesNotContain("GET /t");
    }
    // HTTP/1.0 has no Host requirement
    assertThat(exchange(0, "GET /o HTTP/1.0\r\n\r\n")).startsWith("HTTP/1.1 200 OK\r\n").endsWith("GET /o  host=null\n");
  }

  @Test
  void headAndErrorsAndLargeResponses() throws Exception {
    String head = exchange(0, "HEAD /h HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assertThat(head).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\n").containsIgnoringCase("content-length: ");
    assertThat(exchange(0, "GET /boom HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
        .startsWith("HTTP/1.1 500 Internal Server Error\r\n");
    // 8 MiB to a client that waits before reading: the socket buffer fills and the rest waits for EPOLLOUT
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write("GET /big HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      Thread.sleep(300);
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      in.transferTo(all);
      String text = all.toString(StandardCharsets.ISO_8859_1);
      int bodyStart = text.indexOf("\r\n\r\n") + 4;
      assertThat(text).startsWith("HTTP/1.1 200 OK\r\n").containsIgnoringCase("content-length: " + BIG.length);
      assertThat(all.size() - bodyStart).isEqualTo(BIG.length);
    }
    assertThat(channels).hasValue(0);
  }

  @Test
  void aClientThatSendsNoWholeRequestInTimeIsClosed() throws Exception {
    for (String sent : new String[] {"", "GET / HTTP/1.1\r\nHost: x\r\n"}) {
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
        s.setSoTimeout(5000);
        s.getOutputStream().write(sent.getBytes(StandardCharsets.US_ASCII));
        long t0 = System.nanoTime();
        assertThat(s.getInputStream().read()).as("closed, nothing answered").isEqualTo(-1);
        assertThat((System.nanoTime() - t0) / 1_000_000).as("after the 1 s request timeout").isBetween(700L, 4000L);
      }
    }
    assertThat(channels).hasValue(0);
  }

  @Test
  void aClientThatLeavesEarlyCostsNothing() throws Exception {
    for (int i = 0; i < 50; i++) {
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
        s.getOutputStream().write("GET / HTTP/1.1\r\nHo".getBytes(StandardCharsets.US_ASCII));
      }
    }
    assertThat(exchange(0, "GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")).endsWith("GET /after  host=h\n");
    assertThat(channels).hasValue(0);
  }

  @Test
  void eitherWayOfTakingANewConnectionServesTheSame() throws Exception {
    for (boolean readNow : new boolean[] {true, false}) {
      acceptors.stop();
      listen(readNow);
      for (int i = 0; i < 5; i++) {
        assertThat(exchange(0, "GET /n" + i + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
            .as("read at once: %s", readNow).startsWith("HTTP/1.1 200 OK\r\n").endsWith("GET /n" + i + "  host=h\n");
      }
      assertThat(exchange(100, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", "ok"))
          .endsWith("POST /p ok host=h\n");
      assertThat(exchange(100, "GET /k HTTP/1.1\r\nHost: h\r\n\r\n",
          "GET /l HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")).contains("GET /k  host=h\n")
          .endsWith("GET /l  host=h\n");
    }
    assertThat(channels).hasValue(2);
  }

  /**
   * Silent clients that arrive 400 ms apart are each closed about 1 s after they came (one list and one sweep per
   * loop stand for their timers), and one served from the middle of that list leaves the others' deadlines alone.
   */
  @Test
  void waitingClientsTimeOutEachOnItsOwnDeadline() throws Exception {
    acceptors.stop();
    loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    loops = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory()); // one loop: one list for all
    listen(false);
    java.net.Socket[] silent = new java.net.Socket[3];
    long[] opened = new long[3];
    try (java.net.Socket served = new java.net.Socket()) {
      for (int i = 0; i < silent.length; i++) {
        if (i == 1) {
          served.connect(new InetSocketAddress("127.0.0.1", port));
          served.setSoTimeout(5000);
        }
        silent[i] = new java.net.Socket("127.0.0.1", port);
        silent[i].setSoTimeout(5000);
        opened[i] = System.nanoTime();
        Thread.sleep(400);
      }
      served.getOutputStream().write("GET /mid HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      assertThat(new String(served.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)).endsWith("GET /mid  host=null\n");
      for (int i = 0; i < silent.length; i++) {
        assertThat(silent[i].getInputStream().read()).isEqualTo(-1);
        long ms = (System.nanoTime() - opened[i]) / 1_000_000;
        assertThat(ms).as("client %d closed after its own 1 s", i).isBetween(900L, 1600L);
      }
    } finally {
      for (java.net.Socket c : silent) {
        if (c != null) {
          c.close();
        }
      }
    }
  }

  /** What SIGTERM does in a worker: stop accepting, then drain; returns the thread running the drain. */
  private Thread startDrain() {
    acceptors.stop();
    Thread t = new Thread(() -> drain.drain(20_000), "test-drain");
    t.start();
    return t;
  }

  /**
   * A connection the worker accepted before it began to drain, whose client sends its request a second into the
   * drain (a client slowed down between connect and send), is served: it was taken from the shared queue, and
   * closing it would fail a request that no client retries on its own.
   */
  @Test
  void aConnectionThatHasNotSpokenYetIsServedWhenItsRequestComesDuringTheDrain() throws Exception {
    acceptors.stop();
    serve(10_000);
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
      s.setSoTimeout(5000);
      Thread.sleep(200); // accepted by now: the test's listener has no TCP_DEFER_ACCEPT
      Thread draining = startDrain();
      Thread.sleep(2 * Drain.QUIET_MS);
      s.getOutputStream().write("GET /late HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
          .startsWith("HTTP/1.1 200 OK\r\n").endsWith("GET /late  host=h\n");
      draining.join(5000);
      assertThat(draining.isAlive()).as("the drain ends once the connection is closed").isFalse();
    }
  }

  /** A connection that stays silent does not hold the drain up for longer than FIRST_REQUEST_QUIET_MS. */
  @Test
  void aSilentConnectionIsClosedByTheDrainAfterItsLongerQuietTime() throws Exception {
    acceptors.stop();
    serve(10_000);
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      Thread.sleep(100);
      long t0 = System.nanoTime();
      Thread draining = startDrain();
      assertThat(s.getInputStream().read()).isEqualTo(-1);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(ms).as("closed once silent for FIRST_REQUEST_QUIET_MS").isBetween(Drain.FIRST_REQUEST_QUIET_MS - 200,
          Drain.FIRST_REQUEST_QUIET_MS + 1500);
      draining.join(5000);
      assertThat(draining.isAlive()).isFalse();
    }
  }

  /**
   * An idle keep-alive connection is closed within about QUIET_MS of the drain, the lingering way: the client reads
   * the end of the stream, and what it sends after that (a request that crossed the server's FIN) is read and
   * dropped, not answered with a reset. After a plain close the second write below fails with "Broken pipe",
   * because the first one drew a RST.
   */
  @Test
  void anIdleKeepAliveConnectionIsClosedInTheLingeringWay() throws Exception {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
      s.setSoTimeout(5000);
      InputStream in = s.getInputStream();
      s.getOutputStream().write("GET /ka HTTP/1.1\r\nHost: h\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      String head = readHead(in);
      assertThat(head).startsWith("HTTP/1.1 200 OK\r\n").doesNotContainIgnoringCase("connection: close");
      in.readNBytes(contentLength(head));
      long t0 = System.nanoTime();
      Thread draining = startDrain();
      assertThat(in.read()).as("the drain closes the idle connection").isEqualTo(-1);
      assertThat((System.nanoTime() - t0) / 1_000_000).isBetween(Drain.QUIET_MS - 100, Drain.QUIET_MS + 1000);
      byte[] late = "GET /late HTTP/1.1\r\nHost: h\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
      s.getOutputStream().write(late);
      Thread.sleep(100);
      s.getOutputStream().write(late); // would throw after a reset
      Thread.sleep(100);
      assertThat(in.read()).as("still an orderly end of stream").isEqualTo(-1);
      long closing = System.nanoTime();
      s.shutdownOutput(); // the client's FIN: the worker's lingering close completes at once
      draining.join(Drain.LINGER_MS + 3000);
      assertThat(draining.isAlive()).isFalse();
      assertThat((System.nanoTime() - closing) / 1_000_000).as("not left to the linger timer")
          .isLessThan(Drain.LINGER_MS - 500);
    }
  }

  private static String readHead(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        throw new IOException("cut short: " + head);
      }
      head.append((char) c);
    }
    return head.toString();
  }

  private static int contentLength(String head) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length:\\s*(\\d+)").matcher(head);
    return m.find() ? Integer.parseInt(m.group(1)) : 0;
  }
}
