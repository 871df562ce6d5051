package io.jcircus.chaussette;

import jakarta.servlet.Servlet;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.ee10.webapp.WebAppContext;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * {@code --backend servlet}: a Jakarta Servlet 6 application on embedded Jetty 12, on the socket circusd
 * hands over ({@code fd://N}, {@code fdpass://}, {@code systemd://}) or one it binds ({@code tcp://}). Jetty takes
 * a {@link ServerSocketChannel}, made over the inherited fd by {@link InheritedServerChannel}. On SIGTERM: stop
 * accepting, let requests that are arriving or running finish, stop.
 *
 * <p>The application is a servlet class ({@code --app}, mounted at {@code /*}) or a whole web application
 * ({@code --war}: a .war file or its unpacked directory, with its web.xml, annotations, WEB-INF/lib and static
 * files), which runs unchanged: Jetty's {@link WebAppContext}, with annotation scanning. A web application that
 * fails to start (a servlet's init, a listener, a bad web.xml) makes the worker exit before it reports ready,
 * instead of answering 503: a rolling reload onto a broken build then stops with the old workers serving.
 */
final class ServletBackend {
  private ServletBackend() { }

  /** Where each worker unpacks its own copy of a .war file; the worker deletes it when it exits. */
  static final String WAR_TMP_PREFIX = "chaussette-war-";

  /** What to serve: a servlet class, or a web application. */
  record App(Servlet instance, String servletClass, Path war, AppClassPath classpath) {
    static App servlet(String servletClass, AppClassPath classpath) {
      return new App(null, servletClass, null, classpath);
    }

    /** An embedder's servlet. */
    static App of(Servlet servlet) {
      return new App(servlet, servlet.getClass().getName(), null, AppClassPath.NONE);
    }

    /**
     * @throws IllegalArgumentException if {@code path} is neither a file nor a directory
     */
    static App war(String path, AppClassPath classpath) {
      Path p = Path.of(path).toAbsolutePath().normalize();
      if (!Files.isRegularFile(p) && !Files.isDirectory(p)) {
        throw new IllegalArgumentException("--war " + path + ": no such file or directory");
      }
      if (Files.isDirectory(p) && !Files.isDirectory(p.resolve("WEB-INF")) && !Files.exists(p.resolve("index.html"))) {
        throw new IllegalArgumentException("--war " + path + ": a directory with neither WEB-INF/ nor index.html"
            + " is not a web application");
      }
      return new App(null, null, p, classpath);
    }

    String describe() {
      return war != null ? war.toString() : servletClass;
    }
  }

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
    private volatile boolean retired;
    private final AtomicInteger pending = new AtomicInteger();

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

    /**
     * Stops taking connections from the socket and leaves every accepted one open for the drain. Not Jetty's
     * {@code shutdown()}: that also makes each connection close as soon as its current response is written, a
     * response that may already have gone out as persistent, so the client's next request on it meets an end of
     * stream instead of an answer (measured: 1 to 3 such failures per rolling reload of 4 workers under
     * keep-alive load from a client that does not retry, as wrk does not).
     */
    void stopAccepting() {
      retired = true;
      setAccepting(false); // the acceptor then waits, instead of spinning on a closed channel
      // Our copy of the socket (circusd and the other workers keep theirs). Closed, not interrupted: an acceptor
      // blocked in accept() then either returns a connection the kernel gave it or fails, while an interrupt
      // fails the accept() even when the kernel did give it one, and that client would never be answered.
      close();
    }

    /** No connection open, and none taken from the socket that is not one yet. */
    boolean empty() {
      return pending.get() == 0 && getConnectedEndPoints().isEmpty();
    }

    @Override
    protected boolean handleAcceptFailure(Throwable failure) {
      return !retired && super.handleAcceptFailure(failure); // after stopAccepting: its channel closed, quietly
    }

    @Override
    public void accept(int acceptorID) throws java.io.IOException {
      if (retired) {
        return;
      }
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
      if (retired) {
        return;
      }
      // counted before: the selector may make an endpoint of it before accept() returns here; over-counted
      // (the drain then waits for quiet instead) only if the channel closed before accept() began
      pending.incrementAndGet();
      try {
        super.accept(acceptorID);
      } catch (java.io.IOException | RuntimeException e) {
        pending.decrementAndGet();
        throw e;
      }
      recent[next++ & (recent.length - 1)] = System.nanoTime();
      balance.publish(estimate());
    }

    @Override
    protected void onEndPointOpened(EndPoint endpoint) {
      super.onEndPointOpened(endpoint);
      pending.decrementAndGet();
      balance.publish(getConnectedEndPoints().size());
    }

    @Override
    protected void onEndPointClosed(EndPoint endpoint) {
      super.onEndPointClosed(endpoint);
      balance.publish(getConnectedEndPoints().size());
    }
  }

  /**
   * Marks every response {@code Connection: close} once the worker drains: a keep-alive client then leaves after
   * the answer to the request it sent, and reconnects to a worker that accepts, instead of having the connection
   * closed under a request it sent after that answer.
   */
  static final class DrainingHandler extends Handler.Wrapper {
    private volatile boolean draining;

    DrainingHandler(Handler handler) {
      super(handler);
    }

    void drain() {
      draining = true;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
      if (draining) {
        response.getHeaders().put(HttpFields.CONNECTION_CLOSE);
      }
      return super.handle(request, response, callback);
    }
  }

  /**
   * Serves {@code app} at {@code contextPath} until SIGTERM, then drains.
   *
   * @throws IllegalArgumentException for what the user has to fix (the URI, the socket, the app's class)
   * @throws StartFailed if the application fails to start
   */
  static void serve(String uri, App app, String contextPath, int threads, int deferAcceptSeconds) throws Exception {
    URI u = URI.create(uri);
    ServerSocketChannel channel;
    int handedOver = -1; // the fd, for a socket handed over
    switch (u.getScheme()) {
      case "tcp":
        channel = ServerSocketChannel.open();
        channel.bind(new InetSocketAddress(u.getHost(), u.getPort()));
        break;
      case "unix":
        throw new IllegalArgumentException("the servlet backend serves TCP sockets (Jetty's ServerConnector); got "
            + uri);
      default: {
        // fd://N, fdpass://, systemd://: found or fetched as the netty backend does, then wrapped for Jetty
        Chaussette.Endpoint e = Chaussette.open(uri, deferAcceptSeconds);
        if (e.unix()) {
          throw new IllegalArgumentException(uri + " is a unix socket: the servlet backend serves TCP sockets");
        }
        channel = InheritedServerChannel.of(e.fd());
        handedOver = e.fd();
        DeferAccept.apply(e.fd(), deferAcceptSeconds); // the request is there when Jetty accepts (see DeferAccept)
      }
    }
    QueuedThreadPool pool = new QueuedThreadPool(Math.max(8, threads * 4), Math.max(2, threads));
    pool.setName("chaussette-jetty");
    Server server = new Server(pool);
    // Workers sharing the socket balance their connections as the netty backend's do (see Balance): Jetty's
    // acceptor thread, blocked in accept(), is a waiter in the socket's queue; above the average it stays out
    // of accept() until it is back at the average, or for SharedAcceptor.PAUSE_MS at most.
    Balance balance = handedOver >= 0 && Chaussette.balancing() ? Balance.join(handedOver) : Balance.NONE;
    BalancedConnector connector = new BalancedConnector(server, Math.max(1, threads), balance);
    connector.open(channel);
    server.addConnector(connector);
    Path unpacked = null;
    Handler context;
    if (app.war() != null) {
      WebAppContext webapp = new WebAppContext();
      webapp.setContextPath(contextPath);
      webapp.setWar(app.war().toString());
      webapp.setThrowUnavailableOnStartupException(true);
      if (!app.classpath().isEmpty()) {
        webapp.setExtraClasspath(app.classpath().joined());
      }
      if (Files.isRegularFile(app.war())) {
        // each worker its own copy, so that replacing the .war and rolling the workers never has one read a
        // half-written file another unpacked; a copy a killed worker left is removed by the next one
        sweepUnpacked();
        unpacked = Files.createTempDirectory(WAR_TMP_PREFIX + ProcessHandle.current().pid() + "-");
        webapp.setTempDirectory(unpacked.toFile());
      }
      context = webapp;
    } else {
      ServletContextHandler handler = new ServletContextHandler();
      handler.setContextPath(contextPath);
      ClassLoader loader = app.classpath().loader();
      if (!app.classpath().isEmpty()) {
        handler.setClassLoader(loader); // the context class loader while the app's code runs
      }
      Servlet servlet = app.instance() != null ? app.instance()
          : AppClassPath.instantiate(app.servletClass(), Servlet.class, loader, app.classpath());
      handler.addServlet(new ServletHolder(servlet), "/*");
      context = handler;
    }
    GracefulHandler graceful = new GracefulHandler(context);
    DrainingHandler draining = new DrainingHandler(graceful);
    server.setHandler(draining);
    long drainMs = Chaussette.drainTimeoutMillis();
    server.setStopTimeout(drainMs);
    // in place before Jetty accepts: a SIGTERM while it starts still drains what it took (Jetty's start and
    // stop take the same lifecycle lock, so the stop waits for the start)
    AtomicBoolean failed = new AtomicBoolean();
    Path copy = unpacked;
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        if (failed.get()) {
          return; // the start failed and undid itself
        }
        draining.drain(); // first: a response leaving from now on says Connection: close
        connector.stopAccepting(); // the socket stays open in circusd and the other workers
        balance.retire();
        // requests already on their way to an accepted connection get a moment to arrive, running ones finish;
        // keep-alive clients leave after their next answer
        long deadline = System.nanoTime() + drainMs * 1_000_000L;
        long quietSince = System.nanoTime();
        while (System.nanoTime() < deadline && !connector.empty()) {
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
        delete(copy);
      }
    }, "chaussette-drain"));
    try {
      server.start();
    } catch (Exception | Error e) {
      failed.set(true);
      try {
        server.stop(); // its threads would keep the JVM from exiting
      } catch (Exception ignored) {
        // reported below: the start's failure is the one that matters
      }
      balance.leave();
      delete(copy);
      throw new StartFailed(e); // Jetty has logged its stack trace
    }
    System.out.println("chaussette-java " + ProcessHandle.current().pid() + " serving " + app.describe()
        + (contextPath.equals("/") ? "" : " at " + contextPath)
        + " on " + uri + " (" + channel.getLocalAddress() + ", Jetty " + Server.getVersion()
        + (balance == Balance.NONE ? "" : "; " + balance.describe()) + ")");
    try {
      SdNotify.send("READY=1");
    } catch (java.io.IOException e) {
      System.err.println("chaussette-java: cannot notify readiness to $NOTIFY_SOCKET: " + e.getMessage());
    }
    server.join();
  }

  /** The application failed to start (Jetty has logged why, with the stack trace). */
  static final class StartFailed extends Exception {
    private static final long serialVersionUID = 1L;

    StartFailed(Throwable cause) {
      super(cause.toString(), cause);
    }
  }

  /** Removes the unpacked copies of workers that are gone (killed: no shutdown hook ran). */
  private static void sweepUnpacked() {
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    try (DirectoryStream<Path> s = Files.newDirectoryStream(tmp, WAR_TMP_PREFIX + "*")) {
      for (Path p : s) {
        String rest = p.getFileName().toString().substring(WAR_TMP_PREFIX.length());
        int dash = rest.indexOf('-');
        try {
          long pid = Long.parseLong(dash < 0 ? rest : rest.substring(0, dash));
          if (ProcessHandle.of(pid).isEmpty()) {
            delete(p);
          }
        } catch (NumberFormatException notOurs) {
          // someone else's name
        }
      }
    } catch (IOException | RuntimeException e) {
      // a leftover copy costs disk, not service
    }
  }

  private static void delete(Path dir) {
    if (dir == null) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | RuntimeException e) {
      // already gone, or not ours to remove
    }
  }
}
