package io.jcircus.cli;

import io.jcircus.cluster.ClusterAddress;
import io.jcircus.cluster.FleetRegistry;
import io.jcircus.protocol.Json;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.apache.curator.framework.CuratorFramework;

/**
 * {@code circusctl --cluster zk://… [--node NAME]… [--tag TAG]… COMMAND}: the fleet from ZooKeeper's registry, the
 * command sent to each selected node over that node's own control endpoint (CURVE with the node's published public
 * key when it has one), all at once; one block of reply lines per node, each line after the node's name. The exit
 * code is the worst of the nodes' (a node that did not answer counts as a timeout).
 */
final class ClusterFanOut {
  /** A selected node: its name and its record. */
  record Node(String name, Map<String, Object> record) {
    String endpoint() {
      return record.get("endpoints") instanceof Map<?, ?> ep && ep.get("endpoint") != null
          ? ep.get("endpoint").toString() : null;
    }

    @SuppressWarnings("unchecked")
    List<String> tags() {
      return record.get("tags") instanceof List<?> l ? (List<String>) l : List.of();
    }
  }

  private ClusterFanOut() { }

  /** What is read from the registry with a connected client. */
  private interface Read<T> {
    T from(CuratorFramework c, long timeoutMs) throws Exception;
  }

  /** Connects to the registry at {@code cluster}, reads, disconnects; any failure as one IOException. */
  private static <T> T read(String cluster, long timeoutMs, Read<T> what) throws IOException {
    ClusterAddress address;
    try {
      address = ClusterAddress.parse(cluster);
    } catch (IllegalArgumentException e) {
      throw new IOException("--cluster: " + e.getMessage());
    }
    CuratorFramework c = FleetRegistry.client(address, null, 30_000, (int) Math.min(timeoutMs, 15_000));
    c.start();
    try {
      FleetRegistry.awaitConnected(c, timeoutMs, address);
      return what.from(c, timeoutMs);
    } catch (IOException e) {
      throw e;
    } catch (Exception e) {
      throw new IOException(e.getMessage(), e);
    } finally {
      c.close();
    }
  }

  /** The registry's nodes, selected by name and tag (a node must match one name if any, and every tag given). */
  static List<Node> select(String cluster, List<String> names, List<String> tags, long timeoutMs) throws IOException {
    return read(cluster, timeoutMs, (c, t) -> {
      List<Node> out = new ArrayList<>();
      for (Map.Entry<String, Map<String, Object>> e : FleetRegistry.nodes(c, t).entrySet()) {
        Node n = new Node(e.getKey(), e.getValue());
        if ((names.isEmpty() || names.contains(n.name())) && n.tags().containsAll(tags)) {
          out.add(n);
        }
      }
      return out;
    });
  }

  /** The holder of each singleton, and who else stands by. */
  static Map<String, List<String>> singletons(String cluster, long timeoutMs) throws IOException {
    return read(cluster, timeoutMs, (c, t) -> {
      Map<String, List<String>> out = new LinkedHashMap<>();
      for (String w : FleetRegistry.singletons(c).keySet()) {
        out.put(w, FleetRegistry.candidates(c, w));
      }
      return out;
    });
  }

  /** One node's outcome: its exit code and its lines (stdout, stderr). */
  record Outcome(int code, String out, String err) { }

  /** Calls {@code command} on one node. */
  static Outcome call(Node n, String command, Map<String, Object> props, long timeoutMs, CurveOptions.Keys curve,
      boolean json, Function<Map<String, Object>, String> render) {
    String ep = n.endpoint();
    if (ep == null) {
      return new Outcome(Circusctl.TIMEOUT, "", "error: the node published no control endpoint");
    }
    CurveOptions.Keys keys = curve;
    if (n.record().get("curve_public_key") instanceof String pub && curve != null && curve.clientSecret() != null) {
      keys = new CurveOptions.Keys(pub, curve.clientPublic(), curve.clientSecret());
    }
    try (ControlClient c = new ControlClient(ep, timeoutMs, keys)) {
      Map<String, Object> reply = c.call(command, props);
      boolean error = "error".equals(reply.get("status"));
      if (json) {
        return new Outcome(error ? Circusctl.ERROR_REPLY : Circusctl.OK, Json.write(reply), "");
      }
      if (error) {
        return new Outcome(Circusctl.ERROR_REPLY, "", "error: " + reply.get("reason"));
      }
      String text = render.apply(reply);
      return new Outcome(Circusctl.OK, text == null ? "" : text, "");
    } catch (ControlClient.TimeoutException e) {
      return new Outcome(Circusctl.TIMEOUT, "", "error: " + e.getMessage());
    } catch (RuntimeException e) {
      return new Outcome(Circusctl.TIMEOUT, "", "error: " + e);
    }
  }

