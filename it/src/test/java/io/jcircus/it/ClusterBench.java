package io.jcircus.it;

import io.jcircus.cluster.ClusterAddress;
import io.jcircus.cluster.FleetRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;

/**
 * The cluster's figures (a benchmark, not a test: bench/cluster.py runs it): registry writes per node per minute,
 * idle and during a restart storm; a fan-out {@code status} over 3 nodes against one node's; 1 000 registered nodes
 * and the time to list them. A real 3-server ensemble and three real circusd, all stopped at the end.
 */
public final class ClusterBench {
  private ClusterBench() { }

  public static void main(String[] args) throws Exception {
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
    Path tmp = Files.createTempDirectory("jcircus-bench-cluster-");
    List<Daemon> daemons = new ArrayList<>();
    try (Ensemble zk = new Ensemble()) {
      String fleet = zk.address("bench");
      for (String n : List.of("n1", "n2", "n3")) {
        Path cfg = tmp.resolve(n + ".ini");
        Files.writeString(cfg, ItBase.endpoints() + "cluster = " + fleet + "\nnode_name = " + n
            + "\n[watcher:crash]\ncmd = sleep 0.3\nnumprocesses = 4\nbackoff_min_uptime = 0\n"
            + "[watcher:sleeper]\ncmd = sleep 3600\nnumprocesses = 4\n");
        daemons.add(Daemon.start(cfg));
      }
      CuratorFramework c = FleetRegistry.client(ClusterAddress.parse(fleet), null, 30_000, 10_000);
      c.start();
      FleetRegistry.awaitConnected(c, 10_000, ClusterAddress.parse(fleet));
      Thread.sleep(3000);
      // processes that keep exiting change the summary all the time: the "storm" is crash's respawns
      ItBase.ctl(daemons.get(0), "stop", "crash");
      ItBase.ctl(daemons.get(1), "stop", "crash");
      ItBase.ctl(daemons.get(2), "stop", "crash");
      Thread.sleep(6000);
      double idle = writesPerMinute(c, "n1", seconds);
      ItBase.ctl(daemons.get(0), "start", "crash");
      double storm = writesPerMinute(c, "n1", seconds);
      System.out.printf("registry writes per node per minute: idle %.1f, with 4 processes exiting every 0.3 s %.1f"
          + " (cluster_update_interval 5 s: at most 12)%n", idle, storm);
      System.out.printf("  a fleet of 1 000 such nodes: %.0f writes/s idle, %.0f/s if every node were in a storm"
          + " (ZooKeeper takes thousands of writes a second)%n", idle * 1000 / 60, storm * 1000 / 60);

      double one = medianMs(() -> run("--endpoint", daemons.get(0).endpoint(), "status"));
      double three = medianMs(() -> run("--cluster", fleet, "status"));
      System.out.printf("circusctl status: one node %.0f ms, --cluster over 3 nodes %.0f ms (%.2fx)%n", one, three,
          three / one);

      // 1 000 registered nodes (records made here, each pointing at one of the three real daemons)
      byte[][] records = new byte[3][];
      for (int i = 0; i < 3; i++) {
        records[i] = c.getData().forPath("/nodes/n" + (i + 1));
      }
      for (int i = 0; i < 997; i++) {
        Map<String, Object> r = new LinkedHashMap<>(FleetRegistry.decode(records[i % 3]));
        r.put("name", "sim" + i);
        c.create().withMode(CreateMode.EPHEMERAL).forPath("/nodes/sim" + i, FleetRegistry.encode(r));
      }
      long t0 = System.nanoTime();
      int listed = FleetRegistry.nodes(c, 30_000).size();
      double read = (System.nanoTime() - t0) / 1e6;
      double all = medianMs(() -> run("--cluster", fleet, "--timeout", "30", "numwatchers"));
      System.out.printf("1 000 registered nodes: the registry read in %.0f ms (%d records); circusctl --cluster"
          + " numwatchers over all of them (1 000 calls, 32 at a time, to 3 daemons) %.0f ms%n", read, listed, all);
      c.close();
    } finally {
      for (Daemon d : daemons) {
        d.close();
      }
      try (var files = Files.walk(tmp)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static double writesPerMinute(CuratorFramework c, String node, int seconds) throws Exception {
    Stat before = c.checkExists().forPath("/nodes/" + node);
    Thread.sleep(seconds * 1000L);
    Stat after = c.checkExists().forPath("/nodes/" + node);
    return (after.getVersion() - before.getVersion()) * 60.0 / seconds;
  }

  interface Action {
    void run() throws Exception;
  }

  private static double medianMs(Action a) throws Exception {
    double[] t = new double[5];
    for (int i = 0; i < t.length; i++) {
      long t0 = System.nanoTime();
      a.run();
      t[i] = (System.nanoTime() - t0) / 1e6;
    }
    Arrays.sort(t);
    return t[t.length / 2];
  }

  private static void run(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Daemon.HOME.resolve("bin/circusctl").toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", args) + ": " + out);
    }
  }
}
