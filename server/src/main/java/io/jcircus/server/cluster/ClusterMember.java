package io.jcircus.server.cluster;

import io.jcircus.cluster.Credentials;
import io.jcircus.cluster.FleetRegistry;
import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.Watcher;
import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.config.CurveKeys;
import io.jcircus.server.internal.posix.Signals;
import io.jcircus.server.lifecycle.LifeCycle;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.zookeeper.CreateMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This circusd as a member of a fleet ({@code [circus] cluster = zk://…}): an ephemeral record of it in ZooKeeper,
 * rewritten when its watchers change (at most once per {@code cluster_update_interval}), and a leader latch per
 * {@code cluster_singleton} watcher. Nothing here is in a request's path or a child's life: Curator's threads and
 * one scheduler of ours talk to ZooKeeper; the arbiter is only ever posted to. A node that loses ZooKeeper keeps
 * every watcher running, its singletons aside (see {@link #lose}).
 */
public final class ClusterMember implements LifeCycle {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterMember.class);

  private final CircusConfig cfg;
  private final Arbiter arbiter;
  private final String version;
  private CuratorFramework client;
  private PersistentNode record;
  private ScheduledExecutorService scheduler;
  private final Map<String, LeaderLatch> latches = new TreeMap<>();
  private byte[] written;
  private long writtenAt;
  private final AtomicLong writes = new AtomicLong();

  public ClusterMember(CircusConfig cfg, Arbiter arbiter, String version) {
    this.cfg = cfg;
    this.arbiter = arbiter;
    this.version = version;
  }

  @Override
  public String name() {
    return "cluster";
  }

  @Override
  public void start() throws IOException {
    if (cfg.cluster == null) {
      return;
    }
    Credentials credentials = cfg.clusterAuth == null ? null : Credentials.read(cfg.clusterAuth);
    int session = (int) (cfg.clusterSessionTimeout * 1000);
    client = FleetRegistry.client(cfg.cluster, credentials, session, Math.min(session, 5000));
    client.getConnectionStateListenable().addListener((c, state) -> LOG.info("cluster {}: ZooKeeper {}", cfg.cluster,
        state.toString().toLowerCase(Locale.ROOT)));
    client.start(); // connects in the background: a ZooKeeper that is down delays nothing here
    scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "jcircus-cluster");
      t.setDaemon(true);
      return t;
    });
    byte[] first;
    try {
      first = FleetRegistry.encode(summary());
    } catch (Exception e) {
      throw new IOException("cluster: cannot read the watchers: " + e.getMessage(), e);
    }
    record = new PersistentNode(client, CreateMode.EPHEMERAL, false, FleetRegistry.NODES + "/" + cfg.nodeName, first);
    record.start();
    written = first;
    writtenAt = System.nanoTime();
    writes.incrementAndGet();
    scheduler.scheduleWithFixedDelay(this::refresh, 1, 1, TimeUnit.SECONDS);
    for (Watcher w : singletonWatchers()) {
      elect(w.name());
    }
    LOG.info("cluster {}: node {} (tags {}), session timeout {} s{}", cfg.cluster, cfg.nodeName, cfg.nodeTags,
        cfg.clusterSessionTimeout, credentials == null ? ", an open registry (no cluster_auth)" : "");
  }

  private List<Watcher> singletonWatchers() throws IOException {
    try {
      return arbiter.loop().submit(() -> {
        List<Watcher> out = new ArrayList<>();
        for (Watcher w : arbiter.watchers()) {
          if (w.config().clusterSingleton) {
            out.add(w);
          }
        }
        return out;
      }).get(2, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IOException("cluster: cannot list the singleton watchers: " + e, e);
    }
  }

  /**
   * A latch for singleton {@code watcher}: when it elects this node, the watcher may run and is started; when it
   * takes it away (another node's turn, or this node's connection SUSPENDED: Curator's standard policy), the
   * watcher is stopped at once and SIGKILLed after a quarter of the session timeout, well before ZooKeeper
   * expires this node's session and lets another node take it.
   */
  private void elect(String watcher) {
    LeaderLatch latch = new LeaderLatch(client, FleetRegistry.SINGLETONS + "/" + watcher, cfg.nodeName,
        LeaderLatch.CloseMode.NOTIFY_LEADER);
    latch.addListener(new LeaderLatchListener() {
      @Override
      public void isLeader() {
        LOG.info("cluster: node {} now holds singleton {}; starting it", cfg.nodeName, watcher);
        arbiter.loop().execute(() -> {
          arbiter.setSingletonHeld(watcher, true);
          Watcher w = arbiter.watcher(watcher);
          if (w != null) {
            w.start();
          }
        });
      }

      @Override
      public void notLeader() {
        lose(watcher);
      }
    }, scheduler);
    latches.put(watcher, latch);
    try {
      latch.start();
    } catch (Exception e) {
      LOG.error("cluster: cannot join the election for singleton {}: {}", watcher, e.toString());
    }
  }

  /** This node no longer holds {@code watcher}: stop it now, SIGKILL what is left after the fence delay. */
  private void lose(String watcher) {
    long fenceMs = (long) (cfg.clusterSessionTimeout * 1000 / 4);
    LOG.warn("cluster: node {} no longer holds singleton {}; stopping it (SIGKILL after {} ms)", cfg.nodeName, watcher,
        fenceMs);
    arbiter.loop().execute(() -> {
      arbiter.setSingletonHeld(watcher, false);
      Watcher w = arbiter.watcher(watcher);
      if (w != null) {
        w.stop();
        arbiter.loop().schedule(() -> {
          Watcher now = arbiter.watcher(watcher);
          if (now != null && !arbiter.mayRun(now) && !now.pids().isEmpty()) {
            LOG.warn("cluster: singleton {} still running {} ms after this node lost it: SIGKILL", watcher, fenceMs);
            now.signal(Signals.SIGKILL, null, true);
          }
        }, fenceMs, TimeUnit.MILLISECONDS);
      }
    });
  }

  /** This node's record: what fleet commands connect to and show. */
  private Map<String, Object> summary() throws Exception {
    Map<String, Object> watchers = arbiter.loop().submit(() -> {
      Map<String, Object> m = new TreeMap<>();
      for (Watcher w : arbiter.watchers()) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("state", w.state().toString());
        s.put("processes", w.processes().size());
        s.put("numprocesses", w.numprocesses());
        if (w.config().clusterSingleton) {
          s.put("singleton", true);
        }
        m.put(w.name(), s);
      }
      return m;
    }).get(2, TimeUnit.SECONDS);
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("name", cfg.nodeName);
    r.put("version", version);
    r.put("tags", cfg.nodeTags);
    r.put("pid", ProcessHandle.current().pid());
    Map<String, Object> ep = new LinkedHashMap<>();
    ep.put("endpoint", cfg.endpoint);
    ep.put("pubsub", cfg.pubsubEndpoint);
    if (cfg.statsEndpoint != null && !cfg.statsEndpoint.isEmpty()) {
      ep.put("stats", cfg.statsEndpoint);
    }
    if (arbiter.liveOutput() != null) {
      ep.put("output", arbiter.liveOutput().endpoint());
    }
    if (cfg.httpd) {
      ep.put("httpd", "http://" + cfg.httpdHost + ":" + cfg.httpdPort + "/");
    }
    if (cfg.metricsEndpoint != null) {
      ep.put("metrics", cfg.metricsEndpoint);
    }
    r.put("endpoints", ep);
    if (cfg.curveSecretKey != null) {
      r.put("curve_public_key", CurveKeys.load(cfg.curveSecretKey).publicKey()); // public: never the secret one
    }
    r.put("watchers", watchers);
    return r;
  }

  /** Every second: the record rewritten if it changed and the last write is cluster_update_interval old. */
  private void refresh() {
    try {
      if (System.nanoTime() - writtenAt < (long) (cfg.clusterUpdateInterval * 1e9)) {
        return;
      }
      byte[] now = FleetRegistry.encode(summary());
      if (!Arrays.equals(now, written)) {
        record.setData(now);
        written = now;
        writtenAt = System.nanoTime();
        long n = writes.incrementAndGet();
        LOG.debug("cluster: record of {} rewritten ({} writes so far)", cfg.nodeName, n);
      }
    } catch (Exception e) {
      if (arbiter.isRunning()) {
        LOG.debug("cluster: record not rewritten: {}", e.toString());
      }
    }
  }

  /** Registry writes made by this node since it started (the record's creation included). */
  public long writes() {
    return writes.get();
  }

  /**
   * Held singletons are stopped before their latches are released (so no other node starts one while this one
   * still runs), then the record goes and the session closes.
   */
  @Override
  public void stop() {
    if (client == null) {
      return;
    }
    for (Map.Entry<String, LeaderLatch> e : latches.entrySet()) {
      if (e.getValue().hasLeadership()) {
        try {
          arbiter.loop().submit(() -> {
            arbiter.setSingletonHeld(e.getKey(), false);
            Watcher w = arbiter.watcher(e.getKey());
            return w == null ? null : w.stop();
          }).get(2, TimeUnit.SECONDS).await((long) (cfg.clusterSessionTimeout * 1000 / 2));
        } catch (Exception ex) {
          LOG.debug("cluster: stopping singleton {}: {}", e.getKey(), ex.toString());
        }
      }
      try {
        e.getValue().close();
      } catch (IOException ex) {
        LOG.debug("cluster: closing the latch of {}: {}", e.getKey(), ex.toString());
      }
    }
    try {
      record.close();
    } catch (IOException e) {
      LOG.debug("cluster: removing the record: {}", e.toString());
    }
    scheduler.shutdownNow();
    client.close();
  }

  @Override
  public Duration stopTimeout() {
    return Duration.ofMillis((long) (cfg.clusterSessionTimeout * 1000) + 5000);
  }
}
