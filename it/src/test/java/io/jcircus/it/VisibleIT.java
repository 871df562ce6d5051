package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * One invariant: every process circusd started is listed by {@code list}/{@code status} until it is reaped;
 * {@code rm} and {@code stop} cancel pending spawns instead of queueing behind them; {@code set} takes only values
 * the configuration file would.
 */
class VisibleIT extends ItBase {
  /** A worker that ignores SIGTERM, so stopping it takes graceful_timeout. */
  private static final String STUBBORN = "/bin/sh -c \"trap '' TERM; while :; do sleep 0.1; done\"";

  private static Map<String, Object> props(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private static JsonNode ok(Probe.Reply r) {
    assertThat(r.ok()).as(String.valueOf(r)).isTrue();
    return r.reply();
  }

  /** Every pid that some watcher lists. */
  private static Set<Long> listedPids(Probe p) throws IOException {
    Set<Long> out = new TreeSet<>();
    for (JsonNode name : ok(p.call("list", Map.of())).get("watchers")) {
      Probe.Reply r = p.call("list", props("name", name.asText()));
      if (r.ok()) {
        r.reply().get("pids").forEach(n -> out.add(n.asLong()));
      }
    }
    return out;
  }

  /** Asserts every live child of circusd (the guardian aside) is listed. */
  private static void allListed(Daemon d, Probe p) throws IOException {
    Set<Long> listed = listedPids(p);
    for (long c : d.children()) {
      if (Proc.alive(c) && !listed.contains(c) && Proc.alive(c)) {
        // a child reaped between the two reads is not a violation: look once more
        Set<Long> again = listedPids(p);
        assertThat(!Proc.alive(c) || again.contains(c)).as("child " + c + " (" + Proc.cmdline(c)
            + ") is running but not listed; listed: " + again).isTrue();
      }
    }
  }

  @Test
  void aRemovedWatcherIsListedUntilItsLastProcessIsReaped() throws Exception {
    Daemon d = start("[watcher:stubborn]\ncmd = " + STUBBORN + "\nnumprocesses = 2\ngraceful_timeout = 3\n"
        + "[watcher:other]\ncmd = " + STUBBORN + "\ngraceful_timeout = 2\n");
    try (Probe p = new Probe(dir, d.endpoint(), 10_000)) {
      List<Long> pids = new ArrayList<>();
      ok(p.call("list", props("name", "stubborn"))).get("pids").forEach(n -> pids.add(n.asLong()));
      assertThat(pids).hasSize(2);
      long t0 = System.nanoTime();
      ok(p.call("rm", props("name", "stubborn")));
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("rm without waiting replies at once")
          .isLessThan(1000);
      // still there, stopping, with both processes, while they ignore SIGTERM
      assertThat(ok(p.call("list", Map.of())).get("watchers").toString()).contains("\"stubborn\"");
      assertThat(p.call("status", props("name", "stubborn")).reply().get("status").asText()).isEqualTo("stopping");
      List<Long> listed = new ArrayList<>();
      ok(p.call("list", props("name", "stubborn"))).get("pids").forEach(n -> listed.add(n.asLong()));
      assertThat(listed).containsExactlyInAnyOrderElementsOf(pids);
      // it takes no command that would change it
      Probe.Reply incr = p.call("incr", props("name", "stubborn"));
      assertThat(incr.reply().path("reason").asText()).contains("is being removed");
      while (pids.stream().anyMatch(Proc::alive)) {
        allListed(d, p);
        assertThat(System.nanoTime() - t0).as("graceful_timeout 3 s, then SIGKILL")
            .isLessThan(TimeUnit.SECONDS.toNanos(10));
        Thread.sleep(100);
      }
      await(Duration.ofSeconds(2), "stubborn gone from list", () -> {
        try {
          return !ok(p.call("list", Map.of())).get("watchers").toString().contains("\"stubborn\"");
        } catch (IOException e) {
          throw new AssertionError(e);
        }
      });

      // rm --waiting replies when the processes are gone; add of the same name at once comes after them
      List<Long> other = new ArrayList<>();
      ok(p.call("list", props("name", "other"))).get("pids").forEach(n -> other.add(n.asLong()));
      ok(p.call("rm", props("name", "other")));
      t0 = System.nanoTime();
      JsonNode added = ok(p.call("add", props("name", "other", "cmd", "sleep 3600", "start", true, "waiting", true)));
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("add waited for the old processes")
          .isGreaterThan(1500);
      assertThat(other.stream().noneMatch(Proc::alive)).isTrue();
      assertThat(added.get("started")).hasSize(1);
      JsonNode names = ok(p.call("list", Map.of())).get("watchers");
      assertThat(names.toString()).isEqualTo("[\"other\"]");
      t0 = System.nanoTime();
      ok(p.call("rm", props("name", "other", "waiting", true)));
      assertThat(ok(p.call("list", Map.of())).get("watchers")).isEmpty();
      assertThat(d.children()).isEmpty();
    }
  }

  @Test
  void aWatcherThatReloadconfigRecreatesStaysListedUntilItsProcessesAreGone() throws Exception {
    Daemon d = start("[watcher:stubborn]\ncmd = " + STUBBORN + "\nnumprocesses = 2\ngraceful_timeout = 3\n");
    try (Probe p = new Probe(dir, d.endpoint(), 10_000)) {
      List<Long> old = new ArrayList<>();
      ok(p.call("list", props("name", "stubborn"))).get("pids").forEach(n -> old.add(n.asLong()));
      String cfg = java.nio.file.Files.readString(d.config);
      java.nio.file.Files.writeString(d.config, cfg.replace("numprocesses = 2", "numprocesses = 2\npriority = 1"));
      ok(p.call("reloadconfig", Map.of()));
      long t0 = System.nanoTime();
      while (old.stream().anyMatch(Proc::alive)) {
        allListed(d, p);
        assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(10));
        Thread.sleep(100);
      }
      await(Duration.ofSeconds(10), "the recreated watcher's two processes", () -> {
        try {
          return listedPids(p).size() == 2;
        } catch (IOException e) {
          throw new AssertionError(e);
        }
      });
      assertThat(ok(p.call("list", Map.of())).get("watchers").toString()).isEqualTo("[\"stubborn\"]");
      assertThat(listedPids(p)).doesNotContainAnyElementsOf(old);
      allListed(d, p);
    }
  }

