package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/** [plugin:NAME] sections: the built-in flapping under Circus's class name, Java plugins, and bad ones. */
class PluginIT extends ItBase {
  @Test
  void circusFlappingSectionStopsACrashLoopRetriesThenGivesUpAndCommandedStopsDoNotCount() throws Exception {
    Daemon d = start("check_delay = 1\n"
        + "[watcher:crash]\ncmd = sh -c 'sleep 0.3; exit 3'\nflapping.max_retry = 1\nflapping.retry_in = 3\n"
        + "[watcher:calm]\ncmd = sleep 3600\nnumprocesses = 2\n"
        + "[plugin:flapping]\nuse = circus.plugins.flapping.Flapping\nattempts = 3\nwindow = 3\n");
    assertThat(ctl(d, "list")).isEqualTo("calm,crash,plugin:flapping");
    assertThat(ctl(d, "status", "plugin:flapping")).isEqualTo("active");
    // three quick exits: stopped by the plugin, started again retry_in later, stopped for good the next time
    long t0 = System.nanoTime();
    await(Duration.ofSeconds(15), "crash stopped by flapping", () -> ctl(d, "status", "crash").equals("stopped"));
    System.out.println("PHASE flapping stopped the watcher after " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    await(Duration.ofSeconds(10), "crash started again after retry_in", () -> ctl(d, "status", "crash")
        .equals("active"));
    await(Duration.ofSeconds(15), "crash stopped again", () -> ctl(d, "status", "crash").equals("stopped"));
    Thread.sleep(4000); // past retry_in: max_retry = 1 is reached, it stays stopped
    assertThat(ctl(d, "status", "crash")).isEqualTo("stopped");
    assertThat(d.logText()).contains("crash: flapping detected: retry in 3.0 s (retry 1 of 1)")
        .contains("crash: flapping detected: max retry limit (1) reached");

    // a storm of commanded restarts is not flapping (Circus #809): the calm watcher stays up
    for (int i = 0; i < 5; i++) {
      ctl(d, "restart", "calm", "--waiting");
    }
    Thread.sleep(1500);
    assertThat(ctl(d, "status", "calm")).isEqualTo("active");
    assertThat(d.logText()).doesNotContain("calm: flapping detected");
  }

  @Test
  void javaPluginsGetEventsAndCallCommandsAndBadOnesAreRestartedThenDisabledWithoutSlowingTheDaemon()
      throws Exception {
    Path classes = Path.of(PluginIT.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path record = dir.resolve("recorded.txt");
    Daemon d = start("[watcher:web]\ncmd = sleep 3600\n"
        + "[plugin:rec]\nuse = io.jcircus.it.plugins.Recording\nclasspath = " + classes + "\nto = " + record + "\n"
        + "[plugin:bug]\nuse = io.jcircus.it.plugins.Throwing\nclasspath = " + classes + "\n"
        + "[plugin:stuck]\nuse = io.jcircus.it.plugins.Blocking\nclasspath = " + classes + "\ntimeout = 1\n");
    assertThat(ctl(d, "status")).contains("plugin:bug: active", "plugin:rec: active", "plugin:stuck: active");
    assertThat(ctl(d, "list", "plugin:rec")).isEmpty();

    try (ZContext zmq = new ZContext()) {
      ZMQ.Socket s = dealer(zmq, d);
      s.send("{\"id\": \"warm\", \"command\": \"status\", \"properties\": {}}");
      assertThat(s.recvStr()).contains("\"statuses\"");
      long worst = 0;
      // 20 events a round (incr/decr: spawn, reap, kill…) for the throwing and the stuck plugin to choke on
      for (int round = 0; round < 12; round++) {
        ctl(d, "incr", "web", "3", "--waiting");
        ctl(d, "decr", "web", "3", "--waiting");
        for (int i = 0; i < 5; i++) {
          long t = System.nanoTime();
          s.send("{\"id\": \"s" + round + i + "\", \"command\": \"status\", \"properties\": {}}");
          assertThat(s.recvStr()).as("status answered").contains("\"statuses\"");
          worst = Math.max(worst, System.nanoTime() - t);
        }
        Thread.sleep(300);
      }
      System.out.println("PHASE slowest status while plugins throw and hang: " + worst / 1000 + " µs");
      assertThat(worst).isLessThan(TimeUnit.MILLISECONDS.toNanos(100));
    }
    // the recording plugin saw every event and could call commands from its own thread
    String recorded = Files.readString(record);
    assertThat(recorded).startsWith("init rec {to=" + record + "}\n").contains("web spawn active")
        .contains("web kill active").contains("web reap active");
    // the throwing one: restarted after 20 failures in a row, disabled after 3 restarts; the stuck one after 3
    // calls past its 1 s timeout
    await(Duration.ofSeconds(20), "bug and stuck disabled", () -> ctl(d, "status", "plugin:bug").equals("stopped")
        && ctl(d, "status", "plugin:stuck").equals("stopped"));
    assertThat(d.logText()).contains("plugin bug: 20 failures in a row; restarting it")
        .contains("plugin stuck: a call ran longer than 1 s; restarting it")
        .contains("plugin stuck: a call ran longer than 1 s; restarted 3 times in 10 minutes already: disabled");
    assertThat(ctl(d, "status", "plugin:rec")).isEqualTo("active");
    assertThat(ctl(d, "status", "web")).isEqualTo("active");
    // and circusd still stops in bounded time with a thread stuck for good
    long t0 = System.nanoTime();
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(20))).isZero();
    System.out.println("PHASE stopped in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
  }

  @Test
  void watchdogKillsAProcessThatFallsSilentAndStatsdGetsEventsAndStats() throws Exception {
    Path hb = worker("heartbeat.py");
    int dogPort = freePort();
    try (java.nio.channels.DatagramChannel statsd = java.nio.channels.DatagramChannel.open()) {
      statsd.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
      statsd.configureBlocking(false);
      int statsdPort = ((java.net.InetSocketAddress) statsd.getLocalAddress()).getPort();
      Daemon d = start("[watcher:beating]\ncmd = " + python() + " " + hb + " " + dogPort + " 100000\n"
          + "[watcher:silent]\ncmd = " + python() + " " + hb + " " + dogPort + " 1.5\n"
          + "[plugin:watchdog]\nuse = circus.plugins.watchdog.WatchDog\nloop_rate = 1\nmax_count = 2\nport = "
          + dogPort + "\n"
          + "[plugin:statsd]\nuse = circus.plugins.statsd.StatsdEmitter\nport = " + statsdPort
          + "\napplication_name = shop\n"
          + "[plugin:full]\nuse = circus.plugins.statsd.FullStats\nport = " + statsdPort
          + "\napplication_name = shop\nloop_rate = 1\n");
      await(Duration.ofSeconds(30), "two processes", () -> d.children().size() == 2);
      String beating = ctl(d, "list", "beating");
      String silent = ctl(d, "list", "silent");
      // silent after 1.5 s: killed within loop_rate × max_count (2 s) of its last heartbeat, plus one loop
      long t0 = System.nanoTime();
      await(Duration.ofSeconds(10), "the silent process replaced", () -> {
        String now = ctl(d, "list", "silent");
        return !now.isEmpty() && !now.equals(silent);
      });
      double replacedAfter = (System.nanoTime() - t0) / 1e9;
      System.out.println("PHASE silent (from 1.5 s on) replaced " + replacedAfter + " s after the start of the wait");
      assertThat(replacedAfter).isLessThan(1.5 + 2 + 1 + 1);
      assertThat(ctl(d, "list", "beating")).as("the beating one is left alone").isEqualTo(beating);
      assertThat(d.logText()).contains("watcher silent, pid " + silent + " sent no heartbeat for 2.0 s");

      // statsd: a counter per event, and the per-watcher gauges every loop_rate
      java.util.Set<String> lines = new java.util.TreeSet<>();
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(2048);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (System.nanoTime() < deadline && !(lines.contains("circus.shop.watcher.silent.reap:1|c")
          && lines.stream().anyMatch(l -> l.startsWith("circus.shop.watcher._stats.beating.cpu_sum:")))) {
        buf.clear();
        if (statsd.receive(buf) == null) {
          Thread.sleep(20);
          continue;
        }
        buf.flip();
        lines.add(StandardCharsets.UTF_8.decode(buf).toString());
      }
      assertThat(lines).contains("circus.shop.watcher.silent.spawn:1|c", "circus.shop.watcher.silent.reap:1|c",
          "circus.shop.watcher.silent.kill:1|c", "circus.shop.watcher._stats.beating.watchers_num:1|g");
      assertThat(lines).anyMatch(l -> l.matches("circus\\.shop\\.watcher\\._stats\\.beating\\.mem_max:[0-9.]+\\|g"));
    }
  }

  @Test
  void resourceWatcherReplacesAWorkerThatGrewPastMaxMemWithoutAFailedRequest() throws Exception {
    Path grow = worker("growserver.py");
    Daemon d = start("[socket:web]\nhost = 127.0.0.1\nport = 0\n"
        + "[watcher:grow]\ncmd = " + python() + " " + grow + " $(circus.sockets.web)\nuse_sockets = true\n"
        + "numprocesses = 2\ngraceful_timeout = 10\nwarmup_delay = 1\n"
        + "[plugin:memory]\nuse = circus.plugins.resource_watcher.ResourceWatcher\nwatcher = grow\nmax_mem = 60M\n"
        + "max_cpu = 100\nhealth_threshold = 100\nloop_rate = 1\nmax_count = 1\n");
    await(Duration.ofSeconds(30), "2 workers", () -> d.children().size() == 2);
    java.util.Set<String> first = new java.util.HashSet<>(List.of(ctl(d, "list", "grow").split(",")));
    int port = d.port("web");
    try (Load load = new Load(port, 4)) {
      // each request leaks 2 MiB: a worker passes 60 MiB after some 25 requests, is replaced within 2-3 s
      await(Duration.ofSeconds(40), "both first workers replaced", () -> {
        String now = ctl(d, "list", "grow");
        return !now.isEmpty() && java.util.Arrays.stream(now.split(",")).noneMatch(first::contains);
      });
      Thread.sleep(500);
      load.close();
      System.out.println("PHASE resource_watcher under load: " + load);
      assertThat(load.failed.get()).as(load.toString()).isZero();
      assertThat(load.ok.get()).isGreaterThan(50);
      assertThat(load.servedBy.keySet().size()).as("pids that answered").isGreaterThanOrEqualTo(4);
    }
    assertThat(d.logText()).contains("resource_watcher: grow pid ").contains("over max_mem (2 times in a row):"
        + " replacing it");
    // with a socket to serve, the successor is spawned before the old process is signalled
    String log = d.logText();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("resource_watcher: grow pid (\\d+):").matcher(log);
    assertThat(m.find()).isTrue();
    int spawned = log.indexOf("event watcher.grow.spawn", m.start());
    int killed = log.indexOf("event watcher.grow.kill {process_pid=" + m.group(1), m.start());
    assertThat(spawned).as("the successor's spawn").isPositive().isLessThan(killed);
    // and the old one is signalled once the successor has been alive for warmup_delay
    assertThat(log.substring(m.start(), killed)).contains("replacing pid " + m.group(1)
        + " (kill) once its successor is ready");
    java.time.LocalTime spawnedAt = logTime(log, spawned);
    java.time.LocalTime killedAt = logTime(log, killed);
    System.out.println("PHASE successor spawned at " + spawnedAt + ", old process signalled at " + killedAt);
    assertThat(java.time.Duration.between(spawnedAt, killedAt).toMillis()).isGreaterThanOrEqualTo(950);
    assertThat(ctl(d, "status", "grow")).isEqualTo("active");
  }

  @Test
  void httpObserverRestartsOnAFailedCheckAndCommandReloaderReloadsAChangedExecutable() throws Exception {
    Path grow = worker("growserver.py");
    Path script = dir.resolve("app.sh");
    Files.writeString(script, "#!/bin/sh\nexec sleep 3600\n");
    script.toFile().setExecutable(true);
    int web = freePort();
    int closed = freePort();
    Daemon d = start("[socket:web]\nhost = 127.0.0.1\nport = " + web + "\n"
        + "[watcher:web]\ncmd = " + python() + " " + grow + " $(circus.sockets.web)\nuse_sockets = true\n"
        + "[watcher:calm]\ncmd = sleep 3600\n[watcher:victim]\ncmd = sleep 3601\n"
        + "[watcher:app]\ncmd = " + script + "\n"
        + "[plugin:reloader]\nuse = circus.plugins.command_reloader.CommandReloader\nloop_rate = 0.5\n"
        + "[plugin:ok]\nuse = circus.plugins.http_observer.HttpObserver\ncheck_url = http://127.0.0.1:" + web
        + "/\nloop_rate = 0.5\ntimeout = 2\nrestart_on_error = calm\n"
        + "[plugin:bad]\nuse = circus.plugins.http_observer.HttpObserver\ncheck_url = http://127.0.0.1:" + closed
        + "/\nloop_rate = 0.5\ntimeout = 2\nrestart_on_error = victim\n");
    await(Duration.ofSeconds(30), "4 processes", () -> d.children().size() == 4);
    String calm = ctl(d, "list", "calm");
    String victim = ctl(d, "list", "victim");
    String app = ctl(d, "list", "app");
    // nothing answers on the second URL: its watcher is restarted; the first answers 200: nothing happens
    await(Duration.ofSeconds(10), "victim restarted", () -> {
      String now = ctl(d, "list", "victim");
      return !now.isEmpty() && !now.equals(victim);
    });
    assertThat(d.logText()).contains("http_observer: http://127.0.0.1:" + closed + "/ failed: ConnectException")
        .contains("; restarting victim");
    assertThat(ctl(d, "list", "calm")).as("a healthy check restarts nothing").isEqualTo(calm);
    // the app's executable changes: reloaded
    assertThat(ctl(d, "list", "app")).isEqualTo(app);
    Files.writeString(script, "#!/bin/sh\n# v2\nexec sleep 3600\n");
    script.toFile().setLastModified(System.currentTimeMillis() + 2000);
    await(Duration.ofSeconds(10), "app reloaded", () -> {
      String now = ctl(d, "list", "app");
      return !now.isEmpty() && !now.equals(app);
    });
    assertThat(d.logText()).contains("command_reloader: app changed");
    assertThat(ctl(d, "list", "calm")).isEqualTo(calm);
  }

  @Test
  void reloadconfigStopsRemovedPluginsAndStartsNewOnesLeavingTheOthersRunning() throws Exception {
    Path classes = Path.of(PluginIT.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path record = dir.resolve("recorded.txt");
    Daemon d = start("[watcher:web]\ncmd = sleep 3600\n"
        + "[plugin:flapping]\nuse = circus.plugins.flapping.Flapping\n"
        + "[plugin:dog]\nuse = circus.plugins.watchdog.WatchDog\nport = " + freePort() + "\n");
    assertThat(ctl(d, "list")).isEqualTo("plugin:dog,plugin:flapping,web");
    Path ini = dir.resolve("circus.ini");
    String text = Files.readString(ini);
    Files.writeString(ini, text.substring(0, text.indexOf("[plugin:flapping]"))
        + "[plugin:rec]\nuse = io.jcircus.it.plugins.Recording\nclasspath = " + classes + "\nto = " + record + "\n"
        + text.substring(text.indexOf("[plugin:dog]")));
    assertThat(ctl(d, "reloadconfig")).isEqualTo("ok");
    await(Duration.ofSeconds(10), "the new plugin set", () -> ctl(d, "list").equals("plugin:dog,plugin:rec,web"));
    assertThat(d.logText()).contains("plugin flapping stopped (reloadconfig)").doesNotContain("plugin dog stopped");
    ctl(d, "incr", "web", "--waiting");
    await(Duration.ofSeconds(10), "recorded", () -> quietly(() -> Files.readString(record).contains("web spawn")));
  }

  @Test
  void aPluginClassThatCannotBeUsedIsAConfigErrorNamingIt() throws Exception {
    Path classes = Path.of(PluginIT.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path ini = dir.resolve("bad.ini");
    Files.writeString(ini, endpoints() + "[plugin:x]\nuse = io.jcircus.it.plugins.Missing\nclasspath = " + classes + "\n");
    Daemon.Result r = Daemon.run(ini, Duration.ofSeconds(30));
    assertThat(r.output()).contains("[plugin:x] use: no class io.jcircus.it.plugins.Missing in " + classes);
    assertThat(r.exitCode()).isNotZero();
    Files.writeString(ini, endpoints() + "[plugin:x]\nuse = io.jcircus.it.Daemon\nclasspath = " + classes + "\n");
    r = Daemon.run(ini, Duration.ofSeconds(30));
    assertThat(r.output()).contains("[plugin:x] use: io.jcircus.it.Daemon does not implement io.jcircus.plugin.Plugin");
  }

  /** The time stamp (HH:mm:ss.SSS) of the circusd log line holding {@code index}. */
  private static java.time.LocalTime logTime(String log, int index) {
    int start = log.lastIndexOf('\n', index) + 1;
    return java.time.LocalTime.parse(log.substring(start + 11, start + 23));
  }
}
