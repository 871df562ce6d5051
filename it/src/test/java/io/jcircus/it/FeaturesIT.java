package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Watcher and socket options, each checked on real children. */
class FeaturesIT extends ItBase {

  @Test
  void uidGidAndRlimitsThroughExecHelpersKeepThePid() throws Exception {
    Path out = dir.resolve("id.txt");
    Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
    Daemon d = start(String.join("\n",
        "[watcher:dropped]",
        "cmd = sh -c 'id -u > " + out + "; id -g >> " + out + "; ulimit -n >> " + out + "; exec sleep 1000'",
        "uid = nobody",
        "gid = nogroup",
        "rlimit_nofile = 321",
        "working_dir = /",
        ""));
    await(Duration.ofSeconds(10), "one child", () -> d.children().size() == 1);
    long pid = d.children().get(0);
    await(Duration.ofSeconds(10), "the child to exec sleep", () -> Proc.cmdline(pid).equals("sleep 1000"));
    List<String> id = Files.readAllLines(out);
    assertThat(id).containsExactly("65534", "65534", "321");
    assertThat(Proc.status(pid, "Uid")).startsWith("65534");
    assertThat(Proc.status(pid, "Groups")).as("initgroups for nobody").isEqualTo("65534");
    assertThat(Proc.fds(pid).keySet()).containsExactly(0, 1, 2);
  }

  @Test
  void environmentWorkingDirAndSubstitution() throws Exception {
    Path out = dir.resolve("env.txt");
    Daemon d = start(String.join("\n",
        "[env]",
        "GREETING = hello",
        "[env:sub*]",
        "TARGET = world",
        "[watcher:subst]",
        "cmd = sh -c 'echo \"$GREETING $TARGET $(pwd) $1\" > " + out + "; exec sleep 1000' x $(circus.wid)",
        "working_dir = " + dir,
        ""));
    await(Duration.ofSeconds(10), "env file", () -> Files.exists(out) && sizeOf(out) > 0);
    assertThat(Files.readString(out).strip()).isEqualTo("hello world " + dir + " 1");
    long pid = d.children().get(0);
    await(Duration.ofSeconds(5), "exec of sleep", () -> Proc.cmdline(pid).equals("sleep 1000"));
    List<String> env = List.of(new String(Files.readAllBytes(Path.of("/proc/" + pid + "/environ"))).split("\0"));
    assertThat(env).contains("GREETING=hello", "TARGET=world");
    assertThat(env).as("without copy_env only the [env] sections").noneMatch(e -> e.startsWith("PATH=") || e.startsWith("HOME="));
  }

  private static long sizeOf(Path p) {
    try {
      return Files.size(p);
    } catch (Exception e) {
      return 0;
    }
  }

