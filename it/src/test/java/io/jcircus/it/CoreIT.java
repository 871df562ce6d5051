package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** circusd core behaviour, verified from outside: /proc, real sockets, real signals. */
class CoreIT extends ItBase {

  private String threeWatchers() throws IOException {
    Path w = worker("pidserver.py");
    return String.join("\n",
        "[circus]",
        "check_delay = 5",
        "[socket:web]",
        "host = 127.0.0.1",
        "port = 0",
        "[socket:usock]",
        "path = " + dir.resolve("u.sock"),
        "umask = 077",
        "[watcher:web]",
        "cmd = " + python() + " " + w + " $(circus.sockets.web)",
        "numprocesses = 4",
        "use_sockets = true",
        "[watcher:unixw]",
        "cmd = " + python() + " " + w + " $(circus.sockets.usock)",
        "use_sockets = true",
        "[watcher:plain]",
        "cmd = sleep 1000",
        "");
  }

  @Test
  void childrenGetExactlyTheirFdsAndAllWorkersServe() throws Exception {
    Daemon d = start(threeWatchers());
    await(Duration.ofSeconds(10), "6 children", () -> d.children().size() == 6);
    int webFd = d.socketFd("web");
    int unixFd = d.socketFd("usock");
    String webInode = Files.readSymbolicLink(Path.of("/proc", Long.toString(d.pid()), "fd", Integer.toString(webFd))).toString();

    List<Long> web = d.children("pidserver.py " + webFd);
    List<Long> unix = d.children("pidserver.py " + unixFd);
    // Every web worker answers on the shared socket; each reply names its pid.
    int port = d.port("web");
    Set<Long> answered = new HashSet<>();
    for (int i = 0; i < 2000 && answered.size() < 4; i++) {
      answered.add(Long.parseLong(ask(port)));
    }
    assertThat(answered).containsExactlyInAnyOrderElementsOf(web);
    assertThat(unix).hasSize(1);
    assertThat(Long.parseLong(askUnix(dir.resolve("u.sock")))).isEqualTo(unix.get(0));
    // Checked once every worker is serving: a starting interpreter briefly opens files of its own.

    assertThat(web).hasSize(4);
    for (long pid : web) {
      TreeMap<Integer, String> fds = Proc.fds(pid);
      assertThat(fds.keySet()).as("fds of web worker %d: %s", pid, fds).containsExactly(0, 1, 2, webFd);
      assertThat(fds.get(0)).isEqualTo("/dev/null");
      assertThat(fds.get(webFd)).isEqualTo(webInode);
      assertThat(Proc.status(pid, "SigBlk")).isEqualTo("0000000000000000");
      assertThat(Proc.status(pid, "NSsid")).isEqualTo(Long.toString(pid));
    }
    assertThat(Proc.fds(unix.get(0)).keySet()).containsExactly(0, 1, 2, unixFd);
    List<Long> plain = d.children("sleep 1000");
    assertThat(plain).hasSize(1);
    assertThat(Proc.fds(plain.get(0)).keySet()).containsExactly(0, 1, 2);

    assertThat(Files.getPosixFilePermissions(dir.resolve("u.sock")))
        .as("umask 077").containsExactlyInAnyOrderElementsOf(
            java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
  }

  @Test
  void ownSessionFalseLeavesTheWorkerAGroupOfItsOwnInCircusdsSession() throws Exception {
    Daemon d = start(String.join("\n",
        "[watcher:own]",
        "cmd = sleep 1001",
        "[watcher:shared]",
        "cmd = sleep 1002",
        "own_session = false",
        "numprocesses = 2",
        ""));
    await(Duration.ofSeconds(10), "3 children", () -> d.children().size() == 3);
    long own = d.children("sleep 1001").get(0);
    assertThat(Proc.status(own, "NSsid")).as("default: a session of its own, as Circus").isEqualTo(Long.toString(own));
    String circusdSession = Proc.status(d.pid(), "NSsid");
    for (long pid : d.children("sleep 1002")) {
      assertThat(Proc.status(pid, "NSsid")).as("own_session = false: circusd's session").isEqualTo(circusdSession);
      assertThat(Proc.status(pid, "NSpgid")).as("and a process group of its own").isEqualTo(Long.toString(pid));
    }
    List<Long> shared = d.children("sleep 1002");
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(10))).isZero();
    for (long pid : shared) {
      assertThat(Proc.alive(pid)).as("stopped with circusd").isFalse();
    }
  }

  @Test
  void killedWorkerIsReplacedQuicklyAndTheSocketNeverCloses() throws Exception {
    Daemon d = start(threeWatchers());
    await(Duration.ofSeconds(10), "6 children", () -> d.children().size() == 6);
    int port = d.port("web");
    List<Long> before = d.children("pidserver.py " + d.socketFd("web"));
    Thread.sleep(1100); // past backoff_min_uptime: this is a healthy worker dying
    long victim = before.get(0);
    Proc.kill(victim, 9);
    long nanos = await(Duration.ofSeconds(1), "a replacement worker", () -> {
      List<Long> now = d.children("pidserver.py " + d.socketFd("web"));
      return now.size() == 4 && !now.contains(victim);
    });
    System.out.printf("replacement alive after %.1f ms%n", nanos / 1e6);
    // The listening socket stayed open throughout: connections keep being answered.
    for (int i = 0; i < 20; i++) {
      assertThat(ask(port)).isNotBlank();
    }
    assertThat(d.logText()).contains("process_pid=" + victim + ", time=").contains("exit_code=-9, commanded=false");
  }

  @Test
  void sigtermStopsEverythingClosesSocketsAndExitsZero() throws Exception {
    Path pidfile = dir.resolve("circusd.pid");
    Daemon d = start(threeWatchers(), "--pidfile=" + pidfile);
    assertThat(Files.readString(pidfile).strip()).isEqualTo(Long.toString(d.pid()));
    await(Duration.ofSeconds(10), "6 children", () -> d.children().size() == 6);
    List<Long> kids = d.children();
    long guardian = d.guardianPid();
    int port = d.port("web");
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(20))).isZero();
    for (long k : kids) {
      assertThat(Proc.alive(k)).as("child %d after SIGTERM", k).isFalse();
    }
    await(Duration.ofSeconds(2), "guardian exit", () -> !Proc.alive(guardian));
    try (Socket s = new Socket("127.0.0.1", port)) {
      throw new AssertionError("port " + port + " still open");
    } catch (ConnectException expected) {
      // closed
    }
    assertThat(dir.resolve("u.sock")).doesNotExist();
    assertThat(pidfile).doesNotExist();
  }

  @Test
  void sigkillOfCircusdTakesEveryChildWithinASecond() throws Exception {
    Daemon d = start(threeWatchers() + "[watcher:family]\ncmd = sh -c 'sleep 1001 & sleep 1002 & wait'\n");
    await(Duration.ofSeconds(10), "7 children", () -> d.children().size() == 7);
    List<Long> kids = d.children();
    long shell = d.children("sleep 1001").get(0);
    await(Duration.ofSeconds(5), "grandchildren", () -> Proc.children(shell).size() == 2);
    List<Long> grandchildren = Proc.children(shell);
    d.signal(9);
    d.awaitExit(Duration.ofSeconds(5));
    long nanos = await(Duration.ofSeconds(1), "every child and grandchild gone", () -> {
      for (long k : kids) {
        if (Proc.alive(k)) {
          return false;
        }
      }
      for (long g : grandchildren) {
        if (Proc.alive(g)) {
          return false;
        }
      }
      return true;
    });
    System.out.printf("all children gone %.1f ms after SIGKILL of circusd%n", nanos / 1e6);
  }

  @Test
  void workerIgnoringSigtermIsKilledWithItsChildrenAfterGracefulTimeout() throws Exception {
    Daemon d = start(String.join("\n",
        "[watcher:stubborn]",
        "cmd = sh -c 'trap \"\" TERM; setsid sleep 1003 & while :; do sleep 0.2; done'",
        "graceful_timeout = 1.5",
        "stop_children = true",
        ""));
    await(Duration.ofSeconds(10), "stubborn worker", () -> d.children().size() == 1);
    long shell = d.children().get(0);
    await(Duration.ofSeconds(5), "its setsid child", () -> {
      for (long c : Proc.children(shell)) {
        if (Proc.cmdline(c).contains("sleep 1003")) {
          return true;
        }
      }
      return false;
    });
    long child = Proc.children(shell).stream().filter(c -> Proc.cmdline(c).contains("sleep 1003")).findFirst().get();
    long t0 = System.nanoTime();
    d.signal(15);
    Thread.sleep(700);
    assertThat(Proc.alive(shell)).as("still inside graceful_timeout").isTrue();
    assertThat(d.awaitExit(Duration.ofSeconds(10))).isZero();
    double took = (System.nanoTime() - t0) / 1e9;
    assertThat(Proc.alive(shell)).isFalse();
    assertThat(Proc.alive(child)).as("child in its own session, killed through stop_children").isFalse();
    assertThat(took).isBetween(1.4, 6.0);
    assertThat(d.logText()).contains("still alive after graceful_timeout");
  }

  @Test
  void crashLoopBacksOffAndOtherWatchersStayResponsive() throws Exception {
    Path counter = dir.resolve("spawns.txt");
    Daemon d = start(threeWatchers() + String.join("\n",
        "[watcher:crasher]",
        "cmd = sh -c 'echo spawn >> " + counter + "; exit 3'",
        "max_retry = -1",
        ""));
    await(Duration.ofSeconds(10), "web workers", () -> d.children("pidserver.py " + d.socketFd("web")).size() == 4);
    Thread.sleep(4000);
    long spawns = Files.readAllLines(counter).size();
    // Without backoff this would be thousands; 0.1+0.2+0.4+0.8+1.6 s = 3.1 s of delays in ~4 s.
    assertThat(spawns).as("crash-looping spawns in ~4 s").isBetween(3L, 10L);
    // The daemon keeps working for everything else: a killed worker is still replaced at once.
    long victim = d.children("pidserver.py " + d.socketFd("web")).get(0);
    Proc.kill(victim, 9);
    await(Duration.ofSeconds(1), "replacement while another watcher crash-loops", () -> {
      List<Long> now = d.children("pidserver.py " + d.socketFd("web"));
      return now.size() == 4 && !now.contains(victim);
    });
    assertThat(ask(d.port("web"))).isNotBlank();
    assertThat(d.logText()).contains("quick exit(s) in a row, next spawn in");
  }

  @Test
  void rotatingFileStreamKeepsEveryLineExactlyOnceAndWhole() throws Exception {
    Path w = worker("writer.py");
    Path logfile = dir.resolve("logs/out.log");
    int lines = 4000;
    int procs = 4;
    Daemon d = start(String.join("\n",
        "[watcher:writers]",
        "cmd = " + python() + " " + w + " " + lines,
        "numprocesses = " + procs,
        "stdout_stream.class = FileStream",
        "stdout_stream.filename = " + logfile,
        "stdout_stream.max_bytes = 20000",
        "stdout_stream.backup_count = 1000",
        ""));
    await(Duration.ofSeconds(10), "writers", () -> d.children().size() == procs);
    List<Long> pids = d.children();
    await(Duration.ofSeconds(30), "all lines written", () -> countLines(logfile) >= (long) lines * procs);
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(20))).isZero();

    Map<String, Integer> seen = new TreeMap<>();
    java.util.regex.Pattern shape = java.util.regex.Pattern.compile("(\\d+)-(\\d+)-(x*)");
    try (var files = Files.list(logfile.getParent())) {
      for (Path f : files.toList()) {
        assertThat(Files.size(f)).as("size of %s", f).isLessThanOrEqualTo(20000);
        for (String l : Files.readAllLines(f)) {
          java.util.regex.Matcher m = shape.matcher(l);
          assertThat(m.matches()).as("whole line in %s: '%s'", f, l).isTrue();
          assertThat(m.group(3).length()).isEqualTo(Integer.parseInt(m.group(2)) % 97);
          seen.merge(m.group(1) + "-" + m.group(2), 1, Integer::sum);
        }
      }
    }
    assertThat(seen).hasSize(lines * procs);
    assertThat(seen.values()).allMatch(n -> n == 1);
    for (long p : pids) {
      assertThat(seen).containsKey(p + "-" + (lines - 1));
    }
  }

  private static long countLines(Path logfile) {
    long n = 0;
    try (var files = Files.list(logfile.getParent())) {
      for (Path f : files.toList()) {
        try (var s = Files.lines(f)) {
          n += s.count();
        }
      }
    } catch (IOException e) {
      return 0;
    }
    return n;
  }

  @Test
  void malformedConfigIsRejectedWithFileLineAndKey() throws Exception {
    Path cfg = dir.resolve("bad.ini");
    Files.writeString(cfg, "[watcher:web]\ncmd = sleep 1\nnumprocesses = lots\n");
    Daemon.Result r = Daemon.run(cfg, Duration.ofSeconds(30));
    assertThat(r.exitCode()).isNotZero();
    assertThat(r.output()).contains(cfg + ":3: [watcher:web] numprocesses: expected an integer; got 'lots'");
  }

  @ParameterizedTest(name = "SIG{0}")
  @ValueSource(strings = {"INT", "QUIT"})
  void sigintAndSigquitStopCircusdToo(String sig) throws Exception {
    Daemon d = start("[watcher:plain]\ncmd = sleep 1000\nnumprocesses = 2\n");
    await(Duration.ofSeconds(10), "2 children", () -> d.children().size() == 2);
    List<Long> kids = d.children();
    d.signal(sig.equals("INT") ? 2 : 3);
    assertThat(d.awaitExit(Duration.ofSeconds(20))).isZero();
    assertThat(d.logText()).contains("received SIG" + sig + ", shutting down").doesNotContain("Full thread dump");
    for (long k : kids) {
      assertThat(Proc.alive(k)).isFalse();
    }
  }

  @Test
  void sighupReloadsGracefullyWithNewProcesses() throws Exception {
    Daemon d = start("[watcher:plain]\ncmd = sleep 1000\nnumprocesses = 3\n");
    await(Duration.ofSeconds(10), "3 children", () -> d.children().size() == 3);
    List<Long> before = d.children();
    d.signal(1);
    await(Duration.ofSeconds(10), "3 new children", () -> {
      List<Long> now = d.children();
      return now.size() == 3 && now.stream().noneMatch(before::contains);
    });
    await(Duration.ofSeconds(5), "old ones reaped", () -> before.stream().noneMatch(Proc::alive));
    // the reload event is published once the last old process is reaped: it may trail the reap by a moment
    d.awaitLog("watcher.plain.reload", Duration.ofSeconds(5));
    assertThat(d.logText()).contains("received SIGHUP, reloading");
    assertThat(d.process.isAlive()).isTrue();
  }
}
