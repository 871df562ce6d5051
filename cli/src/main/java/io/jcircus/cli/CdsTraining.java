package io.jcircus.cli;

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

  static int run() throws Exception {
    try (ZContext ctx = new ZContext(1)) {
      ZMQ.Socket router = ctx.createSocket(SocketType.ROUTER);
      router.setLinger(0);
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
      return rc;
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
    while (!Thread.currentThread().isInterrupted()) {
      byte[] id = router.recv(0);
      if (id == null) {
        return;
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