  @Test
  void aRestartUnderWayDoesNotUndoStopOrRm() throws Exception {
    // found by bench/soak.py: the second half of a restart started a watcher that rm had taken meanwhile, and
    // its new processes ran unlisted
    Daemon d = start("[watcher:stubborn]\ncmd = " + STUBBORN + "\nnumprocesses = 2\ngraceful_timeout = 2\n"
        + "[watcher:other]\ncmd = " + STUBBORN + "\ngraceful_timeout = 2\n");
    try (Probe p = new Probe(dir, d.endpoint(), 10_000)) {
      ok(p.call("restart", props("name", "stubborn"))); // stopping: 2 s of graceful_timeout
      ok(p.call("rm", props("name", "stubborn")));
      ok(p.call("restart", props("name", "other")));
      ok(p.call("stop", props("name", "other", "waiting", true)));
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (System.nanoTime() < end) {
        allListed(d, p);
        Thread.sleep(100);
      }
      assertThat(d.children()).as("nothing restarted behind rm or stop").isEmpty();
      assertThat(ok(p.call("list", Map.of())).get("watchers").toString()).isEqualTo("[\"other\"]");
      assertThat(p.call("status", props("name", "other")).reply().get("status").asText()).isEqualTo("stopped");
    }
  }

  @Test
  void rmCancelsPendingSpawnsAndNothingRunsUnlisted() throws Exception {
    Daemon d = start("[watcher:slow]\ncmd = sleep 3600\nwarmup_delay = 2\n");
    try (Probe p = new Probe(dir, d.endpoint(), 10_000)) {
      ok(p.call("set", props("name", "slow", "options", props("numprocesses", 4))));
      await(Duration.ofSeconds(5), "a second process", () -> d.children().size() >= 2);
      Set<Long> before = new TreeSet<>(d.children());
      ok(p.call("rm", props("name", "slow")));
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(6); // three more warmup_delays
      while (System.nanoTime() < end) {
        for (long c : d.children()) {
          assertThat(before).as("a process spawned after rm").contains(c);
        }
        allListed(d, p);
        Thread.sleep(50);
      }
      assertThat(d.children()).isEmpty();
      assertThat(ok(p.call("list", Map.of())).get("watchers")).isEmpty();
    }
  }

