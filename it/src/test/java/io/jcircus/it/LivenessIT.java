package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** liveness: a process that stops answering its probe is replaced (or its watcher stopped), a healthy one is not. */
class LivenessIT extends ItBase {
  @Test
  void aProcessThatStopsAnsweringIsReplacedAndAnotherWatchersActionStopsIt() throws Exception {
    Path wedge = worker("wedge.py");
    int wedging = freePort();
    int healthy = freePort();
    int stopping = freePort();
    Daemon d = start("[watcher:wedging]\ncmd = " + python() + " " + wedge + " " + wedging + " 2\n"
        + "liveness = tcp://127.0.0.1:" + wedging + "\nliveness_interval = 0.5\nliveness_timeout = 0.5\n"
        + "liveness_failures = 2\n"
        + "[watcher:healthy]\ncmd = " + python() + " " + wedge + " " + healthy + " 100000\n"
        + "liveness = tcp://127.0.0.1:" + healthy + "\nliveness_interval = 0.5\nliveness_failures = 2\n"
        + "[watcher:stopping]\ncmd = " + python() + " " + wedge + " " + stopping + " 2\n"
        + "liveness = tcp://127.0.0.1:" + stopping + "\nliveness_interval = 0.5\nliveness_failures = 2\n"
        + "liveness_action = stop\n");
    await(Duration.ofSeconds(30), "3 processes", () -> d.children().size() == 3);
    String first = ctl(d, "list", "wedging");
    String calm = ctl(d, "list", "healthy");
    long t0 = System.nanoTime();
    await(Duration.ofSeconds(10), "the wedged process replaced", () -> {
      String now = ctl(d, "list", "wedging");
      return !now.isEmpty() && !now.equals(first);
    });
    // silent from 2 s on: two failed probes 0.5 s apart, then its replacement
    double after = (System.nanoTime() - t0) / 1e9;
    System.out.println("PHASE wedged process replaced " + after + " s after the wait began");
    assertThat(after).isLessThan(2 + 2 * 1.0 + 1.5);
    assertThat(d.logText()).contains("watcher wedging: pid " + first + " failed its liveness check 2 times in a row"
        + " (tcp://127.0.0.1:" + wedging + "): replacing it");
    await(Duration.ofSeconds(10), "the other stopped", () -> ctl(d, "status", "stopping").equals("stopped"));
    assertThat(ctl(d, "list", "healthy")).as("a healthy process is left alone").isEqualTo(calm);
    assertThat(ctl(d, "status", "healthy")).isEqualTo("active");
  }

  @Test
  void aProcessThatStopsSendingWatchdogIsReplacedAndAHealthyOneIsNot() throws Exception {
    Path w = worker("sdwatchdog.py");
    Daemon d = start("[watcher:silent]\ncmd = " + python() + " " + w + " 1.5\nreadiness = notify\n"
        + "liveness = notify\nliveness_interval = 0.4\nliveness_failures = 2\n"
        + "stdout_stream.class = FileStream\nstdout_stream.filename = " + dir.resolve("silent.log") + "\n"
        + "[watcher:chatty]\ncmd = " + python() + " " + w + " 100000\n"
        + "liveness = notify\nliveness_interval = 0.4\nliveness_failures = 2\n");
    await(Duration.ofSeconds(30), "2 processes", () -> d.children().size() == 2);
    String first = ctl(d, "list", "silent");
    String calm = ctl(d, "list", "chatty");
    long t0 = System.nanoTime();
    await(Duration.ofSeconds(10), "the silent process replaced", () -> {
      String now = ctl(d, "list", "silent");
      return !now.isEmpty() && !now.equals(first);
    });
    // silent from 1.5 s on: two intervals of 0.4 s without WATCHDOG=1, then its replacement
    double after = (System.nanoTime() - t0) / 1e9;
    System.out.println("PHASE silent process replaced " + after + " s after the wait began");
    assertThat(after).isLessThan(1.5 + 3 * 0.4 + 1.5);
    assertThat(d.logText()).contains("watcher silent: pid " + first + " failed its liveness check 2 times in a row"
        + " (notify): replacing it");
    assertThat(java.nio.file.Files.readString(dir.resolve("silent.log"))).contains("WATCHDOG_USEC=400000");
    assertThat(ctl(d, "list", "chatty")).as("a process that keeps sending WATCHDOG=1 is left alone").isEqualTo(calm);
  }
}
