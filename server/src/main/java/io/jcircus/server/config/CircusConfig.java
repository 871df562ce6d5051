package io.jcircus.server.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The whole of a circus.ini after includes, substitution and checks. */
public final class CircusConfig {
  public Path file;
  public String endpoint = "tcp://127.0.0.1:5555";
  public String endpointOwner;
  public String pubsubEndpoint = "tcp://127.0.0.1:5556";
  public String statsEndpoint = "tcp://127.0.0.1:5557";
  /** Real-time process output (XPUB); {@code *} binds an ephemeral port, found through the {@code output} command. Empty: off. */
  public String outputEndpoint = "tcp://127.0.0.1:*";
  public String multicastEndpoint = "udp://237.219.251.97:12027";
  public boolean statsd;
  public double checkDelay = 5.0;
  /** http://HOST:PORT/PATH where circusd serves Prometheus metrics; null: off. */
  public String metricsEndpoint;
  /** metrics_sample_interval: each process's figures are read from /proc at most this often (seconds; 0: every scrape). */
  public double metricsSampleInterval = 5;
  public double warmupDelay;
  /** cluster = zk://HOST:PORT,…/NAME: the fleet's ZooKeeper registry; null: this circusd is on its own. */
  public io.jcircus.cluster.ClusterAddress cluster;
  /** node_name: this circusd's name in the fleet (default: the host name). */
  public String nodeName;
  /** node_tags: what fleet commands select nodes by (--tag). */
  public java.util.List<String> nodeTags = java.util.List.of();
  /** cluster_auth: a file USER:PASSWORD (mode 600) for ZooKeeper's digest ACLs; null: an open registry. */
  public Path clusterAuth;
  /** cluster_session_timeout: ZooKeeper's session timeout, seconds. */
  public double clusterSessionTimeout = 15;
  /** cluster_update_interval: this node's record is rewritten on change, at most once per this many seconds. */
  public double clusterUpdateInterval = 5;
  public boolean httpd;
  public String httpdHost = "localhost";
  public int httpdPort = 8080;
  public boolean debug;
  public String pidfile;
  public Integer umask;
  public String loglevel;
  public String logoutput;
  /** CURVE opt-in: the server's secret certificate (zcert format) and a directory of authorised client certificates. */
  public Path curveSecretKey;
  public Path curveAuthorizedKeys;
  /** fdpass: where circusd serves its sockets to processes that are not its children, and who may fetch them. */
  public Path fdpassSocket;
  public java.util.Set<Integer> fdpassUids = new java.util.TreeSet<>();
  /**
   * max_message_size: the largest ZeroMQ message any endpoint of circusd accepts; a peer that sends or announces
   * a larger one is disconnected, nobody else notices.
   */
  public int maxMessageSize = Limits.DEFAULT_MESSAGE_SIZE;
  public final List<WatcherConfig> watchers = new ArrayList<>();
  public final List<SocketConfig> sockets = new ArrayList<>();
  /** [plugin:NAME] sections, kept for the plugin issue. */
  public final Map<String, Map<String, String>> plugins = new TreeMap<>();
  public final List<String> warnings = new ArrayList<>();

  public SocketConfig socket(String name) {
    for (SocketConfig s : sockets) {
      if (s.name().equals(name)) {
        return s;
      }
    }
    return null;
  }
}