  @Test
  void stopAndRmDoNotQueueBehindAResizeThatCannotFinish() throws Exception {
    Daemon d = start("[watcher:idle]\ncmd = sleep 3600\n");
    try (Probe p = new Probe(dir, d.endpoint(), 10_000)) {
      ok(p.call("add", props("name", "sl", "cmd", "sleep 3600", "start", true, "waiting", true)));
      // the wedge, within the bounds: a resize that waits a day between spawns
      ok(p.call("set", props("name", "sl", "options", props("warmup_delay", 86400))));
      ok(p.call("set", props("name", "sl", "options", props("numprocesses", 50))));
      Probe.Reply stuck = p.call("incr", props("name", "sl", "nb", 1, "waiting", true)); // queued behind it
      assertThat(stuck.reply()).as("a resize that waits a day is not answered in 10 s").isNull();
      long t0 = System.nanoTime();
      ok(p.call("stop", props("name", "sl", "waiting", true)));
      assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(5000);
      assertThat(p.call("status", props("name", "sl")).reply().get("status").asText()).isEqualTo("stopped");
      ok(p.call("set", props("name", "sl", "options", props("numprocesses", 1), "waiting", true)));
      ok(p.call("start", props("name", "sl", "waiting", true)));
      ok(p.call("rm", props("name", "sl", "waiting", true)));
      assertThat(ok(p.call("list", Map.of())).get("watchers").toString()).isEqualTo("[\"idle\"]");
      assertThat(d.children()).hasSize(1);
      allListed(d, p);
    }
  }

  @Test
  void setTakesOnlyWhatTheConfigurationFileWould() throws Exception {
    Daemon d = start("[watcher:w]\ncmd = sleep 3600\n");
    try (Probe p = new Probe(dir, d.endpoint(), 10_000)) {
      JsonNode before = ok(p.call("options", props("name", "w"))).get("options");
      Object[][] bad = {
          {"numprocesses", 100_000, "'numprocesses' must be between 0 and"},
          {"numprocesses", -5, "'numprocesses' must be between 0 and"},
          {"numprocesses", "2", "'numprocesses' isn't an integer"},
          {"numprocesses", 2.5, "'numprocesses' isn't an integer"},
          {"warmup_delay", 1e308, "'warmup_delay' must be at most 86400 seconds"},
          {"warmup_delay", -1, "'warmup_delay' must be a non-negative number of seconds"},
          {"graceful_timeout", 1e308, "'graceful_timeout' must be at most 86400 seconds"},
          {"max_age", -5, "'max_age' must be between 0 and"},
          {"max_retry", -2, "'max_retry' must be -1"},
          {"backoff_factor", 0.5, "'backoff_factor' must be between 1 and"},
          {"cmd", "", "'cmd' must not be empty"},
          {"cmd", "  ", "'cmd' must not be empty"},
          {"stop_signal", "NOPE", "NOPE"},
          {"no_such_key", 1, "unknown key 'no_such_key'"},
      };
      for (Object[] b : bad) {
        Probe.Reply r = p.call("set", props("name", "w", "options", props((String) b[0], b[1])));
        assertThat(r.reply().path("status").asText()).as(b[0] + " = " + b[1]).isEqualTo("error");
        assertThat(r.reply().path("errno").asInt()).isEqualTo(3);
        assertThat(r.reply().path("reason").asText()).as(b[0] + " = " + b[1]).contains((String) b[2]);
      }
      // one bad key among good ones changes nothing
      Probe.Reply mixed = p.call("set", props("name", "w", "options", props("graceful_timeout", 7, "max_age", -1)));
      assertThat(mixed.ok()).isFalse();
      assertThat(ok(p.call("options", props("name", "w"))).get("options")).isEqualTo(before);
      // incr past the ceiling is refused the same way
      assertThat(p.call("incr", props("name", "w", "nb", 1_000_000)).reply().path("reason").asText())
          .contains("numprocesses must be between 0 and");
      ok(p.call("set", props("name", "w", "options", props("graceful_timeout", 7, "numprocesses", 2), "waiting", true)));
      assertThat(ok(p.call("options", props("name", "w"))).get("options").get("graceful_timeout").asDouble()).isEqualTo(7.0);
      assertThat(d.children()).hasSize(2);
      // signal's childpid reaches only a child of the process it names, never any pid a client picks
      long worker = d.children().get(0);
      Probe.Reply sig = p.call("signal", props("name", "w", "pid", worker, "childpid", ProcessHandle.current().pid(),
          "signum", "CONT"));
      assertThat(sig.reply().path("reason").asText()).contains("not found");
    }
  }
}