  @Test
  void ipv6SocketAndStdinSocket() throws Exception {
    Path w = worker("pidserver.py");
    Daemon d = start(String.join("\n",
        "[socket:six]",
        "host = ::1",
        "port = 0",
        "family = AF_INET6",
        "[socket:zero]",
        "host = 127.0.0.1",
        "port = 0",
        "[watcher:six]",
        "cmd = " + python() + " " + w + " $(circus.sockets.six)",
        "use_sockets = true",
        "[watcher:zero]",
        "cmd = " + python() + " " + w + " 0",
        "stdin_socket = zero",
        ""));
    await(Duration.ofSeconds(10), "two children", () -> d.children().size() == 2);
    int port6 = d.port("six");
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(Inet6Address.getByName("::1"), port6), 2000);
      assertThat(new String(s.getInputStream().readAllBytes()).strip()).isEqualTo(d.children("pidserver.py " + d.socketFd("six")).get(0).toString());
    }
    long zero = d.children("pidserver.py 0").get(0);
    // once it serves: while python starts it holds its script open (fd 3), which CI once caught
    d.awaitLog("worker " + zero + " serving on fd 0", Duration.ofSeconds(10));
    assertThat(Proc.fds(zero).keySet()).containsExactly(0, 1, 2);
    assertThat(Proc.fds(zero).get(0)).startsWith("socket:");
    assertThat(ask(d.port("zero"))).isEqualTo(Long.toString(zero));
  }

  @Test
  void soReuseportGivesEachProcessItsOwnListener() throws Exception {
    Path w = worker("pidserver.py");
    // A fixed port is needed for SO_REUSEPORT siblings: take a free one.
    int port;
    try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
      port = ss.getLocalPort();
    }
    Daemon d = start(String.join("\n",
        "[socket:rp]",
        "host = 127.0.0.1",
        "port = " + port,
        "so_reuseport = true",
        "[watcher:rp]",
        "cmd = " + python() + " " + w + " $(circus.sockets.rp)",
        "use_sockets = true",
        "numprocesses = 3",
        ""));
    await(Duration.ofSeconds(10), "three children", () -> d.children().size() == 3);
    Set<String> inodes = new HashSet<>();
    for (long c : d.children()) {
      for (String target : Proc.fds(c).values()) {
        if (target.startsWith("socket:")) {
          inodes.add(target);
        }
      }
    }
    assertThat(inodes).as("one listener per process").hasSize(3);
    Set<String> answered = new HashSet<>();
    for (int i = 0; i < 300 && answered.size() < 3; i++) {
      answered.add(ask(port));
    }
    assertThat(answered).hasSize(3);
  }

  @Test
  void priorityOrdersStartAndStop() throws Exception {
    Path order = dir.resolve("order.txt");
    StringBuilder cfg = new StringBuilder();
    for (String[] w : new String[][] {{"low", "1"}, {"high", "10"}, {"mid", "5"}}) {
      cfg.append("[watcher:").append(w[0]).append("]\n")
          .append("cmd = sh -c 'echo start ").append(w[0]).append(" >> ").append(order)
          .append("; trap \"echo stop ").append(w[0]).append(" >> ").append(order).append("; exit 0\" TERM; while :; do sleep 0.1; done'\n")
          .append("priority = ").append(w[1]).append("\n");
    }
    cfg.append("[circus]\nwarmup_delay = 0.2\n");
    Daemon d = start(cfg.toString());
    await(Duration.ofSeconds(10), "three started", () -> lines(order).size() >= 3);
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(20))).isZero();
    assertThat(lines(order)).containsExactly("start high", "start mid", "start low", "stop low", "stop mid", "stop high");
  }

  private static List<String> lines(Path p) {
    try {
      return Files.readAllLines(p);
    } catch (Exception e) {
      return List.of();
    }
  }

  @Test
  void maxAgeRecyclesAndRespawnOffLetsTheWatcherStop() throws Exception {
    Daemon d = start(String.join("\n",
        "[watcher:aged]",
        "cmd = sleep 1000",
        "max_age = 1",
        "max_age_variance = 0",
        "[watcher:once]",
        "cmd = sleep 0.3",
        "respawn = false",
        ""));
    await(Duration.ofSeconds(10), "aged child", () -> !d.children("sleep 1000").isEmpty());
    long first = d.children("sleep 1000").get(0);
    await(Duration.ofSeconds(5), "recycled by max_age", () -> {
      List<Long> now = d.children("sleep 1000");
      return now.size() == 1 && now.get(0) != first;
    });
    d.awaitLog("watcher once: stopped", Duration.ofSeconds(5));
    d.awaitLog("reason=max_age", Duration.ofSeconds(5));
    assertThat(d.logText()).contains("reached max_age");
  }

  @Test
  void missingExecutableGivesUpAfterMaxRetryWithAClearError() throws Exception {
    Daemon d = start(String.join("\n",
        "[watcher:ghost]",
        "cmd = /nonexistent/bin/ghost --flag",
        "max_retry = 2",
        "backoff_initial = 0.05",
        "[watcher:alive]",
        "cmd = sleep 1000",
        ""));
    d.awaitLog("giving up after 3 failed attempt(s)", Duration.ofSeconds(10));
    assertThat(d.logText()).contains("posix_spawn(/nonexistent/bin/ghost): ENOENT");
    assertThat(d.children("sleep 1000")).hasSize(1);
  }

  @Test
  void timedRotationRotatesBySecond() throws Exception {
    Path logfile = dir.resolve("timed.log");
    Daemon d = start(String.join("\n",
        "[watcher:ticker]",
        "cmd = sh -c 'i=0; while :; do echo line $i; i=$((i+1)); sleep 0.05; done'",
        "stdout_stream.class = TimedRotatingFileStream",
        "stdout_stream.filename = " + logfile,
        "stdout_stream.rotate_when = s",
        "stdout_stream.rotate_interval = 1",
        "stdout_stream.backup_count = 2",
        ""));
    Thread.sleep(4500);
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(20))).isZero();
    try (var files = Files.list(dir)) {
      List<Path> rotated = files.filter(p -> p.getFileName().toString().matches("timed\\.log\\.\\d{4}-\\d{2}-\\d{2}_\\d{2}-\\d{2}-\\d{2}")).toList();
      assertThat(rotated).as("backup_count keeps 2").hasSize(2);
      for (Path r : rotated) {
        assertThat(Files.readAllLines(r)).allMatch(l -> l.matches("line \\d+"));
      }
    }
  }

  @Test
  void javaWorkersFromChaussetteServeOnTheSharedSocket() throws Exception {
    Daemon d = start(String.join("\n",
        "[socket:web]",
        "host = 127.0.0.1",
        "port = 0",
        "[watcher:web]",
        "cmd = " + Daemon.HOME.resolve("bin/chaussette-java") + " --threads 1 fd://$(circus.sockets.web)",
        "numprocesses = 2",
        "use_sockets = true",
        "copy_env = true",
        ""));
    await(Duration.ofSeconds(10), "two workers", () -> d.children().size() == 2);
    int port = d.port("web");
    Set<String> pids = new HashSet<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (pids.size() < 2 && System.nanoTime() < deadline) {
      try {
        pids.add(httpGet(port));
      } catch (java.io.IOException e) {
        Thread.sleep(50); // JVMs still starting: the connection waits in the shared queue or is reset
      }
    }
    Set<String> expected = new HashSet<>();
    for (long c : d.children()) {
      expected.add("hello from pid " + c); // bin/chaussette-java execs java: the child is the JVM
    }
    assertThat(pids).isEqualTo(expected);
  }

  @Test
  void onDemandWatchersStartOnTheirFirstConnection() throws Exception {
    Path w = worker("pidserver.py");
    // Two on-demand watchers: Circus only ever starts the first one it sweeps.
    Daemon d = start(String.join("\n",
        "[socket:a]", "host = 127.0.0.1", "port = 0",
        "[socket:b]", "host = 127.0.0.1", "port = 0",
        "[watcher:lazya]", "cmd = " + python() + " " + w + " $(circus.sockets.a)", "use_sockets = true", "on_demand = true",
        "[watcher:lazyb]", "cmd = " + python() + " " + w + " $(circus.sockets.b)", "use_sockets = true", "on_demand = true",
        ""));
    Thread.sleep(500);
    assertThat(d.children()).as("nothing runs before a connection").isEmpty();
    String pidB = ask(d.port("b")); // waits in the accept queue while the worker starts
    assertThat(d.children()).hasSize(1);
    assertThat(Long.parseLong(pidB)).isEqualTo(d.children().get(0));
    String pidA = ask(d.port("a"));
    assertThat(d.children()).hasSize(2).contains(Long.parseLong(pidA));
    assertThat(d.logText()).contains("watcher lazyb: connection pending, starting on demand");
  }
}
