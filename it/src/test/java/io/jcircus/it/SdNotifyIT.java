package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** circusd under a notify-aware service manager: what systemd would read on its NOTIFY_SOCKET. */
class SdNotifyIT extends ItBase {
  @Test
  void readyAfterTheWatchersReloadingAroundReloadconfigStoppingAndWatchdogPings() throws Exception {
    Path sock = dir.resolve("notify");
    Process recv = new ProcessBuilder("setpriv", "--pdeathsig", "KILL", "--", python(),
        worker("notifyrecv.py").toString(), sock.toString()).redirectErrorStream(true).start();
    List<String> got = new CopyOnWriteArrayList<>();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(recv.getInputStream(), StandardCharsets.UTF_8));
      assertThat(out.readLine()).isEqualTo("bound");
      Thread t = new Thread(() -> out.lines().forEach(got::add), "notify-reader");
      t.setDaemon(true);
      t.start();
      Path ini = dir.resolve("circus.ini");
      Files.writeString(ini, endpoints() + "[watcher:slow]\ncmd = sleep 3600\nwarmup_delay = 1\nnumprocesses = 2\n");
      long t0 = System.currentTimeMillis();
      Daemon d = Daemon.start(ini, Map.of("NOTIFY_SOCKET", sock.toString(), "WATCHDOG_USEC", "400000"),
          "circusd running");
      daemons().add(d);
      await(Duration.ofSeconds(10), "READY=1", () -> got.stream().anyMatch(l -> l.contains("READY=1")));
      String ready = got.stream().filter(l -> l.contains("READY=1")).findFirst().orElseThrow();
      // only once both processes are up, past their warmup_delay: about 2 s after the start
      double readyAt = Double.parseDouble(ready.split(" ")[0]) * 1000 - t0;
      System.out.println("PHASE READY=1 after " + (long) readyAt + " ms: " + ready);
      assertThat(readyAt).isGreaterThan(1500);
      assertThat(ready).contains("MAINPID=" + d.pid());
      assertThat(d.children()).hasSize(2);
      // the watchdog, every half WATCHDOG_USEC
      int before = (int) got.stream().filter(l -> l.endsWith("WATCHDOG=1")).count();
      Thread.sleep(1000);
      int pings = (int) got.stream().filter(l -> l.endsWith("WATCHDOG=1")).count() - before;
      assertThat(pings).as("pings in 1 s").isBetween(3, 7);
      // reloadconfig: RELOADING=1, then READY=1 once it is applied
      got.clear();
      Files.writeString(ini, Files.readString(ini).replace("numprocesses = 2", "numprocesses = 3"));
      ProcessBuilder pb = new ProcessBuilder(Daemon.HOME.resolve("bin/circusctl").toString(), "reloadconfig")
          .redirectErrorStream(true);
      pb.environment().put("CIRCUSCTL_ENDPOINT", d.endpoint());
      Process ctl = pb.start();
      String said = new String(ctl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(ctl.waitFor(30, TimeUnit.SECONDS)).isTrue();
      await(Duration.ofSeconds(10), "READY after RELOADING", () -> {
        List<String> states = got.stream().filter(l -> !l.endsWith("WATCHDOG=1")).toList();
        return states.size() >= 2 && states.get(0).contains("RELOADING=1") && states.get(1).contains("READY=1");
      });
      assertThat(got.stream().filter(l -> l.contains("RELOADING=1")).findFirst().orElseThrow())
          .matches(".*MONOTONIC_USEC=\\d+.*");
      System.out.println("PHASE reloadconfig said: " + said.strip());
      // the stop: STOPPING=1 first
      got.clear();
      d.signal(15);
      assertThat(d.awaitExit(Duration.ofSeconds(30))).isZero();
      assertThat(got.stream().filter(l -> !l.endsWith("WATCHDOG=1")).findFirst().orElseThrow()).endsWith(" STOPPING=1");
    } finally {
      recv.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
