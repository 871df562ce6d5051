package io.jcircus.cli;

import io.jcircus.protocol.Json;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * circus-httpd: the daemon's commands and events over HTTP ({@link HttpApi}), for browsers and scripts. It is a
 * client of the daemon like circusctl: commands go over the control endpoint, events come from the pubsub
 * endpoint the daemon names in {@code globaloptions}. It listens on 127.0.0.1 only until authentication exists.
 */
@Command(name = "circus-httpd", mixinStandardHelpOptions = true,
    description = "The web console: circusd's commands (POST /api/COMMAND), events (GET /api/events) and stats"
        + " (GET /api/stats) over HTTP, and a page at /.")
public final class CircusHttpd implements Callable<Integer> {
  /** Request bodies: a command's properties are small; anything past this is answered 413. */
  static final int MAX_BODY = 64 * 1024;
  /** Commands waiting for the daemon before new ones are refused with 503. */
  static final int MAX_WAITING = 64;

  @Option(names = "--endpoint", description = "circusd's control endpoint. Default: $CIRCUSCTL_ENDPOINT or"
      + " tcp://127.0.0.1:5555.")
  String endpoint = System.getenv().getOrDefault("CIRCUSCTL_ENDPOINT", "tcp://127.0.0.1:5555");

  @Option(names = "--host", description = "Address to listen on (default 127.0.0.1).")
  String host = "127.0.0.1";

  @Option(names = "--port", description = "Port to listen on (default 8080; 0 picks one and prints it).")
  int port = 8080;

  @Option(names = "--timeout", description = "Seconds to wait for the daemon's reply (default 10).")
  double timeout = 10;

  @Option(names = "--fd", description = "Serve on this inherited listening socket instead of --host/--port (circusd"
      + " passes $(circus.sockets.circushttpd) with httpd = True).")
  Integer fd;

  @Option(names = "--users", paramLabel = "FILE", description = "Accounts (NAME ROLE SECRET lines, see README):"
      + " logins are required, and the console may listen beyond loopback.")
  java.nio.file.Path users;

  @Option(names = "--hash-password", description = "Reads a password from standard input, prints its bcrypt hash"
      + " for the accounts file, and exits.")
  boolean hashPassword;

  @Option(names = "--new-token", arity = "2", paramLabel = "NAME ROLE", description = "Prints a new bearer token"
      + " and the accounts line that grants it (ROLE admin or viewer), and exits.")
  String[] newToken;