  /** Sends to every node at once; prints each node's lines as {@code NODE  line}, in node order; the worst code. */
  static int run(List<Node> nodes, String command, Map<String, Object> props, long timeoutMs, CurveOptions.Keys curve,
      boolean json, Function<Map<String, Object>, String> render, PrintWriter out, PrintWriter err) {
    if (nodes.isEmpty()) {
      err.println("circusctl: no node of the cluster matches");
      err.flush();
      return Circusctl.ERROR_REPLY;
    }
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(nodes.size(), 32), r -> {
      Thread t = new Thread(r, "circusctl-fanout");
      t.setDaemon(true);
      return t;
    });
    try {
      List<Future<Outcome>> results = new ArrayList<>();
      for (Node n : nodes) {
        results.add(pool.submit(() -> call(n, command, props, timeoutMs, curve, json, render)));
      }
      int width = nodes.stream().mapToInt(n -> n.name().length()).max().orElse(0);
      int worst = Circusctl.OK;
      for (int i = 0; i < nodes.size(); i++) {
        Outcome o;
        try {
          o = results.get(i).get();
        } catch (Exception e) {
          o = new Outcome(Circusctl.TIMEOUT, "", "error: " + e);
        }
        print(out, nodes.get(i).name(), width, o.out());
        print(err, nodes.get(i).name(), width, o.err());
        worst = Math.max(worst, o.code());
      }
      return worst;
    } finally {
      pool.shutdownNow();
      out.flush();
      err.flush();
    }
  }

  /**
   * {@code reload NAME --fleet}: {@code maxUnavailable} nodes at a time, in name order, each reloading its watcher
   * (rolling with {@code --sequential}, gated by readiness) and then back to full strength (active, and as many
   * processes as it should run) before the next nodes begin; the first failure stops the roll and is named.
   */
  static int fleetReload(List<Node> nodes, String name, boolean sequential, int maxUnavailable, long timeoutMs,
      CurveOptions.Keys curve, PrintWriter out, PrintWriter err) {
    if (name == null) {
      err.println("circusctl: reload --fleet needs a watcher name");
      err.flush();
      return Circusctl.USAGE;
    }
    if (nodes.isEmpty()) {
      err.println("circusctl: no node of the cluster matches");
      err.flush();
      return Circusctl.ERROR_REPLY;
    }
    int width = nodes.stream().mapToInt(n -> n.name().length()).max().orElse(0);
    long reloadTimeout = Math.max(timeoutMs, 600_000);
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(maxUnavailable, 32)), r -> {
      Thread t = new Thread(r, "circusctl-fleet-reload");
      t.setDaemon(true);
      return t;
    });
    try {
      for (int i = 0; i < nodes.size(); i += maxUnavailable) {
        List<Node> batch = nodes.subList(i, Math.min(nodes.size(), i + maxUnavailable));
        List<Future<String>> done = new ArrayList<>();
        for (Node n : batch) {
          done.add(pool.submit(() -> reloadOne(n, name, sequential, reloadTimeout, timeoutMs, curve)));
        }
        String failed = null;
        for (int k = 0; k < batch.size(); k++) {
          String problem;
          try {
            problem = done.get(k).get();
          } catch (Exception e) {
            problem = e.toString();
          }
          if (problem == null) {
            print(out, batch.get(k).name(), width, "reloaded " + name + " and back to full strength");
          } else {
            print(err, batch.get(k).name(), width, "error: " + problem);
            failed = failed == null ? batch.get(k).name() : failed;
          }
        }
        if (failed != null) {
          List<String> left = nodes.subList(Math.min(nodes.size(), i + maxUnavailable), nodes.size()).stream()
              .map(Node::name).toList();
          err.println("circusctl: fleet reload of " + name + " stopped at node " + failed
              + (left.isEmpty() ? "" : "; not reloaded: " + String.join(", ", left)));
          return Circusctl.ERROR_REPLY;
        }
      }
      return Circusctl.OK;
    } finally {
      pool.shutdownNow();
      out.flush();
      err.flush();
    }
  }

  /** One node's reload and its return to full strength; null when both happened, what went wrong otherwise. */
  private static String reloadOne(Node n, String name, boolean sequential, long reloadTimeout, long timeoutMs,
      CurveOptions.Keys curve) throws InterruptedException {
    Function<Map<String, Object>, String> none = r -> "";
    Map<String, Object> props = new LinkedHashMap<>();
    props.put("name", name);
    props.put("graceful", true);
    props.put("waiting", true);
    props.put("sequential", sequential);
    Outcome o = call(n, "reload", props, reloadTimeout, curve, false, none);
    if (o.code() != Circusctl.OK) {
      return "reload failed: " + o.err().replaceFirst("^error: ", "");
    }
    long deadline = System.nanoTime() + reloadTimeout * 1_000_000;
    Map<String, Object> byName = new LinkedHashMap<>();
    byName.put("name", name);
    while (System.nanoTime() < deadline) {
      Outcome status = call(n, "status", byName, timeoutMs, curve, false, r -> String.valueOf(r.get("status")));
      Outcome want = call(n, "numprocesses", byName, timeoutMs, curve, false, r -> String.valueOf(r.get("numprocesses")));
      Outcome have = call(n, "list", byName, timeoutMs, curve, false, r -> String.valueOf(
          r.get("pids") instanceof List<?> l ? l.size() : -1));
      if (status.code() == Circusctl.OK && "active".equals(status.out()) && want.code() == Circusctl.OK
          && want.out().equals(have.out())) {
        return null;
      }
      Thread.sleep(200);
    }
    return "not back to full strength within " + reloadTimeout / 1000 + " s after its reload";
  }

  static void print(PrintWriter w, String node, int width, String text) {
    if (text == null || text.isEmpty()) {
      return;
    }
    String pad = node + " ".repeat(Math.max(0, width - node.length())) + "  ";
    for (String line : text.split("\n", -1)) {
      w.println(pad + line);
    }
  }
}
