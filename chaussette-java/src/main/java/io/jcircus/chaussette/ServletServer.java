package io.jcircus.chaussette;

import jakarta.servlet.Servlet;
import java.nio.file.Path;

/**
 * The servlet backend for applications that embed chaussette-java (the {@code jcircus-chaussette} artifact) rather
 * than run its launcher: a servlet, or a whole web application, on embedded Jetty 12, on a socket handed over
 * ({@code fd://N}, {@code fdpass:///path#name}, {@code systemd://[NAME]}) or bound ({@code tcp://host:port}).
 * Each call serves until SIGTERM (or JVM shutdown), drains, and returns; it reports {@code READY=1} to
 * {@code $NOTIFY_SOCKET} once it accepts, and balances connections with the other workers on the socket.
 *
 * <p>The application needs {@code org.eclipse.jetty.ee10:jetty-ee10-servlet} (and, for {@link #serveWar},
 * {@code jetty-ee10-webapp} and {@code jetty-ee10-annotations}) on its class path, which the artifact declares
 * optional, and the JVM option {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED} to serve an inherited fd
 * (the JDK wraps an inherited socket for fd 0 only; chaussette-java makes the channel itself). The netty
 * backend's counterpart is {@link Chaussette#serve(String, HttpApp, int)}.
 */
public final class ServletServer {
  private ServletServer() { }

  /**
   * Serves {@code servlet}, mounted at {@code /*} under {@code contextPath}.
   *
   * @param threads Jetty selector threads (its request thread pool is sized from it)
   * @throws IllegalArgumentException if the URI or the socket it names cannot be served
   * @throws Exception if Jetty fails to start
   */
  public static void serve(String uri, Servlet servlet, String contextPath, int threads) throws Exception {
    ServletBackend.serve(uri, ServletBackend.App.of(servlet), contextPath, threads, DeferAccept.DEFAULT_SECONDS);
  }

  /**
   * Serves the web application in {@code war} (a .war file or an unpacked one) at {@code contextPath}, as
   * {@code --war} does.
   *
   * @throws IllegalArgumentException if the URI, the socket or the path cannot be served
   * @throws Exception if the web application fails to start (the cause is the application's)
   */
  public static void serveWar(String uri, Path war, String contextPath, int threads) throws Exception {
    ServletBackend.serve(uri, ServletBackend.App.war(war.toString(), AppClassPath.NONE), contextPath, threads,
        DeferAccept.DEFAULT_SECONDS);
  }
}