  @Option(names = "--tls-cert", paramLabel = "FILE", description = "PEM certificate chain: serve HTTPS.")
  java.nio.file.Path tlsCert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM private key (PKCS#8) of --tls-cert.")
  java.nio.file.Path tlsKey;

  @Mixin CurveOptions curveOptions = new CurveOptions();

  private final CountDownLatch stop = new CountDownLatch(1);

  public static void main(String[] args) {
    System.exit(new CommandLine(new CircusHttpd()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (hashPassword) {
      String pw = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8))
          .readLine();
      if (pw == null || pw.isEmpty()) {
        System.err.println("circus-httpd: no password on standard input");
        return 2;
      }
      System.out.println(Access.hashPassword(pw));
      return 0;
    }
    if (newToken != null) {
      if (!newToken[1].equals("admin") && !newToken[1].equals("viewer")) {
        System.err.println("circus-httpd: the role is admin or viewer; got '" + newToken[1] + "'");
        return 2;
      }
      String token = new java.math.BigInteger(256, new java.security.SecureRandom()).toString(16);
      System.out.println("token: " + token);
      System.out.println("accounts line: " + newToken[0] + " " + newToken[1] + " sha256:" + Access.sha256(token));
      return 0;
    }
    Access access = null;
    if (users != null) {
      try {
        access = Access.load(users);
      } catch (java.io.IOException e) {
        System.err.println("circus-httpd: " + e.getMessage());
        return 2;
      }
    }
    io.netty.handler.ssl.SslContext tls = null;
    if ((tlsCert == null) != (tlsKey == null)) {
      System.err.println("circus-httpd: TLS needs both --tls-cert and --tls-key");
      return 2;
    }
    if (tlsCert != null) {
      try {
        tls = io.netty.handler.ssl.SslContextBuilder.forServer(tlsCert.toFile(), tlsKey.toFile()).build();
      } catch (javax.net.ssl.SSLException | IllegalArgumentException e) {
        System.err.println("circus-httpd: cannot use " + tlsCert + " and " + tlsKey + ": " + e.getMessage());
        return 2;
      }
    }
    InetAddress addr = InetAddress.getByName(host);
    if (fd == null && access == null && !addr.isLoopbackAddress()) {
      return refuse(host);
    }
    CurveOptions.Keys curve = curveOptions.resolve();
    long timeoutMs = Math.max(1, (long) (timeout * 1000));
    ZContext ctx = ControlClient.context();
    ControlClient control = new ControlClient(ctx, false, IpcShim.connectable(endpoint), timeoutMs, curve);
    ThreadPoolExecutor commands = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(MAX_WAITING), r -> new Thread(r, "circus-httpd-commands"));
    HttpApi api = new HttpApi(commands, (command, props) -> Json.write(control.call(command, props)), access,
        tls != null);
    io.netty.handler.ssl.SslContext ssl = tls;
    MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    Thread events = new Thread(() -> follow(ctx, curve, timeoutMs, "pubsub_endpoint", api::event, api),
        "circus-httpd-events");
    Thread stats = new Thread(() -> follow(ctx, curve, timeoutMs, "stats_endpoint", api::stat, api),
        "circus-httpd-stats");
    Thread output = new Thread(() -> followOutput(ctx, curve, timeoutMs, api), "circus-httpd-output");
    try {
      ServerBootstrap boot = new ServerBootstrap().group(group)
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              if (ssl != null) {
                ch.pipeline().addLast(ssl.newHandler(ch.alloc()));
              }
              ch.pipeline().addLast(new HttpServerCodec(4096, 8192, 8192), new HttpObjectAggregator(MAX_BODY), api);
            }
          });
      Channel server;
      if (fd != null) {
        // circusd's socket, already bound and listening (and non-blocking, as circusd shares its sockets)
        server = boot.channelFactory(() -> new EpollServerSocketChannel(fd)).register().sync().channel();
        InetAddress on = ((InetSocketAddress) server.localAddress()).getAddress();
        if (access == null && !on.isLoopbackAddress()) {
          server.close();
          return refuse(on.getHostAddress());
        }
      } else {
        server = boot.channel(EpollServerSocketChannel.class).option(ChannelOption.SO_BACKLOG, 128)
            .bind(new InetSocketAddress(addr, port)).sync().channel();
      }
      InetSocketAddress local = (InetSocketAddress) server.localAddress();
      System.out.println("circus-httpd listening on " + (tls != null ? "https" : "http") + "://"
          + local.getAddress().getHostAddress() + ":"
          + local.getPort() + " for " + endpoint);
      System.out.flush();
      for (Thread t : new Thread[] {events, stats, output}) {
        t.setDaemon(true);
        t.start();
      }
      Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
      stop.await();
      server.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
      return 0;
    } finally {
      commands.shutdownNow();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
      control.close();
      ctx.close();
    }
  }

  /**
   * Process output for the log views: subscribed to the daemon's output endpoint only while somebody views logs
   * (circusd sends nothing to a publisher nobody subscribed to), every chunk handed to the API. A chunk is
   * {@code output.NAME.PID.STREAM}, circusd's JSON header (seq, lines, dropped…) and the lines.
   */
  private void followOutput(ZContext ctx, CurveOptions.Keys curve, long timeoutMs, HttpApi api) {
    ZMQ.Socket sub = null;
    String on = null;
    while (stop.getCount() > 0) {
      try {
        String want = api.outputEndpoint();
        if (want == null || !want.equals(on)) {
          if (sub != null) {
            sub.close();
            sub = null;
            on = null;
          }
          if (want == null) {
            Thread.sleep(200);
            continue;
          }
          sub = ControlClient.open(ctx, SocketType.SUB, IpcShim.connectable(want), curve,
              System.nanoTime() + timeoutMs * 1_000_000L, timeoutMs, s -> {
                s.setLinger(0);
                s.setRcvHWM(1000);
                s.subscribe("output.".getBytes(StandardCharsets.UTF_8));
              }).socket();
          sub.setReceiveTimeOut(200);
          on = want;
        }
        byte[] topic = sub.recv();
        if (topic == null) {
          continue;
        }
        String header = sub.hasReceiveMore() ? sub.recvStr() : "{}";
        byte[] lines = sub.hasReceiveMore() ? sub.recv() : new byte[0];
        while (sub.hasReceiveMore()) {
          sub.recv();
        }
        api.output(new String(topic, StandardCharsets.UTF_8), header, new String(lines, StandardCharsets.UTF_8));
        if ((sub.getEvents() & ZMQ.Poller.POLLIN) == 0) { // nothing more waiting: one flush per burst
          api.flush();
        }
      } catch (InterruptedException e) {
        break;
      } catch (Exception e) {
        if (sub != null) {
          sub.close();
          sub = null;
          on = null;
        }
        try {
          Thread.sleep(1000);
        } catch (InterruptedException ie) {
          break;
        }
      }
    }
    if (sub != null) {
      sub.close();
    }
  }

  private static int refuse(String where) {
    System.err.println("circus-httpd: refusing to listen on " + where + ": without accounts (--users FILE) the"
        + " console may only listen on a loopback address such as 127.0.0.1");
    return 2;
  }

  /**
   * Follows one of the daemon's publishers for the API's subscribers: asks the daemon where it publishes
   * ({@code option} of {@code globaloptions}), subscribes to everything, hands each message to {@code sink}, and
   * after a loss (the daemon went away, or came back elsewhere) starts over, for as long as circus-httpd runs.
   */
  private void follow(ZContext ctx, CurveOptions.Keys curve, long timeoutMs, String option,
      java.util.function.BiConsumer<String, String> sink, HttpApi api) {
    // a client of its own: a JeroMQ socket belongs to one thread
    ControlClient control = new ControlClient(ctx, false, IpcShim.connectable(endpoint), timeoutMs, curve);
    while (stop.getCount() > 0) {
      try {
        Map<String, Object> r = control.call("globaloptions", Map.of());
        Object where = r.get("options") instanceof Map<?, ?> o ? o.get(option) : null;
        if (where == null || where.toString().isEmpty()) {
          throw new IllegalStateException("no " + option + " in " + r);
        }
        ZMQ.Socket sub = ControlClient.open(ctx, SocketType.SUB, IpcShim.connectable(where.toString()), curve,
            System.nanoTime() + timeoutMs * 1_000_000L, timeoutMs, s -> {
              s.setLinger(0);
              s.subscribe(new byte[0]);
            }).socket();
        try {
          sub.setReceiveTimeOut(500);
          while (stop.getCount() > 0) {
            byte[] topic = sub.recv();
            // then what else has come, without waiting: one flush to the browsers per burst
            for (int n = 0; topic != null && n < 2000; n++) {
              byte[] body = sub.hasReceiveMore() ? sub.recv() : new byte[0];
              while (sub.hasReceiveMore()) {
                sub.recv(); // frames past the second (none on these publishers) are not forwarded
              }
              sink.accept(new String(topic, StandardCharsets.UTF_8), new String(body, StandardCharsets.UTF_8));
              topic = sub.recv(ZMQ.DONTWAIT);
            }
            api.flush();
          }
        } finally {
          sub.close();
        }
      } catch (Exception e) {
        control.close(); // a fresh connection next time
        try {
          Thread.sleep(1000); // the daemon is away: try again shortly
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
    control.close();
  }
}
