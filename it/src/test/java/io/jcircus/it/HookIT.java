package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/** hooks.* as commands: each at its moment with its arguments, failures gating what they guard, timeouts. */
class HookIT extends ItBase {
  private List<String> log() throws Exception {
    Path f = dir.resolve("hooks/hooks.log");
    return Files.exists(f) ? Files.readAllLines(f) : List.of();
  }

  @Test
  void everyHookRunsAtItsMomentWithItsArgumentsAndAFailingOrHangingOneIsContained() throws Exception {
    Path hooks = Files.createDirectories(dir.resolve("hooks"));
    Path script = hooks.resolve("hook.sh");
    Files.copy(worker("hook.sh"), script);
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    StringBuilder conf = new StringBuilder("[watcher:web]\ncmd = sh -c 'trap \"\" HUP; exec sleep 3600'\n");
    for (String h : new String[] {"before_start", "after_start", "before_spawn", "after_spawn", "before_stop",
        "after_stop", "before_signal", "after_signal", "before_reap", "after_reap"}) {
      conf.append("hooks.").append(h).append(" = exec:").append(script).append('\n');
    }
    conf.append("hooks.before_stop.timeout = 1\n");
    Daemon d = start(conf.toString());
    await(Duration.ofSeconds(20), "after_start", () -> quietly(() -> log().stream()
        .anyMatch(l -> l.startsWith("after_start"))));
    long pid = Long.parseLong(ctl(d, "list", "web"));
    List<String> started = log();
    // the before_* hooks gate what follows, in order; the after_* ones run once it happened
    assertThat(started.subList(0, 2)).containsExactly("before_start web | pid= signum= process_pid= exit_code= watcher=web",
        "before_spawn web | pid= signum= process_pid= exit_code= watcher=web");
    assertThat(started.subList(2, 4)).containsExactlyInAnyOrder(
        "after_spawn web " + pid + " | pid=" + pid + " signum= process_pid= exit_code= watcher=web",
        "after_start web | pid= signum= process_pid= exit_code= watcher=web");

    // a signal goes through before_signal and after_signal with the pid and the signal number
    ctl(d, "signal", "web", "HUP");
    await(Duration.ofSeconds(10), "after_signal", () -> quietly(() -> log().size() == 6));
    assertThat(log().subList(4, 6)).containsExactly(
        "before_signal web " + pid + " | pid=" + pid + " signum=1 process_pid= exit_code= watcher=web",
        "after_signal web " + pid + " | pid=" + pid + " signum=1 process_pid= exit_code= watcher=web");
    assertThat(d.logText()).doesNotContain("hook_failure");

    // before_stop hangs: killed after its 1 s timeout, the stop goes on; status answers at once meanwhile
    Files.writeString(hooks.resolve("sleep-before_stop"), "");
    long t0 = System.nanoTime();
    Thread stopper = new Thread(() -> quietly(() -> ctl(d, "stop", "web", "--waiting") != null));
    stopper.start();
    try (ZContext zmq = new ZContext()) {
      ZMQ.Socket s = dealer(zmq, d);
      s.send("{\"id\": \"w\", \"command\": \"status\", \"properties\": {}}");
      assertThat(s.recvStr()).contains("statuses");
      for (int i = 0; i < 200; i++) { // until the stop has begun: the hook is running now
        s.send("{\"id\": \"p" + i + "\", \"command\": \"status\", \"properties\": {}}");
        if (s.recvStr().contains("\"web\": \"stopping\"")) {
          break;
        }
        Thread.sleep(50);
      }
      long worst = 0;
      for (int i = 0; i < 5; i++) {
        long t = System.nanoTime();
        s.send("{\"id\": \"s" + i + "\", \"command\": \"status\", \"properties\": {}}");
        assertThat(s.recvStr()).contains("\"web\": \"stopping\"");
        worst = Math.max(worst, System.nanoTime() - t);
      }
      System.out.println("PHASE status during a hanging hook: slowest " + worst / 1000 + " µs");
      assertThat(worst).isLessThan(TimeUnit.MILLISECONDS.toNanos(100));
    }
    stopper.join(30_000);
    double took = (System.nanoTime() - t0) / 1e9;
    System.out.println("PHASE stop with a hanging before_stop took " + took + " s");
    assertThat(took).isBetween(0.9, 10.0);
    assertThat(ctl(d, "status", "web")).isEqualTo("stopped");
    assertThat(d.logText()).contains("hook before_stop failed: timed out after 1.0 s (killed)");
    List<String> stopped = log().subList(6, log().size());
    assertThat(stopped.get(0)).startsWith("before_stop web |");
    assertThat(stopped).anyMatch(l -> l.startsWith("before_reap web " + pid + " | pid= signum= process_pid=" + pid));
    assertThat(stopped).anyMatch(l -> l.startsWith("after_reap web " + pid + " | pid= signum= process_pid=" + pid
        + " exit_code=-15"));
    assertThat(stopped.get(stopped.size() - 1)).startsWith("after_stop web |");
    Files.delete(hooks.resolve("sleep-before_stop"));

    // a failing before_start keeps the watcher stopped, and says why
    Files.writeString(hooks.resolve("fail-before_start"), "");
    String refused = ctl(d, "start", "web", "--waiting");
    System.out.println("PHASE start refused by before_start: " + refused);
    assertThat(ctl(d, "status", "web")).isEqualTo("stopped");
    assertThat(d.logText()).contains("hook before_start failed: exit code 1: refused by before_start");
    assertThat(d.children()).isEmpty();
    // and a failing before_spawn counts as a failed spawn: retried, then given up at max_retry
    Files.delete(hooks.resolve("fail-before_start"));
    Files.writeString(hooks.resolve("fail-before_spawn"), "");
    ctl(d, "set", "web", "max_retry", "1");
    ctl(d, "start", "web");
    await(Duration.ofSeconds(20), "given up", () -> quietly(() -> d.logText().contains("before_spawn hook failed;"
        + " giving up after 2 failed attempt(s) (max_retry = 1)")));
    // no worker was spawned; the stop's own hooks (before_stop, after_stop) may still be running a moment
    await(Duration.ofSeconds(10), "no process left", () -> d.children().isEmpty());
  }

