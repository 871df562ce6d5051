package io.jcircus.chaussette;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.Socket;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * chaussette-java: serves an {@link HttpApp} on a socket circusd hands over ({@code fd://N}), on a unix
 * socket it binds ({@code unix:///path}) or on a TCP address it binds ({@code tcp://host:port}, for
 * development). Once it accepts it reports {@code READY=1} to {@code $NOTIFY_SOCKET} (sd_notify), if set. On
 * SIGTERM it stops accepting, lets in-flight requests finish and exits.
 *
 * <pre>chaussette-java [--backend netty|servlet] [--app CLASS | --war WAR] [--classpath PATHS]
 *     [--context-path /PATH] [--threads N] [--defer-accept SECONDS] URI</pre>
 */
public final class Chaussette {
  private Chaussette() {}

  public static void main(String[] args) throws Exception {
    if (Boolean.getBoolean("jcircus.cds.training")) {
      train();
      return;
    }
    String app = null;
    String classpath = null;
    String war = null;
    String contextPath = null;
    String backend = "netty";
    int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    int deferAccept = DeferAccept.DEFAULT_SECONDS;
    String uri = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--app": app = value(args, ++i, "--app takes a class name"); break;
        case "-cp": case "--classpath":
          classpath = value(args, ++i, args[i - 1] + " takes jars and directories, :-separated"); break;
        case "--war": war = value(args, ++i, "--war takes a .war file or a web application's directory"); break;
        case "--context-path": contextPath = value(args, ++i, "--context-path takes a path such as /shop"); break;
        case "--threads":
          try {
            threads = Integer.parseInt(value(args, ++i, "--threads takes a number"));
          } catch (NumberFormatException e) {
            threads = 0;
          }
          if (threads < 1) {
            usage("--threads takes a number of event loops, 1 or more");
          }
          break;
        case "--defer-accept":
          try {
            deferAccept = Integer.parseInt(args[++i]);
          } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
            deferAccept = -1;
          }
          if (deferAccept < 0) {
            usage("--defer-accept takes a number of seconds (0: leave the socket as it is)");
          }
          break;
        case "--backend":
          backend = value(args, ++i, "--backend takes netty or servlet");
          if (!backend.equals("netty") && !backend.equals("servlet")) {
            usage("unknown backend " + backend + " (netty or servlet)");
          }
          break;
        case "-h": case "--help": usage(null); break;
        default:
          if (args[i].startsWith("--")) {
            usage("unknown option " + args[i]);
          }
          uri = args[i];
      }
    }
    if (uri == null) {
      usage("missing URI (fd://N, fdpass:///path#name, systemd://[NAME], unix:///path or tcp://host:port)");
    }
    if (war != null && app != null) {
      usage("--war and --app are two ways to name the application: give one");
    }
    if ((war != null || contextPath != null) && !backend.equals("servlet")) {
      usage((war != null ? "--war" : "--context-path") + " needs --backend servlet");
    }
    if (contextPath != null && !contextPath.startsWith("/")) {
      usage("--context-path " + contextPath + ": a path starts with /");
    }
    try {
      AppClassPath cp = classpath == null ? AppClassPath.NONE : AppClassPath.parse(classpath);
      if (backend.equals("servlet")) {
        ServletBackend.App what = war != null ? ServletBackend.App.war(war, cp)
            : ServletBackend.App.servlet(app == null ? DemoServlet.class.getName() : app, cp);
        ServletBackend.serve(uri, what, contextPath == null ? "/" : contextPath, threads, deferAccept);
        return;
      }
      // the app's loader is the context class loader of every thread this one starts (the event loops'), as
      // libraries that look classes or resources up through it expect
      ClassLoader loader = cp.loader();
      Thread.currentThread().setContextClassLoader(loader);
      HttpApp handler = app == null ? new DemoApp() : AppClassPath.instantiate(app, HttpApp.class, loader, cp);
      serve(uri, handler, threads, deferAccept);
    } catch (IllegalArgumentException e) {
      // the user's to fix (a path, a class, a URI, a socket that is not one): one line that says which
      System.err.println("chaussette-java: " + e.getMessage());
      System.exit(2);
    } catch (ServletBackend.StartFailed e) {
      System.err.println("chaussette-java: " + (war != null ? war : app) + " failed to start: " + e.getMessage());
      System.exit(1);
    }
  }

  private static String value(String[] args, int i, String what) {
    if (i >= args.length) {
      usage(what);
    }
    return args[i];
  }

  private static void usage(String error) {
    System.err.println((error == null ? "" : "chaussette-java: " + error + "\n")
        + "usage: chaussette-java [--backend netty|servlet] [--app CLASS | --war WAR] [--classpath PATHS]"
        + " [--context-path /PATH] [--threads N] [--defer-accept SECONDS]"
        + " fd://N | fdpass:///path#name | systemd://[NAME] | unix:///path | tcp://host:port");
    System.exit(error == null ? 0 : 2);
  }

  /** Serves until SIGTERM (or JVM shutdown), then drains; TCP_DEFER_ACCEPT as {@link DeferAccept} says. */
  public static void serve(String uri, HttpApp app, int threads) throws Exception {
    serve(uri, app, threads, DeferAccept.DEFAULT_SECONDS);
  }

  /**
   * Serves until SIGTERM (or JVM shutdown), then drains.
   *
   * @param deferAcceptSeconds TCP_DEFER_ACCEPT for a TCP socket that has none yet (see {@link DeferAccept});
   *     0 leaves the socket as it is
   */
  public static void serve(String uri, HttpApp app, int threads, int deferAcceptSeconds) throws Exception {
    MultiThreadIoEventLoopGroup workers = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
    FirstRequest.Serving serving = new FirstRequest.Serving(app, pipeline(app, DRAIN), DRAIN);
    // The hook is in place before the worker accepts anything from the shared socket: a SIGTERM that comes while
    // it starts (a reload that gives up on it, a stop) still drains what it took, instead of the JVM exiting
    // with those connections. The lock keeps the hook and the start of accepting in one order or the other.
    Object startup = new Object();
    Listening[] current = new Listening[1];
    boolean[] stopping = new boolean[1];
    CountDownLatch done = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      Listening l;
      synchronized (startup) {
        stopping[0] = true;
        l = current[0];
      }
      if (l != null) {
        l.stop(); // stop accepting; the listening socket stays open in circusd, with its queue
        DRAIN.drain(drainTimeoutMillis());
        DRAIN.balance().leave();
      }
      workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
      done.countDown();
    }, "chaussette-drain"));
    Listening listening;
    String warmed;
    try {
      Endpoint endpoint = open(uri, deferAcceptSeconds);
      // A worker that would be the only one accepting (a restart, the first start, the only worker crashed)
      // starts at once: its clients would wait in the queue for the whole warm-up, which spares latency only
      // where other workers serve meanwhile (a rolling reload, incr).
      boolean alone = endpoint.inherited() && balancing() && warmUpBudgetMillis() > 0
          && !Balance.othersAccepting(endpoint.fd());
      warmed = alone ? "no warm-up: no other worker accepts on this socket"
          : warmUp(workers, serving, deferAcceptSeconds);
      synchronized (startup) {
        if (stopping[0]) {
          return; // terminated while warming up: nothing was taken from the shared socket
        }
        listening = shared(endpoint, workers, serving);
        current[0] = listening;
      }
    } catch (Exception | Error e) {
      workers.shutdownGracefully(0, 0, TimeUnit.SECONDS); // its threads would keep the JVM from exiting
      throw e;
    }
    System.out.println("chaussette-java " + ProcessHandle.current().pid() + " serving on " + uri
        + " (" + listening.describe() + "; " + warmed + ")");
    try {
      SdNotify.send("READY=1"); // the worker accepts from now on: circusd may retire an old worker
    } catch (java.io.IOException e) {
      System.err.println("chaussette-java: cannot notify readiness to $NOTIFY_SOCKET: " + e.getMessage());
    }
    done.await();
  }

  /**
   * A listening socket to serve: handed over ({@code inherited}: fd://, fdpass://, systemd://, which other workers
   * may share) or bound here ({@code tcp://}, {@code unix://}, for development).
   */
  record Endpoint(int fd, boolean unix, boolean inherited, int deferAcceptSeconds) {}

  /** The socket {@code uri} names: fetched, found or bound, not yet accepted on. */
  static Endpoint open(String uri, int deferAcceptSeconds) throws Exception {
    URI u = URI.create(uri);
    switch (u.getScheme()) {
      case "fd": {
        int fd = Integer.parseInt(uri.substring("fd://".length()));
        return new Endpoint(fd, isUnixSocket(fd), true, deferAcceptSeconds);
      }
      case "fdpass": {
        // fdpass:///path/to/circusd.sock#name: fetch the socket from circusd over SCM_RIGHTS
        if (u.getFragment() == null || u.getPath() == null) {
          throw new IllegalArgumentException("expected fdpass:///path/to/socket#name, got " + uri);
        }
        io.jcircus.fdpass.FdPassClient.Received r =
            io.jcircus.fdpass.FdPassClient.fetch(java.nio.file.Path.of(u.getPath()), u.getFragment());
        return new Endpoint(r.fd(), "unix".equals(r.info().get("family")), true, deferAcceptSeconds);
      }
      case "systemd": {
        // systemd://[NAME]: a socket from LISTEN_FDS (fd 3 on), by its LISTEN_FDNAMES name or the first one
        int fd = listenFd(u.getHost());
        return new Endpoint(fd, isUnixSocket(fd), true, deferAcceptSeconds);
      }
      case "unix": {
        // bound here (development): served exactly as a socket circusd hands over
        java.nio.file.Files.deleteIfExists(java.nio.file.Path.of(u.getPath()));
        Socket s = Socket.newSocketDomain();
        s.bind(new DomainSocketAddress(u.getPath()));
        s.listen(BACKLOG);
        return new Endpoint(s.intValue(), true, false, 0);
      }
      case "tcp": {
        Socket s = Socket.newSocketStream();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(u.getHost(), u.getPort()));
        s.listen(BACKLOG);
        return new Endpoint(s.intValue(), false, false, deferAcceptSeconds);
      }
      default:
        throw new IllegalArgumentException("unsupported URI " + uri);
    }
  }

  /** CHAUSSETTE_BALANCE=off: no shared table of connection counts (see {@link Balance}). */
  static boolean balancing() {
    return !"off".equals(System.getenv("CHAUSSETTE_BALANCE"));
  }

  /** Sets up a connection's channel: the drain's bookkeeping, the HTTP codec, the app. */
  static Consumer<Channel> pipeline(HttpApp app, Drain drain) {
    return ch -> {
      Drain.Conn conn = drain.add(ch);
      ch.pipeline().addLast(conn, new HttpServerCodec(), new HttpObjectAggregator(1 << 20),
          new Handler(app, conn, drain));
    };
  }

  /**
   * The build's class data sharing training run ({@code -XX:ArchiveClassesAtExit}, see the pom): the warm-up
   * alone, which loads every class a worker's request path needs, then exit. bin/chaussette-java starts workers
   * with the archive, which cuts a worker's time to READY by about a third (900 to 600 ms here) and the CPU a
   * rolling reload's new JVM takes from the workers still serving.
   */
  private static void train() throws Exception {
    MultiThreadIoEventLoopGroup workers = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    try {
      HttpApp app = new DemoApp();
      System.out.println("cds training: " + warmUp(workers, new FirstRequest.Serving(app, pipeline(app, DRAIN), DRAIN),
          DeferAccept.DEFAULT_SECONDS));
    } finally {
      workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
  }

  /** How the worker takes connections: stoppable without touching the socket other processes share. */
  private interface Listening {
    String describe();

    /** Stops accepting and returns once no more connection can be accepted by this process. */
    void stop();
  }

  /**
   * A socket handed over by circusd (or systemd, or fdpass) that other workers may accept on too: every event
   * loop accepts on it, and a connection's first request goes through {@link FirstRequest}.
   */
  private static Listening shared(Endpoint e, MultiThreadIoEventLoopGroup workers, FirstRequest.Serving serving)
      throws java.io.IOException {
    int fd = e.fd();
    boolean unix = e.unix();
    int deferred = unix ? 0 : DeferAccept.apply(fd, e.deferAcceptSeconds());
    // a socket bound here has no other worker to balance with; CHAUSSETTE_BALANCE=off leaves it to the kernel
    Balance balance = e.inherited() && balancing() ? Balance.join(fd) : Balance.NONE;
    serving.drain.balance(balance);
    SharedAcceptor.Group acceptors;
    try {
      acceptors = new SharedAcceptor.Group(fd, unix, workers,
          (conn, isUnix, loop, readNow) -> FirstRequest.accepted(conn, isUnix, loop, serving, readNow),
          balance, serving.drain::open);
    } catch (java.io.IOException | RuntimeException failed) {
      balance.leave();
      throw failed;
    }
    return new Listening() {
      @Override
      public String describe() {
        return (unix ? "unix" : "tcp") + " fd " + fd + ", " + acceptors.size() + " acceptor(s)"
            + (acceptors.exclusive() ? ", EPOLLEXCLUSIVE" : "") + (deferred > 0 ? ", TCP_DEFER_ACCEPT" : "")
            + (balance == Balance.NONE ? "" : "; " + balance.describe());
      }

      @Override
      public void stop() {
        acceptors.stop();
        balance.retire(); // out of the average: the others no longer step aside for a worker that is leaving
      }
    };
  }

  /** The backlog of a socket bound here ({@code tcp://}, {@code unix://}): Circus's default. */
  static final int BACKLOG = 2048;

  private static final Drain DRAIN = new Drain();

  /**
   * Warm-up requests before the JIT is asked whether it is done: enough for C1 (thresholds halved by the
   * launcher) to queue the request path for compilation.
   */
  static final int WARM_UP_REQUESTS = 300;
  /**
   * The most the warm-up may take (CHAUSSETTE_WARMUP_MS, default 3000; it ends as soon as its requests are done,
   * in 0.5 to 0.8 s on an idle 2-core machine): on a loaded machine a fresh JVM is slow at everything, and a cut
   * short warm-up (20 requests in the first second under a saturating load here) leaves the first clients to the
   * interpreter, while readiness must stay well inside a watcher's ready_timeout (30 s by default).
   */
  /** CHAUSSETTE_WARMUP_REQUESTS, default {@link #WARM_UP_REQUESTS}: more lets C2 compile before READY too. */
  static int warmUpRequests() {
    try {
      return Math.max(0, Integer.parseInt(System.getenv().getOrDefault("CHAUSSETTE_WARMUP_REQUESTS",
          String.valueOf(WARM_UP_REQUESTS))));
    } catch (NumberFormatException e) {
      return WARM_UP_REQUESTS;
    }
  }

  static long warmUpBudgetMillis() {
    try {
      return Long.parseLong(System.getenv().getOrDefault("CHAUSSETTE_WARMUP_MS", "3000"));
    } catch (NumberFormatException e) {
      return 3000;
    }
  }

  /**
   * Serves {@link #WARM_UP_REQUESTS} requests through the very path clients will take (a private loopback
   * listener with the same acceptor, epoll channels and pipeline; half of them a new connection each, half on
   * one keep-alive connection) before the worker accepts anything. A fresh JVM otherwise spends its first
   * requests loading classes, linking native methods and interpreting: during a rolling reload those are
   * clients' requests, and they took 40 to 100+ ms here with an in-memory warm-up of the pipeline alone.
   */
  private static String warmUp(MultiThreadIoEventLoopGroup workers, FirstRequest.Serving serving,
      int deferAcceptSeconds) throws java.io.IOException {
    long began = System.nanoTime();
    int served = 0;
    Socket listener = Socket.newSocketStream();
    listener.bind(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0));
    listener.listen(64);
    int port = ((InetSocketAddress) listener.localAddress()).getPort();
    Listening acceptor = shared(new Endpoint(listener.intValue(), false, false, deferAcceptSeconds), workers, serving);
    byte[] request = "GET / HTTP/1.1\r\nHost: warm-up\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    byte[] closing = "GET / HTTP/1.1\r\nHost: warm-up\r\nConnection: close\r\n\r\n"
        .getBytes(StandardCharsets.US_ASCII);
    java.net.InetSocketAddress to = new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port);
    long deadline = System.nanoTime() + warmUpBudgetMillis() * 1_000_000L;
    // alternately a keep-alive request and one on a new connection, until done or out of time
    try (java.net.Socket keep = new java.net.Socket()) {
      keep.connect(to, 5000);
      keep.setSoTimeout(5000);
      java.io.InputStream keepIn = new java.io.BufferedInputStream(keep.getInputStream());
      // then, in rounds of 20, until the JIT has nothing left to compile: C1 compiles in the background, and
      // the requests that made a method hot would otherwise leave its compilation to the first clients
      java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
      boolean timed = jit != null && jit.isCompilationTimeMonitoringSupported();
      long compiled = -1;
      int firstPhase = warmUpRequests() / 2; // iterations of 2 requests before asking the JIT
      for (int i = 0; System.nanoTime() < deadline; i++) {
        if (i >= firstPhase && i % 10 == 0) {
          long now = timed ? jit.getTotalCompilationTime() : compiled;
          if (now == compiled) {
            break;
          }
          compiled = now;
        }
        keep.getOutputStream().write(request);
        readResponse(keepIn);
        served++;
        try (java.net.Socket c = new java.net.Socket()) {
          c.connect(to, 5000);
          c.setSoTimeout(5000);
          c.getOutputStream().write(closing);
          readResponse(new java.io.BufferedInputStream(c.getInputStream()));
          served++;
        }
      }
    } catch (java.io.IOException e) {
      // a warm-up that cannot reach itself (no loopback?) only costs the first clients some latency
      if (!workers.isShuttingDown()) { // else a SIGTERM came while starting, and there is nothing to warm up for
        System.err.println("chaussette-java: warm-up: " + e);
      }
    } finally {
      acceptor.stop();
    }
    // A fresh JVM's young collections are slow until what start-up left alive is tenured (9-16 ms for the first
    // ones here, 5-7 ms later, against 1-2 ms after one full collection): collect once now, before the worker
    // takes clients. Under a rolling reload they otherwise fell on the new worker's first seconds of real load.
    long gcStart = System.nanoTime();
    System.gc();
    return "warmed up: " + served + " requests in " + (System.nanoTime() - began) / 1_000_000 + " ms, first GC "
        + (System.nanoTime() - gcStart) / 1_000_000 + " ms";
  }

  /** Reads one HTTP response (headers and a Content-Length body). */
  private static void readResponse(java.io.InputStream in) throws java.io.IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        throw new java.io.EOFException("warm-up response cut short: " + head);
      }
      head.append((char) c);
    }
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length:\\s*(\\d+)").matcher(head);
    int length = m.find() ? Integer.parseInt(m.group(1)) : 0;
    in.readNBytes(length);
  }

  /**
   * Whether an inherited fd is an AF_UNIX socket (circusd's {@code family = AF_UNIX}, a systemd socket unit's
   * ListenStream=/path): its inode is in /proc/net/unix. Netty has no call for the family of an fd.
   */
  static boolean isUnixSocket(int fd) {
    String inode = Balance.inode(fd);
    if (inode == null) {
      return false;
    }
    try (java.util.stream.Stream<String> lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/net/unix"))) {
      // columns: Num RefCount Protocol Flags Type St Inode [Path]
      return lines.skip(1).map(l -> l.trim().split("\\s+")).anyMatch(f -> f.length > 6 && f[6].equals(inode));
    } catch (java.io.IOException | RuntimeException e) {
      return false;
    }
  }

  /** The fd systemd's convention hands over: LISTEN_PID must be this process, LISTEN_FDS how many from 3. */
  static int listenFd(String name) {
    String pid = System.getenv("LISTEN_PID");
    String fds = System.getenv("LISTEN_FDS");
    if (fds == null || pid == null || !pid.equals(Long.toString(ProcessHandle.current().pid()))) {
      throw new IllegalArgumentException("systemd://: no sockets for this process (LISTEN_FDS=" + fds
          + ", LISTEN_PID=" + pid + ", my pid " + ProcessHandle.current().pid() + ")");
    }
    int n = Integer.parseInt(fds);
    if (name == null || name.isEmpty()) {
      if (n < 1) {
        throw new IllegalArgumentException("systemd://: LISTEN_FDS=0");
      }
      return 3;
    }
    String[] names = System.getenv().getOrDefault("LISTEN_FDNAMES", "").split(":");
    for (int i = 0; i < Math.min(n, names.length); i++) {
      if (names[i].equals(name)) {
        return 3 + i;
      }
    }
    throw new IllegalArgumentException("systemd://" + name + ": not in LISTEN_FDNAMES="
        + System.getenv("LISTEN_FDNAMES"));
  }

  /** How long a drain may take: CHAUSSETTE_DRAIN_TIMEOUT seconds, default 25 (Circus's graceful_timeout is 30). */
  static long drainTimeoutMillis() {
    String v = System.getenv("CHAUSSETTE_DRAIN_TIMEOUT");
    try {
      return v == null ? 25_000 : (long) (Double.parseDouble(v) * 1000);
    } catch (NumberFormatException e) {
      return 25_000;
    }
  }

  private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final HttpApp app;
    private final Drain.Conn conn;
    private final Drain drain;

    Handler(HttpApp app, Drain.Conn conn, Drain drain) {
      this.app = app;
      this.conn = conn;
      this.drain = drain;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      conn.busy = true;
      if (Responses.refused(req)) { // malformed, too long, or HTTP/1.1 without its one Host
        FullHttpResponse bad = Responses.badRequest();
        Responses.frame(req, bad, false);
        ctx.writeAndFlush(bad).addListener(ChannelFutureListener.CLOSE);
        return;
      }
      FullHttpResponse resp = Responses.call(app, req);
      // While draining, every response closes its connection: the client's next request goes to a new worker.
      boolean keepAlive = HttpUtil.isKeepAlive(req) && !drain.draining();
      Responses.frame(req, resp, keepAlive);
      if (keepAlive) {
        ctx.writeAndFlush(resp).addListener(f -> conn.idle());
      } else {
        ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
