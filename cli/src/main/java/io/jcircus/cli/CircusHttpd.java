package io.jcircus.cli;

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
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.zeromq.ZContext;
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

  @Option(names = "--endpoint", paramLabel = "[NAME=]ENDPOINT", description = "A circusd's control endpoint;"
      + " repeat it to watch several (NAME names it in the page, default its host:port). Default, when neither"
      + " this nor --config names one: $CIRCUSCTL_ENDPOINT or tcp://127.0.0.1:5555.")
  java.util.List<String> endpoints = new java.util.ArrayList<>();

  @Option(names = "--config", paramLabel = "FILE", description = "The daemons to watch, one [daemon:NAME] section"
      + " each (endpoint, curve_server_key, curve_key; see README); daemons added in the page are saved there.")
  java.nio.file.Path config;

  @Option(names = "--cluster", paramLabel = "ZK", description = "Follow every node of the fleet registered at"
      + " zk://HOST:PORT,…/NAME (nodes come and go with the registry).")
  String cluster;

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
    System.setProperty("org.slf4j.simpleLogger.log.org.apache.zookeeper", "off");
    System.setProperty("org.slf4j.simpleLogger.log.org.apache.curator", "off");
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
    Fleet fleet = new Fleet(ctx, timeoutMs, curveOptions, config);
    try {
      if (endpoints.isEmpty() && config == null && cluster == null) {
        endpoints.add(System.getenv().getOrDefault("CIRCUSCTL_ENDPOINT", "tcp://127.0.0.1:5555"));
      }
      for (String e : endpoints) {
        String[] named = Fleet.named(e);
        fleet.addFromCommandLine(named[0], named[1], curve);
      }
      fleet.load();
    } catch (java.io.IOException | io.jcircus.protocol.ConfigException e) {
      System.err.println("circus-httpd: " + e.getMessage());
      fleet.close();
      ctx.close();
      return 2;
    }
    if (cluster != null) {
      try {
        io.jcircus.cluster.ClusterAddress.parse(cluster);
      } catch (IllegalArgumentException e) {
        System.err.println("circus-httpd: --cluster: " + e.getMessage());
        fleet.close();
        ctx.close();
        return 2;
      }
    }
    HttpApi api = new HttpApi(fleet, access, tls != null);
    io.netty.handler.ssl.SslContext ssl = tls;
    MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
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
          + local.getPort() + " for " + String.join(", ", fleet.all().stream().map(d -> d.endpoint).toList()));
      System.out.flush();
      fleet.start();
      Thread registry = cluster == null ? null : followRegistry(fleet, curve);
      Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
      stop.await();
      if (registry != null) {
        registry.interrupt();
      }
      server.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
      return 0;
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
      fleet.close();
      ctx.close();
    }
  }

  private static int refuse(String where) {
    System.err.println("circus-httpd: refusing to listen on " + where + ": without accounts (--users FILE) the"
        + " console may only listen on a loopback address such as 127.0.0.1");
    return 2;
  }


  /**
   * Reads the registry every 2 s and keeps the fleet in step with it (Curator reconnects by itself; while ZooKeeper
   * is unreachable the daemons already followed stay).
   */
  private Thread followRegistry(Fleet fleet, CurveOptions.Keys curve) {
    Thread t = new Thread(() -> {
      io.jcircus.cluster.ClusterAddress address = io.jcircus.cluster.ClusterAddress.parse(cluster);
      org.apache.curator.framework.CuratorFramework c = io.jcircus.cluster.FleetRegistry.client(address, null, 30_000,
          10_000);
      c.start();
      try {
        while (!Thread.currentThread().isInterrupted()) {
          try {
            if (c.getZookeeperClient().isConnected()) {
              fleet.sync(io.jcircus.cluster.FleetRegistry.nodes(c, 10_000), curve);
            }
          } catch (InterruptedException e) {
            return;
          } catch (Exception e) {
            System.err.println("circus-httpd: the registry at " + address + ": " + e.getMessage());
          }
          Thread.sleep(2000);
        }
      } catch (InterruptedException e) {
        // stopping
      } finally {
        c.close();
      }
    }, "console-cluster");
    t.setDaemon(true);
    t.start();
    return t;
  }
}