  @Test
  void aJavaHookFromHooksClasspathRunsWithItsArgumentsAndAFailingAfterSpawnStopsTheWatcher() throws Exception {
    Path classes = Path.of(HookIT.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path log = dir.resolve("java-hooks.log");
    Path ini = dir.resolve("circus.ini");
    Files.writeString(ini, endpoints() + "[watcher:web]\ncmd = sleep 3600\n"
        + "hooks.after_spawn = java:io.jcircus.it.plugins.RecordHook\nhooks.before_signal = java:io.jcircus.it.plugins.RecordHook\n"
        + "hooks.classpath = " + classes + "\n");
    Daemon d = Daemon.start(ini, java.util.Map.of("HOOK_LOG", log.toString()), "circusd running");
    daemons().add(d);
    String pid = ctl(d, "list", "web");
    await(Duration.ofSeconds(10), "after_spawn", () -> quietly(() -> Files.exists(log)));
    assertThat(Files.readAllLines(log)).containsExactly("after_spawn web {pid=" + pid + "}");
    ctl(d, "signal", "web", "USR2");
    await(Duration.ofSeconds(10), "before_signal", () -> quietly(() -> Files.readAllLines(log).size() == 2));
    assertThat(Files.readAllLines(log).get(1)).isEqualTo("before_signal web {pid=" + pid + ", signum=12}");
    // after_spawn refuses: as in Circus, the watcher is stopped
    Files.writeString(Path.of(log + ".refuse"), "");
    ctl(d, "restart", "web");
    await(Duration.ofSeconds(10), "stopped by after_spawn", () -> quietly(() -> ctl(d, "status", "web").equals("stopped")));
    assertThat(d.logText()).contains("hook after_spawn failed: returned false")
        .contains("after_spawn hook failed for pid");
  }

  @Test
  void extendedStatsHookAddsToEachProcesssFigures() throws Exception {
    Path ext = dir.resolve("ext.sh");
    Files.writeString(ext, "#!/bin/sh\n# Circus's extended_stats: what it prints (a JSON object) joins the process's figures\n"
        + "echo \"{\\\"queue_depth\\\": 42, \\\"seen_pid\\\": $CIRCUS_PID}\"\n");
    Files.setPosixFilePermissions(ext, PosixFilePermissions.fromString("rwxr-xr-x"));
    Daemon d = start("[watcher:web]\ncmd = sleep 3600\nnumprocesses = 2\nhooks.extended_stats = exec:" + ext + "\n");
    await(Duration.ofSeconds(20), "2 processes", () -> d.children().size() == 2);
    List<String> pids = List.of(ctl(d, "list", "web").split(","));
    try (ZContext zmq = new ZContext()) {
      ZMQ.Socket s = dealer(zmq, d);
      s.send("{\"id\": \"x\", \"command\": \"stats\", \"properties\": {\"name\": \"web\", \"extended\": true}}");
      String reply = s.recvStr();
      for (String pid : pids) {
        assertThat(reply).contains("\"seen_pid\": " + pid).contains("\"queue_depth\": 42");
      }
      s.send("{\"id\": \"y\", \"command\": \"stats\", \"properties\": {\"name\": \"web\"}}");
      assertThat(s.recvStr()).as("without --extended, no hook").doesNotContain("queue_depth");
    }
  }

  @Test
  void aPythonHookIsAConfigErrorThatSaysHowToWriteIt() throws Exception {
    Path ini = dir.resolve("bad.ini");
    Files.writeString(ini, endpoints() + "[watcher:web]\ncmd = sleep 1\nhooks.before_start = mymodule.myhook\n");
    Daemon.Result r = Daemon.run(ini, Duration.ofSeconds(30));
    assertThat(r.exitCode()).isEqualTo(2);
    assertThat(r.output()).contains(ini + ":6: [watcher:web] hooks.before_start: 'mymodule.myhook' is a Python"
        + " callable, which this circusd cannot call; write hooks.before_start = exec:COMMAND");
    Files.writeString(ini, endpoints() + "[watcher:web]\ncmd = sleep 1\nhooks.befor_start = exec:/bin/true\n");
    r = Daemon.run(ini, Duration.ofSeconds(30));
    assertThat(r.output()).contains("hooks.befor_start: no hook named 'befor_start'; did you mean 'hooks.before_start'?");
  }

}
