package io.jcircus.server.metrics;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.ManagedProcess;
import io.jcircus.server.arbiter.Watcher;
import java.lang.management.ManagementFactory;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One MXBean per watcher on the platform MBean server, for jconsole and any JMX client: registered when a watcher
 * appears, unregistered when it goes, its figures a copy the arbiter hands over every 2 s (a JMX read never reaches
 * the arbiter's state).
 */
final class WatcherBeans {
  private static final Logger LOG = LoggerFactory.getLogger(WatcherBeans.class);
  private final Arbiter arbiter;
  private final MBeanServer server = ManagementFactory.getPlatformMBeanServer();
  private final Map<String, Bean> beans = new HashMap<>();

  /** The figures of one watcher, replaced whole at each refresh. */
  private record Figures(String state, int processes, int numprocesses, long[] pids, String command, long spawns) { }

  static final class Bean implements WatcherMXBean {
    private final String name;
    private volatile Figures f;

    Bean(String name, Figures f) {
      this.name = name;
      this.f = f;
    }

    @Override
    public String getName() {
      return name;
    }

    @Override
    public String getState() {
      return f.state();
    }

    @Override
    public int getProcesses() {
      return f.processes();
    }

    @Override
    public int getNumprocesses() {
      return f.numprocesses();
    }

    @Override
    public long[] getPids() {
      return f.pids().clone();
    }

    @Override
    public String getCommand() {
      return f.command();
    }

    @Override
    public long getSpawns() {
      return f.spawns();
    }
  }

  WatcherBeans(Arbiter arbiter) {
    this.arbiter = arbiter;
  }

  static ObjectName objectName(String watcher) throws javax.management.MalformedObjectNameException {
    return new ObjectName("jcircus:type=Watcher,name=" + ObjectName.quote(watcher));
  }

  /** Called every 2 s from the metrics' sampling thread. */
  void refresh() throws Exception {
    Map<String, Figures> now = arbiter.loop().submit(() -> {
      Map<String, Figures> m = new HashMap<>();
      for (Watcher w : arbiter.watchers()) {
        List<ManagedProcess> ps = w.processes();
        long[] pids = ps.stream().mapToLong(ManagedProcess::pid).toArray();
        m.put(w.name().toLowerCase(Locale.ROOT), new Figures(w.state().toString(), ps.size(), w.numprocesses(), pids,
            w.config().cmd, w.spawnCount()));
      }
      return m;
    }).get(2, TimeUnit.SECONDS);
    Set<String> gone = new HashSet<>(beans.keySet());
    for (Map.Entry<String, Figures> e : now.entrySet()) {
      gone.remove(e.getKey());
      Bean b = beans.get(e.getKey());
      if (b != null) {
        b.f = e.getValue();
        continue;
      }
      b = new Bean(e.getKey(), e.getValue());
      try {
        server.registerMBean(b, objectName(e.getKey()));
        beans.put(e.getKey(), b);
      } catch (javax.management.JMException ex) {
        LOG.debug("JMX: cannot register watcher {}: {}", e.getKey(), ex.toString());
      }
    }
    for (String g : gone) {
      beans.remove(g);
      unregister(g);
    }
  }

  void close() {
    for (String name : beans.keySet()) {
      unregister(name);
    }
    beans.clear();
  }

  private void unregister(String name) {
    try {
      server.unregisterMBean(objectName(name));
    } catch (javax.management.JMException e) {
      LOG.debug("JMX: cannot unregister watcher {}: {}", name, e.toString());
    }
  }
}
