package io.jcircus.it.recipes;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleException;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;

/**
 * The README's Tomcat recipe, as a worker circusd runs: embedded Tomcat whose NIO connector serves the listening
 * socket circusd puts on fd 0 ({@code stdin_socket = NAME} in the watcher), through Tomcat's
 * {@code useInheritedChannel}. A Spring Boot application does the same in a
 * {@code WebServerFactoryCustomizer<TomcatServletWebServerFactory>} that sets the property on its connector.
 *
 * <p>Tomcat falls back to binding its configured port when fd 0 is not a listening socket; this worker refuses
 * to start instead, so a wrong watcher configuration fails loudly.
 */
public final class TomcatInherited {
  private TomcatInherited() {}

  public static void main(String[] args) throws Exception {
    if (!(System.inheritedChannel() instanceof ServerSocketChannel)) {
      System.err.println("tomcat-inherited: fd 0 is not a listening socket (set stdin_socket in the watcher)");
      System.exit(2);
    }
    Tomcat tomcat = new Tomcat();
    tomcat.setBaseDir(Files.createTempDirectory("tomcat-inherited").toString());
    Connector connector = new Connector("org.apache.coyote.http11.Http11NioProtocol");
    connector.setProperty("useInheritedChannel", "true");
    connector.setProperty("bindOnInit", "false"); // what lets closeServerSocketGraceful() below close it
    tomcat.setConnector(connector);
    Context ctx = tomcat.addContext("", null);
    Tomcat.addServlet(ctx, "pid", new HttpServlet() {
      @Override
      protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        resp.setContentType("text/plain");
        resp.getWriter().println("hello from pid " + ProcessHandle.current().pid());
      }
    });
    ctx.addServletMappingDecoded("/*", "pid");
    tomcat.start();
    System.out.println("tomcat-inherited " + ProcessHandle.current().pid() + " serving on fd 0");
    // SIGTERM: stop accepting and turn keep-alive off, let the open connections finish, then stop. Not Tomcat's
    // plain stop(): it pauses the connector first, and a paused Tomcat answers 503 to every request it reads
    // (keep-alive clients' next ones) and closes connections it accepted but had not read yet; on a socket other
    // workers keep accepting on, closing this process's copy is all "stop accepting" needs.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        connector.getProtocolHandler().closeServerSocketGraceful();
        connector.getProtocolHandler().awaitConnectionsClose(10_000);
        tomcat.stop();
        tomcat.destroy();
      } catch (LifecycleException e) {
        System.err.println("tomcat-inherited: stop: " + e);
      }
    }, "tomcat-stop"));
    tomcat.getServer().await();
  }
}
