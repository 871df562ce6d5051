package io.jcircus.chaussette;

import jakarta.servlet.Servlet;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * {@code --backend servlet}: a Jakarta Servlet 6 application on embedded Jetty 12, on the socket circusd
 * hands over. Jetty takes a {@link ServerSocketChannel}, which the JDK builds for an inherited socket only on
 * fd 0 ({@link System#inheritedChannel()}): give the watcher {@code stdin_socket = NAME} and use {@code fd://0}
 * (bin/chaussette-java moves {@code fd://N} to fd 0 itself). Closing that channel makes the JDK put /dev/null on
 * fd 0. On SIGTERM: stop accepting, let requests that are arriving or running finish, stop.
 */
final class ServletBackend {
  private ServletBackend() { }

  /**
   * A connector whose acceptor steps aside while its worker holds well above the average of the workers on the
   * socket. Jetty counts a connection once its selector has made an endpoint of it, a moment after the
   * acceptor took it, and an acceptor taking a burst runs ahead of that count: so the connections it accepted in
   * the last {@link #RECENT_MS} count as well (some twice, for that moment).
   */
  static final class BalancedConnector extends ServerConnector {
    static final long RECENT_MS = 50;
    private final Balance balance;
    private final long[] recent = new long[64];
    private int next;

    BalancedConnector(Server server, int selectors, Balance balance) {
      super(server, 1, selectors);
      this.balance = balance;
    }

    /** Open connections, and those accepted in the last {@link #RECENT_MS}. Called on the acceptor thread. */
    private int estimate() {
      long since = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(RECENT_MS);
      int n = getConnectedEndPoints().size();
      for (long t : recent) {
        if (t != 0 && t - since > 0) {
          n++;
        }
      }
      return n;
    }

    @Override
    public void accept(int acceptorID) throws java.io.IOException {
      if (balance.above(estimate(), Balance.SLACK)) {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SharedAcceptor.PAUSE_MS);
        try {
          while (System.nanoTime() - until < 0 && balance.above(estimate(), 0)) {
            Thread.sleep(SharedAcceptor.RESUME_CHECK_MS);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt(); // stopping: Jetty's acceptor loop sees it
          return;
        }
      }
      super.accept(acceptorID);
      recent[next++ & (recent.length - 1)] = System.nanoTime();
      balance.publish(estimate());
    }

    @Override
    protected void onEndPointOpened(EndPoint endpoint) {
      super.onEndPointOpened(endpoint);
      balance.publish(getConnectedEndPoints().size());
    }

    @Override
    protected void onEndPointClosed(EndPoint endpoint) {
      super.onEndPointClosed(endpoint);
      balance.publish(getConnectedEndPoints().size());
    }
  }

  static void serve(String uri, String servletClass, int threads, int deferAcceptSeconds) throws Exception {
    URI u = URI.create(uri);
    ServerSocketChannel channel;
    boolean handedOver = false;
    switch (u.getScheme()) {
      case "fd": {
        if (!uri.equals("fd://0")) {
          throw new IllegalArgumentException("the servlet backend serves an inherited socket on fd 0 only"
              + " (bin/chaussette-java moves fd://N there); got " + uri);
        }
        Channel inherited = System.inheritedChannel();
        if (!(inherited instanceof ServerSocketChannel ssc)) {
          throw new IllegalArgumentException("fd 0 is not a listening socket (" + inherited
              + "): set stdin_socket = NAME in the watcher");
        }
        channel = ssc;
        handedOver = true;
        if (ssc.getLocalAddress() instanceof InetSocketAddress) {
          DeferAccept.apply(0, deferAcceptSeconds); // the request is there when Jetty accepts (see DeferAccept)
        }
        break;
      }
      case "tcp":
        channel = ServerSocketChannel.open();
        channel.bind(new InetSocketAddress(u.getHost(), u.getPort()));
        break;
      default:
        throw new IllegalArgumentException("the servlet backend takes fd://0 or tcp://host:port; got " + uri);
    }
    QueuedThreadPool pool = new QueuedThreadPool(Math.max(8, threads * 4), Math.max(2, threads));
    pool.setName("chaussette-jetty");
    Server server = new Server(pool);
    // Workers sharing the socket balance their connections as the netty backend's do (see Balance): Jetty's
    // acceptor thread, blocked in accept(), is a waiter in the socket's queue; above the average it stays out
    // of accept() until it is back at the average, or for SharedAcceptor.PAUSE_MS at most.
    Balance balance = handedOver && Chaussette.balancing() ? Balance.join(0) : Balance.NONE;
    ServerConnector connector = new BalancedConnector(server, Math.max(1, threads), balance);
    connector.open(channel);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    Servlet servlet = (Servlet) Class.forName(servletClass).getDeclaredConstructor().newInstance();
    context.addServlet(new ServletHolder(servlet), "/*");
    GracefulHandler graceful = new GracefulHandler(context);
    server.setHandler(graceful);
    long drainMs = Chaussette.drainTimeoutMillis();
    server.setStopTimeout(drainMs);
    // in place before Jetty accepts: a SIGTERM while it starts still drains what it took (Jetty's start and
    // stop take the same lifecycle lock, so the stop waits for the start)
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        connector.shutdown().get(); // stop accepting; the socket stays open in circusd and the other workers
        balance.retire();
        // requests already on their way to an accepted connection get a moment to arrive, running ones finish
        long deadline = System.nanoTime() + drainMs * 1_000_000L;
        long quietSince = System.nanoTime();
        while (System.nanoTime() < deadline) {
          if (graceful.getCurrentRequestCount() > 0) {
            quietSince = System.nanoTime();
          } else if (System.nanoTime() - quietSince > Drain.QUIET_MS * 1_000_000L) {
            break;
          }
          Thread.sleep(20);
        }
        server.stop();
      } catch (Exception e) {
        System.err.println("chaussette-java: drain: " + e);
      } finally {
        balance.leave();
      }
    }, "chaussette-drain"));
    server.start();
    System.out.println("chaussette-java " + ProcessHandle.current().pid() + " serving " + servletClass
        + " on " + uri + " (" + channel.getLocalAddress() + ", Jetty " + Server.getVersion()
        + (balance == Balance.NONE ? "" : "; " + balance.describe()) + ")");
    try {
      SdNotify.send("READY=1");
    } catch (java.io.IOException e) {
      System.err.println("chaussette-java: cannot notify readiness to $NOTIFY_SOCKET: " + e.getMessage());
    }
    server.join();
  }
}
