package io.jcircus.cluster;

import io.jcircus.protocol.Json;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.ACLProvider;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;

/**
 * The fleet's layout in ZooKeeper, under the cluster's name: {@code /nodes/NODE} (ephemeral, one JSON record a running
 * circusd: its endpoints, tags, version, a summary of its watchers) and {@code /singletons/WATCHER} (a Curator leader
 * latch among the nodes that define that watcher). Writers authenticate with digest credentials when the cluster
 * has them; every node is then writable by those credentials only and readable by anyone.
 */
public final class FleetRegistry {
  public static final String NODES = "/nodes";
  public static final String SINGLETONS = "/singletons";

  private FleetRegistry() { }

  /** A client for {@code address}, not started; {@code credentials} may be null (an open registry). */
  public static CuratorFramework client(ClusterAddress address, Credentials credentials, int sessionTimeoutMs,
      int connectionTimeoutMs) {
    CuratorFrameworkFactory.Builder b = CuratorFrameworkFactory.builder()
        .connectString(address.connectString())
        .namespace(address.name())
        .sessionTimeoutMs(sessionTimeoutMs)
        .connectionTimeoutMs(connectionTimeoutMs)
        .retryPolicy(new ExponentialBackoffRetry(250, 29, 5000))
        // the servers named in `cluster` are the ones used: without this, Curator would replace them with the
        // ensemble's own member list (dynamic reconfiguration), going around a proxy or name the operator chose
        .ensembleTracker(false);
    if (credentials != null) {
      // a mutable list: ZooKeeper asks it contains(null), which List.of answers with an exception
      List<ACL> acl = new ArrayList<>(List.of(new ACL(ZooDefs.Perms.ALL, new Id("digest", credentials.digestId())),
          new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE)));
      b.authorization("digest", credentials.auth()).aclProvider(new ACLProvider() {
        @Override
        public List<ACL> getDefaultAcl() {
          return acl;
        }

        @Override
        public List<ACL> getAclForPath(String path) {
          return acl;
        }
      });
    }
    return b.build();
  }

  /** Waits up to {@code timeoutMs} for the first connection. */
  public static void awaitConnected(CuratorFramework c, long timeoutMs, ClusterAddress address)
      throws InterruptedException, TimeoutException {
    if (!c.blockUntilConnected((int) timeoutMs, TimeUnit.MILLISECONDS)) {
      throw new TimeoutException("ZooKeeper unreachable at " + address + " (no connection within " + timeoutMs
          + " ms)");
    }
  }

  public static byte[] encode(Map<String, Object> record) {
    return Json.write(record).getBytes(StandardCharsets.UTF_8);
  }

  @SuppressWarnings("unchecked")
  public static Map<String, Object> decode(byte[] data) {
    Object o = Json.parse(new String(data, StandardCharsets.UTF_8));
    return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  /**
   * Every registered node's record, by node name, read in one pipelined round (the reads are sent at once and
   * answered together, so a thousand nodes cost about one round trip and their transfer).
   */
  public static Map<String, Map<String, Object>> nodes(CuratorFramework c, long timeoutMs) throws Exception {
    List<String> names;
    try {
      names = c.getChildren().forPath(NODES);
    } catch (KeeperException.NoNodeException e) {
      return Map.of();
    }
    Map<String, Map<String, Object>> out = new ConcurrentHashMap<>();
    CountDownLatch left = new CountDownLatch(names.size());
    for (String n : names) {
      c.getData().inBackground((client, event) -> {
        try {
          if (event.getResultCode() == KeeperException.Code.OK.intValue() && event.getData() != null) {
            out.put(n, decode(event.getData()));
          }
        } finally {
          left.countDown();
        }
      }).forPath(NODES + "/" + n);
    }
    if (!left.await(timeoutMs, TimeUnit.MILLISECONDS)) {
      throw new TimeoutException("ZooKeeper did not answer for " + left.getCount() + " node record(s) within "
          + timeoutMs + " ms");
    }
    return new TreeMap<>(out);
  }

  /** Each singleton watcher and the node running it now (the leader of its latch); absent when nobody holds it. */
  public static Map<String, String> singletons(CuratorFramework c) throws Exception {
    Map<String, String> out = new TreeMap<>();
    List<String> watchers;
    try {
      watchers = c.getChildren().forPath(SINGLETONS);
    } catch (KeeperException.NoNodeException e) {
      return out;
    }
    for (String w : watchers) {
      List<String> in = candidates(c, w);
      if (!in.isEmpty()) {
        out.put(w, in.get(0));
      }
    }
    return out;
  }

  /** Participants in one singleton's latch, first (the holder) first. */
  public static List<String> candidates(CuratorFramework c, String watcher) throws Exception {
    List<String> out = new ArrayList<>();
    List<String> latch;
    try {
      latch = new ArrayList<>(c.getChildren().forPath(SINGLETONS + "/" + watcher));
    } catch (KeeperException.NoNodeException e) {
      return out;
    }
    latch.removeIf(n -> !n.contains("latch-"));
    latch.sort((a, b) -> a.substring(a.lastIndexOf("latch-")).compareTo(b.substring(b.lastIndexOf("latch-"))));
    for (String n : latch) {
      try {
        out.add(new String(c.getData().forPath(SINGLETONS + "/" + watcher + "/" + n), StandardCharsets.UTF_8));
      } catch (KeeperException.NoNodeException e) {
        // gone meanwhile
      }
    }
    return out;
  }
}
