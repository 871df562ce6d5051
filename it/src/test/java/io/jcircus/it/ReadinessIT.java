package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/** readiness = notify: rolling reloads wait for sd_notify READY=1, and give up on a worker that never says it. */
class ReadinessIT extends ItBase {
  @SuppressWarnings("unchecked")
  private static Map<String, Object> call(ZMQ.Socket s, String command, String props) {
    String id = UUID.randomUUID().toString();
    s.send("{\"id\": \"" + id + "\", \"command\": \"" + command + "\", \"properties\": " + props + "}");
    String reply = s.recvStr();
    assertThat(reply).as("reply to " + command).isNotNull();
    return (Map<String, Object>) io.jcircus.protocol.Json.parse(reply);
  }

  @Test
  void rollingReloadWaitsForReadyAndAbandonsAWorkerThatNeverIs() throws Exception {
    Path flag = dir.resolve("broken");
    Path py = worker("fdserver.py");
    String chaussette = Daemon.HOME.resolve("bin/chaussette-java") + " --threads 1 fd://$(circus.sockets.web)";
    // While the flag file exists, new processes are a server that knows nothing of sd_notify.
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[watcher:web]",
        "cmd = /bin/sh -c 'if [ -e " + flag + " ]; then exec " + python() + " " + py
            + " $(circus.sockets.web); else exec " + chaussette + "; fi'",
        "numprocesses = 2", "use_sockets = true", "copy_env = true", "graceful_timeout = 10",
        "readiness = notify", "ready_timeout = 8", // a fresh JVM under this load on 2 cores: 2-4 s
        "[env:web]", "CHAUSSETTE_WARMUP_MS = 1000", "")); // and a warm-up kept short for that timeout
    int port = d.port("web");
    await(Duration.ofSeconds(30), "2 workers ready", () -> d.logText().split("is ready after").length - 1 >= 2);
    String endpoint = d.endpoint();
    try (ZContext ctx = new ZContext()) {
      ZMQ.Socket s = ctx.createSocket(SocketType.DEALER);
      s.setReceiveTimeOut(60_000);
      s.connect(endpoint);

      // a rolling reload: each old worker is retired only once its replacement reported READY=1
      List<Long> before = d.children();
      long p0 = System.nanoTime();
      try (Load load = new Load(port, 4)) {
        load.awaitMore(100, Duration.ofSeconds(20));
        System.out.printf("PHASE loaded %d ms%n", (System.nanoTime() - p0) / 1_000_000);
        Map<String, Object> r = call(s, "reload", "{\"name\": \"web\", \"sequential\": true, \"waiting\": true}");
        System.out.printf("PHASE reloaded %d ms%n", (System.nanoTime() - p0) / 1_000_000);
        assertThat(r).as(r.toString()).containsEntry("status", "ok");
        load.awaitMore(100, Duration.ofSeconds(20));
        System.out.printf("PHASE served after %d ms%n", (System.nanoTime() - p0) / 1_000_000);
        load.close();
        System.out.printf("PHASE closed %d ms: %s%n", (System.nanoTime() - p0) / 1_000_000, load);
        assertThat(load.failed.get()).as(load.toString()).isZero();
      }
      List<Long> after = d.children();
      assertThat(after).hasSize(2).doesNotContainAnyElementsOf(before);
      assertThat(d.logText().split("is ready after").length - 1).isGreaterThanOrEqualTo(4);

      // a new worker that never reports ready: the reload fails after ready_timeout, the old ones keep serving
      Files.writeString(flag, "");
      long t0 = System.nanoTime();
      Map<String, Object> r = call(s, "reload", "{\"name\": \"web\", \"sequential\": true, \"waiting\": true}");
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(r).as(r.toString()).containsEntry("status", "error").containsEntry("errno", 6L);
      assertThat((String) r.get("reason")).contains("did not report READY=1 within 8.0 s");
      assertThat(ms).isBetween(7500L, 30_000L);
      await(Duration.ofSeconds(15), "the unready worker gone", () -> d.children().size() == 2);
      assertThat(d.children()).containsExactlyInAnyOrderElementsOf(after);
      Set<String> served = new HashSet<>();
      for (int i = 0; i < 20; i++) {
        served.add(httpGet(port));
      }
      Set<String> expected = new HashSet<>();
      for (long p : after) {
        expected.add("hello from pid " + p);
      }
      assertThat(served).as("the old workers still serve").isSubsetOf(expected).isNotEmpty();

      // and the watcher is usable again: with the flag gone a reload succeeds
      Files.delete(flag);
      r = call(s, "reload", "{\"name\": \"web\", \"waiting\": true}");
      assertThat(r).as(r.toString()).containsEntry("status", "ok");
      assertThat(d.children()).hasSize(2).doesNotContainAnyElementsOf(after);
    }
  }

  @Test
  void aReadinessCheckOnEachProcesssOwnPortGatesTheRollingReload() throws Exception {
    Path py = worker("fdserver.py");
    String prefix = "4" + (10 + new java.util.Random().nextInt(89)) + "0"; // own ports PREFIX1, PREFIX2
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[watcher:web]",
        "cmd = /bin/sh -c 'sleep 1.5; OWN_PORT=" + prefix + "$(circus.wid) exec " + python() + " " + py
            + " $(circus.sockets.web)'",
        "numprocesses = 2", "use_sockets = true",
        "readiness = http://127.0.0.1:" + prefix + "$(circus.wid)/", "ready_timeout = 10", ""));
    int port = d.port("web");
    await(Duration.ofSeconds(20), "2 workers ready", () -> d.logText().split("is ready after").length - 1 >= 2);
    String endpoint = d.endpoint();
    try (ZContext ctx = new ZContext()) {
      ZMQ.Socket s = ctx.createSocket(SocketType.DEALER);
      s.setReceiveTimeOut(60_000);
      s.connect(endpoint);
      List<Long> before = d.children();
      long t0 = System.nanoTime();
      Map<String, Object> r = call(s, "reload", "{\"name\": \"web\", \"sequential\": true, \"waiting\": true}");
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(r).as(r.toString()).containsEntry("status", "ok");
      assertThat(ms).as("each new process is waited for (>= 1.5 s each)").isGreaterThan(3000);
      assertThat(d.children()).hasSize(2).doesNotContainAnyElementsOf(before);
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("is ready after (\\d+) ms").matcher(d.logText());
      while (m.find()) {
        assertThat(Long.parseLong(m.group(1))).as("ready only once its own port answers").isGreaterThanOrEqualTo(1400);
      }
      assertThat(httpGet(port)).startsWith("hello from pid ");
    }
  }

  @Test
  void aReloadWhoseNewProcessesExitAtOnceIsRefusedAtOnce() throws Exception {
    // readiness by warmup_delay (no notify, no check): a new process that exits before its warmup_delay has
    // passed was never ready; the reload is abandoned instead of respawning it with backoff for ever
    Path flag = dir.resolve("broken");
    Path py = worker("fdserver.py");
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[watcher:web]",
        "cmd = /bin/sh -c 'if [ -e " + flag + " ]; then echo cannot start >&2; exit 3; fi; exec " + python() + " "
            + py + " $(circus.sockets.web)'",
        "numprocesses = 2", "use_sockets = true", "warmup_delay = 1", ""));
    int port = d.port("web");
    await(Duration.ofSeconds(30), "2 workers", () -> d.children().size() == 2);
    List<Long> before = d.children();
    Files.writeString(flag, "");
    try (ZContext ctx = new ZContext()) {
      ZMQ.Socket s = ctx.createSocket(SocketType.DEALER);
      s.setReceiveTimeOut(60_000);
      s.connect(d.endpoint());
      // the connection first, untimed: a JeroMQ 0.6.0 client now and then stalls on its first connection under
      // load (see cli's ControlClient.open); in CI the first request twice reached circusd 30 s late (circusd's
      // log shows it answered 18 ms after it arrived)
      long w0 = System.nanoTime();
      assertThat(call(s, "status", "{\"name\": \"web\"}")).containsEntry("status", "active");
      System.out.println("PHASE first request answered after " + (System.nanoTime() - w0) / 1_000_000 + " ms");
      for (boolean sequential : new boolean[] {true, false}) {
        long t0 = System.nanoTime();
        Map<String, Object> r = call(s, "reload",
            "{\"name\": \"web\", \"sequential\": " + sequential + ", \"waiting\": true}");
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(r).as(r.toString()).containsEntry("status", "error");
        assertThat((String) r.get("reason")).as(r.toString())
            .containsPattern("reload of 'web' abandoned: pid \\d+ exited with code 3 before its warmup_delay of 1.0 s"
                + " passed; the processes already serving keep running");
        assertThat(ms).as("sequential " + sequential).isLessThan(10_000);
        assertThat(d.children()).as("the old processes, still there").containsExactlyInAnyOrderElementsOf(before);
        assertThat(httpGet(port)).startsWith("hello from pid ");
      }
      Files.delete(flag);
      Map<String, Object> r = call(s, "reload", "{\"name\": \"web\", \"sequential\": true, \"waiting\": true}");
      assertThat(r).as("fixed: the reload goes through " + r).containsEntry("status", "ok");
      assertThat(d.children()).hasSize(2).doesNotContainAnyElementsOf(before);
    }
  }
}
