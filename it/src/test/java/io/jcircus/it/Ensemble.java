package io.jcircus.it;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;

/**
 * A real three-server ZooKeeper ensemble (Curator's TestingCluster) in the test JVM, its data under it/target (so a
 * killed test JVM leaves nothing in /tmp and takes the servers with it), on free loopback ports.
 */
final class Ensemble implements AutoCloseable {
  static {
    // the servers' INFO lines (every session, every election) would be most of the suite's log
    System.setProperty("org.slf4j.simpleLogger.log.org.apache.zookeeper", "off");
    System.setProperty("org.slf4j.simpleLogger.log.org.apache.curator", "error");
  }

  final TestingCluster cluster;
  final List<InstanceSpec> specs = new ArrayList<>();

  Ensemble() throws Exception {
    File base = Daemon.HOME.resolve("it/target/zk-" + ProcessHandle.current().pid() + "-" + System.nanoTime()).toFile();
    for (int i = 0; i < 3; i++) {
      File data = new File(base, "s" + i);
      if (!data.mkdirs()) {
        throw new java.io.IOException("cannot create " + data);
      }
      specs.add(new InstanceSpec(data, ItBase.freePort(), ItBase.freePort(), ItBase.freePort(), true,
          i + 1, 500, 0));
    }
    cluster = new TestingCluster(specs);
    cluster.start();
  }

  String connectString() {
    return cluster.getConnectString();
  }

  /** zk://…/NAME for circusd and circusctl. */
  String address(String name) {
    return "zk://" + connectString() + "/" + name;
  }

  @Override
  public void close() throws java.io.IOException {
    cluster.close();
    File base = specs.get(0).getDataDirectory().getParentFile();
    try (var files = java.nio.file.Files.walk(base.toPath())) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
