package io.jcircus.chaussette;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * chaussette-java: serves an {@link HttpApp} on a socket circusd hands over ({@code fd://N}), on a unix
 * socket it binds ({@code unix:///path}) or on a TCP address it binds ({@code tcp://host:port}, for
 * development). Once it accepts it reports {@code READY=1} to {@code $NOTIFY_SOCKET} (sd_notify), if set. On
 * SIGTERM it stops accepting, lets in-flight requests finish and exits.
 *
 * <pre>chaussette-java [--app CLASS] [--threads N] URI</pre>
 */
public final class Chaussette {
  private Chaussette() {}

  public static void main(String[] args) throws Exception {
    String app = null;
    String backend = "netty";
    int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    String uri = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--app": app = args[++i]; break;
        case "--threads": threads = Integer.parseInt(args[++i]); break;
        case "--backend":
          backend = args[++i];
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
    if (backend.equals("servlet")) {
      ServletBackend.serve(uri, app == null ? DemoServlet.class.getName() : app, threads);
      return;
    }
    HttpApp handler = (HttpApp) Class.forName(app == null ? DemoApp.class.getName() : app)
        .getDeclaredConstructor().newInstance();
    serve(uri, handler, threads);
  }

  private static void usage(String error) {
    System.err.println((error == null ? "" : "chaussette-java: " + error + "\n")
        + "usage: chaussette-java [--backend netty|servlet] [--app CLASS] [--threads N]"
        + " fd://N | fdpass:///path#name | systemd://[NAME] | unix:///path | tcp://host:port");
    System.exit(error == null ? 0 : 2);
  }

  /** Serves until SIGTERM (or JVM shutdown), then drains. */
  public static void serve(String uri, HttpApp app, int threads) throws Exception {
    MultiThreadIoEventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    MultiThreadIoEventLoopGroup workers = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
    // Several processes accept on one socket and Netty cannot ask for EPOLLEXCLUSIVE: with its defaults (edge
    // triggered, up to 16 accepts per wake-up) the first worker awake takes nearly every connection. Level
    // triggered with one accept per wake-up lets every waiting worker take its turn (bench/sockets.py).
    ServerBootstrap b = new ServerBootstrap().group(boss, workers)
        .option(io.netty.channel.epoll.EpollChannelOption.EPOLL_MODE, io.netty.channel.epoll.EpollMode.LEVEL_TRIGGERED)
        .option(ChannelOption.MAX_MESSAGES_PER_READ, 1)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            Drain.Conn conn = DRAIN.add(ch);
            ch.pipeline().addLast(conn, new HttpServerCodec(), new HttpObjectAggregator(1 << 20),
                new Handler(app, conn));
          }
        });
    warmUp(app);
    Channel server;
    URI u = URI.create(uri);
    switch (u.getScheme()) {
      case "fd": {
        int fd = Integer.parseInt(uri.substring("fd://".length()));
        b.channelFactory((io.netty.channel.ChannelFactory<ServerChannel>) () -> new EpollServerSocketChannel(fd));
        server = b.register().sync().channel(); // already bound and listening: register, do not bind
        break;
      }
      case "fdpass": {
        // fdpass:///path/to/circusd.sock#name: fetch the socket from circusd over SCM_RIGHTS
        if (u.getFragment() == null || u.getPath() == null) {
          throw new IllegalArgumentException("expected fdpass:///path/to/socket#name, got " + uri);
        }
        io.jcircus.fdpass.FdPassClient.Received r =
            io.jcircus.fdpass.FdPassClient.fetch(java.nio.file.Path.of(u.getPath()), u.getFragment());
        int fd = r.fd();
        boolean unix = "unix".equals(r.info().get("family"));
        b.channelFactory((io.netty.channel.ChannelFactory<ServerChannel>) () ->
            unix ? new EpollServerDomainSocketChannel(fd) : new EpollServerSocketChannel(fd));
        server = b.register().sync().channel();
        break;
      }
      case "systemd": {
        // systemd://[NAME]: a socket from LISTEN_FDS (fd 3 on), by its LISTEN_FDNAMES name or the first one
        int fd = listenFd(u.getHost());
        b.channelFactory((io.netty.channel.ChannelFactory<ServerChannel>) () -> new EpollServerSocketChannel(fd));
        server = b.register().sync().channel();
        break;
      }
      case "unix":
        b.channel(EpollServerDomainSocketChannel.class);
        java.nio.file.Files.deleteIfExists(java.nio.file.Path.of(u.getPath()));
        server = b.bind(new DomainSocketAddress(u.getPath())).sync().channel();
        break;
      case "tcp":
        b.channel(EpollServerSocketChannel.class).option(ChannelOption.SO_REUSEADDR, true);
        server = b.bind(new InetSocketAddress(u.getHost(), u.getPort())).sync().channel();
        break;
      default:
        throw new IllegalArgumentException("unsupported URI " + uri);
    }
    System.out.println("chaussette-java " + ProcessHandle.current().pid() + " serving on " + uri
        + " (" + server.localAddress() + ")");
    try {
      SdNotify.send("READY=1"); // the channel accepts from now on: circusd may retire an old worker
    } catch (java.io.IOException e) {
      System.err.println("chaussette-java: cannot notify readiness to $NOTIFY_SOCKET: " + e.getMessage());
    }
    Channel s = server;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      s.close().awaitUninterruptibly(); // stop accepting; the listening socket stays open in circusd
      DRAIN.drain(drainTimeoutMillis());
      workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
      boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }, "chaussette-drain"));
    server.closeFuture().sync();
  }

  private static final Drain DRAIN = new Drain();

  /**
   * Runs a few requests through the real pipeline in memory before the worker accepts anything: a fresh JVM
   * otherwise spends its first request loading and initialising the HTTP codec and the app (hundreds of
   * milliseconds here), and during a rolling reload that request is a client's.
   */
  private static void warmUp(HttpApp app) {
    Drain scratch = new Drain();
    for (int i = 0; i < 50; i++) {
      io.netty.channel.embedded.EmbeddedChannel ch = new io.netty.channel.embedded.EmbeddedChannel();
      Drain.Conn conn = scratch.add(ch);
      ch.pipeline().addLast(conn, new HttpServerCodec(), new HttpObjectAggregator(1 << 20), new Handler(app, conn));
      ch.writeInbound(Unpooled.copiedBuffer("GET / HTTP/1.1\r\nHost: warm-up\r\n\r\n", StandardCharsets.US_ASCII));
      Object out;
      while ((out = ch.readOutbound()) != null) {
        io.netty.util.ReferenceCountUtil.release(out);
      }
      ch.finishAndReleaseAll();
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

    Handler(HttpApp app, Drain.Conn conn) {
      this.app = app;
      this.conn = conn;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      conn.busy = true;
      FullHttpResponse resp;
      try {
        resp = app.handle(req);
      } catch (Exception e) {
        resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.INTERNAL_SERVER_ERROR,
            Unpooled.copiedBuffer("internal error\n", StandardCharsets.US_ASCII));
      }
      // While draining, every response closes its connection: the client's next request goes to a new worker.
      boolean keepAlive = HttpUtil.isKeepAlive(req) && !DRAIN.draining();
      HttpUtil.setContentLength(resp, resp.content().readableBytes());
      if (keepAlive) {
        if (!req.protocolVersion().isKeepAliveDefault()) {
          resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        ctx.writeAndFlush(resp).addListener(f -> conn.idle());
      } else {
        resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }
}
