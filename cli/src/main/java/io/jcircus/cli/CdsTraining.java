package io.jcircus.cli;

import io.jcircus.protocol.Json;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The training run behind {@code cli/target/circusctl.jsa}: the build runs circusctl with
 * {@code -Djcircus.cds.training=true -XX:ArchiveClassesAtExit=…}, and this answers a few one-shot commands from
 * an in-process ROUTER on an ephemeral loopback port, so the archive holds the classes of the whole request and
 * reply path, not just of a failed connection.
 */
final class CdsTraining {
  private CdsTraining() { }

  private static volatile boolean stop;

  static int run() throws Exception {
    // A training run must never hang a build: past a minute it ends without an archive (the launcher then
    // runs without one).
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(60_000);
        System.err.println("circusctl CDS training took over 60 s; no archive");
        Runtime.getRuntime().halt(0);
      } catch (InterruptedException e) {
        // finished in time
      }
    }, "cds-training-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    try (ZContext ctx = new ZContext(1)) {
      ZMQ.Socket router = ctx.createSocket(SocketType.ROUTER);
      router.setLinger(0);
      router.setReceiveTimeOut(100);
      router.bind("tcp://127.0.0.1:*");
      String endpoint = router.getLastEndpoint();
      Thread server = new Thread(() -> serve(router), "cds-training-server");
      server.setDaemon(true);
      server.start();
      StringWriter sink = new StringWriter();
      PrintWriter w = new PrintWriter(sink);
      int rc = 0;
      for (String[] args : new String[][] {
          {"--endpoint", endpoint, "status"}, {"--endpoint", endpoint, "list"},
          {"--endpoint", endpoint, "--json", "status", "web"}}) {
        rc |= Circusctl.run(args, w, w);
      }
      stop = true;
      server.join(5000);
      ctx.destroySocket(router); // the server thread is done with it: the context can terminate
      return rc;
    } finally {
      watchdog.interrupt();
    }
  }

  private static void serve(ZMQ.Socket router) {
    try {
      serveUntilClosed(router);
    } catch (org.zeromq.ZMQException e) {
      // the context closed: training is over
    }
  }

  private static void serveUntilClosed(ZMQ.Socket router) {
    while (!stop) {
      byte[] id = router.recv(0);
      if (id == null) {
        continue;
      }
      byte[] body = router.recv(0);
      @SuppressWarnings("unchecked")
      Map<String, Object> req = (Map<String, Object>) Json.parse(new String(body, StandardCharsets.UTF_8));
      Map<String, Object> reply = new LinkedHashMap<>();
      reply.put("status", "ok");
      reply.put("time", System.currentTimeMillis() / 1000.0);
      reply.put("statuses", Map.of("web", "active"));
      reply.put("watchers", java.util.List.of("web"));
      reply.put("id", req.get("id"));
      router.sendMore(id);
      router.send(Json.write(reply).getBytes(StandardCharsets.UTF_8), 0);
    }
  }
}
