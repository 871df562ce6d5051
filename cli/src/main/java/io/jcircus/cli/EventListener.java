package io.jcircus.cli;

import io.jcircus.protocol.Json;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code circusctl listen}: a SUB socket on the events endpoint printing {@code topic: json} per event until
 * interrupted (Ctrl-C; in the shell the line reader's interrupt ends it and the shell goes on).
 */
final class EventListener {
  /** Set by the shell's Ctrl-C handler while a listen runs. */
  static volatile boolean interrupted;

  private final Circusctl top;
  private final CommandSpec spec;

  EventListener(Circusctl top, CommandSpec spec) {
    this.top = top;
    this.spec = spec;
  }

  int listen(String pubsub, List<String> topics) throws Exception {
    String endpoint = pubsub != null ? pubsub : ask();
    PrintWriter out = spec.commandLine().getOut();
    interrupted = false;
    try (ZContext ctx = ControlClient.context()) {
      CurveOptions.Keys curve = top.curve();
      long wait = Math.max(1, (long) (top.timeout * 1000));
      ZMQ.Socket sub = ControlClient.open(ctx, SocketType.SUB, endpoint, curve,
          System.nanoTime() + wait * 1_000_000L, wait, s -> {
            s.setLinger(0);
            if (topics.isEmpty()) {
              s.subscribe(new byte[0]);
            } else {
              topics.forEach(t -> s.subscribe(t.getBytes(StandardCharsets.UTF_8)));
            }
          }).socket();
      sub.setReceiveTimeOut(200);
      spec.commandLine().getErr().println("listening on " + endpoint + (topics.isEmpty() ? "" : " for " + topics));
      spec.commandLine().getErr().flush();
      while (!interrupted && !Thread.currentThread().isInterrupted()) {
        byte[] topic = sub.recv(0);
        if (topic == null) {
          continue;
        }
        byte[] body = sub.hasReceiveMore() ? sub.recv(0) : new byte[0];
        while (sub.hasReceiveMore()) {
          sub.recv(0);
        }
        String t = new String(topic, StandardCharsets.UTF_8);
        String b = new String(body, StandardCharsets.UTF_8);
        if (top.json) {
          Map<String, Object> line = new LinkedHashMap<>();
          line.put("topic", t);
          Object data;
          try {
            data = Json.parse(b);
          } catch (IllegalArgumentException e) {
            data = b;
          }
          line.put("data", data);
          out.println(Json.write(line));
        } else {
          out.println(t + ": " + b);
        }
        out.flush();
      }
    }
    return Circusctl.OK;
  }

  /** The daemon's pubsub_endpoint; the control endpoint itself when it cannot tell (Circus's circusctl way). */
  private String ask() {
    try {
      Map<String, Object> r = top.client().call("globaloptions", CtlCommands.map("option", "pubsub_endpoint"));
      if (r.get("options") instanceof Map<?, ?> o && o.get("pubsub_endpoint") instanceof String e) {
        return e;
      }
    } catch (Exception e) {
      // fall through
    }
    return top.endpoint();
  }
}
