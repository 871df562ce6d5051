package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.jcircus.cluster.ClusterAddress;
import io.jcircus.cluster.FleetRegistry;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.junit.jupiter.api.Test;

/**
 * Clustering on a real three-server ZooKeeper ensemble with three real circusd processes: membership, fan-out by
 * tag, a fleet rolling reload under load, singletons that fail over and never run twice, ZooKeeper going away, ACLs.
 */
class ClusterIT extends ItBase {
  private static final double SESSION = 4;

  record Run(int code, String out) { }

  /** circusctl with {@code args}, its exit code and its output (stdout and stderr). */
  static Run circusctl(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Daemon.HOME.resolve("bin/circusctl").toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", args) + ": no exit within 120 s");
    }
    return new Run(p.exitValue(), out);
  }

  private Path auth() throws Exception {
    Path f = dir.resolve("zk.auth");
    if (!Files.exists(f)) {
      Files.writeString(f, "fleet:s3cret\n");
      Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    }
    return f;
  }

  /** A circusd in the fleet at {@code zk}, named {@code name}, with {@code tags} and {@code watchers}. */
  private Daemon node(String zk, String name, String tags, String watchers) throws Exception {
    return startAs(name + ".ini", "circusd running", "cluster = " + zk + "\nnode_name = " + name + "\nnode_tags = "
        + tags + "\ncluster_auth = " + auth() + "\ncluster_session_timeout = " + SESSION
        + "\ncluster_update_interval = 1\n" + watchers);
  }

  /** The node names {@code status --cluster} shows now. */
  private static Set<String> nodesShown(String zk) throws Exception {
    Set<String> out = new HashSet<>();
    Run r = circusctl("--cluster", zk, "--timeout", "3", "status");
    for (String line : r.out().split("\n")) {
      if (!line.isBlank()) {
        out.add(line.split("\\s+")[0]);
      }
    }
    return out;
  }

  @Test
  void nodesJoinAndLeaveAndFanOutByTagAndOnlyMembersWriteTheRegistry() throws Exception {
    try (Ensemble zk = new Ensemble()) {
      String fleet = zk.address("fleet1");
      String sleeper = "[watcher:sleeper]\ncmd = sleep 3600\n";
      Daemon n1 = node(fleet, "n1", "web,eu", sleeper + "[watcher:only1]\ncmd = sleep 3601\n");
      Daemon n2 = node(fleet, "n2", "web", sleeper);
      Daemon n3 = node(fleet, "n3", "db", sleeper);
      long t0 = System.nanoTime();
      await(Duration.ofSeconds(5), "three nodes in status --cluster", () -> quietly(
          () -> nodesShown(fleet).equals(Set.of("n1", "n2", "n3"))));
      System.out.println("PHASE 3 nodes listed " + (System.nanoTime() - t0) / 1_000_000 + " ms after the last start");
      Run status = circusctl("--cluster", fleet, "status");
      assertThat(status.code()).isZero();
      assertThat(status.out()).contains("n1  only1: active", "n1  sleeper: active", "n2  sleeper: active",
          "n3  sleeper: active");

      // --tag: exactly the tagged nodes' watchers restart
      String p1 = ctl(n1, "list", "sleeper");
      String p2 = ctl(n2, "list", "sleeper");
      String p3 = ctl(n3, "list", "sleeper");
      Run restart = circusctl("--cluster", fleet, "--tag", "web", "restart", "sleeper", "--waiting");
      assertThat(restart.code()).as(restart.out()).isZero();
      assertThat(restart.out()).contains("n1  ok", "n2  ok").doesNotContain("n3");
      assertThat(ctl(n1, "list", "sleeper")).isNotEqualTo(p1);
      assertThat(ctl(n2, "list", "sleeper")).isNotEqualTo(p2);
      assertThat(ctl(n3, "list", "sleeper")).isEqualTo(p3);
      // a node that fails is named, and the exit code says so
      Run partly = circusctl("--cluster", fleet, "restart", "only1");
      assertThat(partly.code()).as(partly.out()).isNotZero();
      assertThat(partly.out()).contains("n1  ok").contains("n2  error:").contains("n3  error:");
      Run one = circusctl("--cluster", fleet, "--node", "n3", "numwatchers");
      assertThat(one.out()).isEqualTo("n3  1");

      // the web console follows the registry: every node, each with its own watchers
      try (Httpd console = Httpd.launch("--cluster", fleet)) {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        await(Duration.ofSeconds(10), "the console's three daemons", () -> quietly(() -> {
          String body = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(console.base
              + "/api/daemons")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
          return body.contains("\"n1\"") && body.contains("\"n2\"") && body.contains("\"n3\"");
        }));
        await(Duration.ofSeconds(10), "n1's watchers through the console", () -> quietly(() -> http.send(
            java.net.http.HttpRequest.newBuilder(java.net.URI.create(console.base + "/api/status?daemon=n1"))
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("")).build(),
            java.net.http.HttpResponse.BodyHandlers.ofString()).body().contains("\"only1\": \"active\"")));
      }

      // only the fleet's credentials write the registry; anyone reads it
      CuratorFramework stranger = FleetRegistry.client(ClusterAddress.parse(fleet), null, 10_000, 5_000);
      stranger.start();
      try {
        FleetRegistry.awaitConnected(stranger, 10_000, ClusterAddress.parse(fleet));
        assertThat(FleetRegistry.nodes(stranger, 5_000)).containsKeys("n1", "n2", "n3");
        assertThat(new String(stranger.getData().forPath("/nodes/n1"), StandardCharsets.UTF_8))
            .doesNotContain("s3cret").contains("\"endpoint\"");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> stranger.setData().forPath("/nodes/n1", new byte[0]))
            .isInstanceOf(KeeperException.NoAuthException.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> stranger.create().forPath("/nodes/intruder",
            "{}".getBytes(StandardCharsets.UTF_8))).isInstanceOf(KeeperException.NoAuthException.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> stranger.delete().forPath("/nodes/n2"))
            .isInstanceOf(KeeperException.NoAuthException.class);

        // SIGKILL: gone from the registry within the session timeout (read every 50 ms: a `status --cluster` each
        // time would wait out its --timeout on the dead node's endpoint), and then from `status --cluster`
        Proc.kill(n3.pid(), 9);
        long killed = System.nanoTime();
        await(Duration.ofSeconds(15), "n3 gone", () -> quietly(() -> !FleetRegistry.nodes(stranger, 5_000)
            .containsKey("n3")));
        double gone = (System.nanoTime() - killed) / 1e9;
        System.out.println("PHASE killed node gone from the registry after " + gone + " s");
        assertThat(gone).isLessThan(SESSION + 2);
        assertThat(nodesShown(fleet)).isEqualTo(Set.of("n1", "n2"));
      } finally {
        stranger.close();
      }
    }
  }

  @Test
  void aFleetRollingReloadUnderLoadLosesNoRequest() throws Exception {
    boolean installed = Files.isExecutable(Path.of("/usr/bin/gunicorn"));
    org.junit.jupiter.api.Assumptions.assumeTrue(installed || System.getenv("CI") != null,
        "gunicorn not installed (.ci/run installs it)");
    Path app = worker("wsgi_app.py");
    try (Ensemble zk = new Ensemble()) {
      String fleet = zk.address("fleet2");
      String web = String.join("\n", "[socket:web]", "host = 127.0.0.1", "port = 0", "[watcher:web]",
          "cmd = /usr/bin/gunicorn --workers 1 --chdir " + app.getParent()
              + " --bind fd://$(circus.sockets.web) wsgi_app:application",
          "numprocesses = 2", "use_sockets = true", "readiness = notify", "graceful_timeout = 10", "");
      List<Daemon> nodes = List.of(node(fleet, "a", "web", web), node(fleet, "b", "web", web),
          node(fleet, "c", "web", web));
      for (Daemon d : nodes) {
        await(Duration.ofSeconds(60), "2 masters ready", () -> d.logText().split("is ready after").length - 1 >= 2);
      }
      List<Set<Long>> before = new ArrayList<>();
      List<Load> loads = new ArrayList<>();
      try {
        for (Daemon d : nodes) {
          before.add(new HashSet<>(d.children()));
          loads.add(new Load(d.port("web"), 3));
        }
        for (Load l : loads) {
          l.awaitMore(100, Duration.ofSeconds(20));
        }
        long t0 = System.nanoTime();
        Run r = circusctl("--cluster", fleet, "reload", "web", "--sequential", "--fleet");
        System.out.println("PHASE fleet reload took " + (System.nanoTime() - t0) / 1_000_000 + " ms: " + r.out());
        assertThat(r.code()).as(r.out()).isZero();
        assertThat(r.out()).isEqualTo("a  reloaded web and back to full strength\n"
            + "b  reloaded web and back to full strength\nc  reloaded web and back to full strength");
        for (Load l : loads) {
          l.awaitMore(100, Duration.ofSeconds(20));
        }
      } finally {
        for (Load l : loads) {
          l.close();
        }
      }
      for (int i = 0; i < 3; i++) {
        System.out.println("PHASE load on node " + i + ": " + loads.get(i));
        assertThat(loads.get(i).failed.get()).as(loads.get(i).toString()).isZero();
        Set<Long> now = new HashSet<>(nodes.get(i).children());
        now.retainAll(before.get(i));
        assertThat(now).as("every master of node " + i + " replaced").isEmpty();
      }
      // one node at a time: a node's first new master was spawned after the previous node's reload had ended
      assertThat(logTime(nodes.get(0), "event watcher.web.reload", 1))
          .isLessThan(logTime(nodes.get(1), "event watcher.web.spawn", 3));
      assertThat(logTime(nodes.get(1), "event watcher.web.reload", 1))
          .isLessThan(logTime(nodes.get(2), "event watcher.web.spawn", 3));
    }
  }

  /** The time stamp of the {@code nth} log line of {@code d} holding {@code text} ("~", after any, if none). */
  private static String logTime(Daemon d, String text, int nth) {
    for (String line : d.logText().split("\n")) {
      if (line.contains(text) && --nth == 0) {
        return line.substring(0, 23);
      }
    }
    return "~";
  }

  /** The singleton copies running now: marker files whose process is alive. */
  private static List<String> copies(Path markers) {
    List<String> out = new ArrayList<>();
    File[] files = markers.toFile().listFiles();
    if (files == null) {
      return out;
    }
    for (File f : files) {
      try {
        String stat = Files.readString(Path.of("/proc", f.getName(), "stat"));
        if (stat.charAt(stat.lastIndexOf(')') + 2) != 'Z') {
          out.add(Files.readString(f.toPath()).strip());
        }
      } catch (Exception e) {
        // gone
      }
    }
    return out;
  }

  @Test
  void aSingletonFailsOverAndNeverRunsTwice() throws Exception {
    Path markers = Files.createDirectories(dir.resolve("markers"));
    Path script = worker("singleton.py");
    try (Ensemble zk = new Ensemble(); PausableProxy proxy = new PausableProxy(zk.specs.get(0).getPort())) {
      String direct = zk.address("fleet3");
      String viaProxy = "zk://127.0.0.1:" + proxy.port() + "/fleet3";
      String single = "[watcher:cron]\ncmd = " + python() + " " + script + " " + markers + " $(circus.env.NODE)\n"
          + "cluster_singleton = true\ngraceful_timeout = 30\ncopy_env = true\n";
      AtomicInteger most = new AtomicInteger();
      AtomicReference<String> twice = new AtomicReference<>();
      AtomicBoolean sampling = new AtomicBoolean(true);
      Thread sampler = new Thread(() -> {
        while (sampling.get()) {
          List<String> now = copies(markers);
          most.accumulateAndGet(now.size(), Math::max);
          if (now.size() > 1) {
            twice.compareAndSet(null, now.toString());
          }
          try {
            Thread.sleep(50);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "singleton-sampler");
      sampler.setDaemon(true);
      sampler.start();
      try {
        Daemon n1 = node(viaProxy, "n1", "", single.replace("$(circus.env.NODE)", "n1"));
        await(Duration.ofSeconds(20), "the singleton on n1", () -> copies(markers).equals(List.of("n1")));
        Daemon n2 = node(direct, "n2", "", single.replace("$(circus.env.NODE)", "n2"));
        Daemon n3 = node(direct, "n3", "", single.replace("$(circus.env.NODE)", "n3"));
        await(Duration.ofSeconds(10), "three candidates", () -> quietly(() -> circusctl("--cluster", direct,
            "singletons").out().equals("cron: n1 (standing by: n2, n3)")));
        assertThat(ctl(n2, "status", "cron")).isEqualTo("stopped");
        assertThat(ctl(n2, "start", "cron", "--waiting")).as("a singleton another node holds does not start here")
            .contains("cluster singleton");
        assertThat(ctl(n2, "status", "cron")).isEqualTo("stopped");

        // n1 cut off from ZooKeeper: it stops its copy, then (its session expired) another node starts one
        proxy.pause();
        long cut = System.nanoTime();
        try {
          await(Duration.ofSeconds(20), "a copy on n2 or n3", () -> {
            List<String> now = copies(markers);
            return now.size() == 1 && !now.get(0).equals("n1");
          });
        } catch (AssertionError e) {
          for (Daemon d : List.of(n1, n2, n3)) {
            System.out.println("DEBUG " + d.logText().lines().filter(l -> l.contains("luster") || l.contains("cron"))
                .collect(java.util.stream.Collectors.joining("\n")));
          }
          System.out.println("DEBUG copies " + copies(markers));
          throw e;
        }
        double takeover = (System.nanoTime() - cut) / 1e9;
        System.out.println("PHASE partitioned holder replaced after " + takeover + " s");
        assertThat(takeover).isLessThan(SESSION + 2 + 2);
        assertThat(n1.logText()).contains("no longer holds singleton cron");
        String holder = copies(markers).get(0);
        proxy.resume();

        // the holder SIGKILLed: another node runs it within the session timeout + 2 s
        Daemon victim = holder.equals("n2") ? n2 : n3;
        Proc.kill(victim.pid(), 9);
        long killed = System.nanoTime();
        await(Duration.ofSeconds(20), "a copy elsewhere", () -> {
          List<String> now = copies(markers);
          return now.size() == 1 && !now.get(0).equals(holder);
        });
        double failover = (System.nanoTime() - killed) / 1e9;
        System.out.println("PHASE killed holder replaced after " + failover + " s by " + copies(markers));
        assertThat(failover).isLessThan(SESSION + 2);
      } finally {
        sampling.set(false);
        sampler.join(5000);
      }
      System.out.println("PHASE most copies seen at once: " + most.get());
      assertThat(twice.get()).as("two copies at once").isNull();
    }
  }

  @Test
  void zookeeperGoingAwayChangesNothingLocal() throws Exception {
    try (Ensemble zk = new Ensemble()) {
      String fleet = zk.address("fleet4");
      Daemon n1 = node(fleet, "n1", "", "[watcher:sleeper]\ncmd = sleep 3600\nnumprocesses = 2\n");
      Daemon n2 = node(fleet, "n2", "", "[watcher:sleeper]\ncmd = sleep 3600\n");
      await(Duration.ofSeconds(10), "two nodes", () -> quietly(() -> nodesShown(fleet).equals(Set.of("n1", "n2"))));
      String pids = ctl(n1, "list", "sleeper");
      zk.cluster.killServer(zk.cluster.getInstances().iterator().next());
      Thread.sleep((long) (SESSION * 1000));
      assertThat(nodesShown(fleet)).as("one server of three down").isEqualTo(Set.of("n1", "n2"));
      for (var spec : zk.cluster.getInstances()) {
        zk.cluster.killServer(spec);
      }
      Thread.sleep((long) (SESSION * 1500));
      assertThat(ctl(n1, "list", "sleeper")).as("local watchers keep running").isEqualTo(pids);
      assertThat(ctl(n1, "status")).isEqualTo("sleeper: active");
      assertThat(ctl(n2, "status")).isEqualTo("sleeper: active");
      Run r = circusctl("--cluster", fleet, "--timeout", "2", "status");
      assertThat(r.code()).isNotZero();
      assertThat(r.out()).contains("ZooKeeper unreachable");
      assertThat(n1.logText()).contains("ZooKeeper lost");
    }
  }
}
