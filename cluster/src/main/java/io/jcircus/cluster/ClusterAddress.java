package io.jcircus.cluster;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a fleet lives: {@code zk://HOST:PORT[,HOST:PORT…][/NAME]}. The hosts are ZooKeeper's ensemble; NAME (default
 * {@code jcircus}) is the cluster's name and its root in ZooKeeper (Curator's namespace), so several fleets can share
 * one ensemble.
 */
public record ClusterAddress(String connectString, String name) {
  private static final Pattern FORM = Pattern.compile(
      "zk://((?:[A-Za-z0-9_.-]+|\\[[0-9A-Fa-f:]+\\]):\\d{1,5}(?:,(?:[A-Za-z0-9_.-]+|\\[[0-9A-Fa-f:]+\\]):\\d{1,5})*)"
          + "(?:/([A-Za-z0-9_.-]+))?/?");

  /** Parses {@code text}; the message of the exception names the expected form. */
  public static ClusterAddress parse(String text) {
    Matcher m = FORM.matcher(text == null ? "" : text.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException("expected zk://HOST:PORT[,HOST:PORT…][/NAME] (e.g."
          + " zk://10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181/jcircus); got '" + text + "'");
    }
    for (String hp : m.group(1).split(",")) {
      int port = Integer.parseInt(hp.substring(hp.lastIndexOf(':') + 1));
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("port " + port + " out of range in '" + text + "'");
      }
    }
    return new ClusterAddress(m.group(1), m.group(2) == null ? "jcircus" : m.group(2));
  }

  @Override
  public String toString() {
    return "zk://" + connectString + "/" + name;
  }
}
