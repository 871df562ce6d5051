package io.jcircus.server.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.config.ConfigLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every family of commands against a real arbiter (real children), called in-process through the registry: no
 * ZeroMQ, no JSON, as a plugin or the web console will call them.
 */
class RegistryTest {
  @TempDir Path dir;
  private Arbiter arbiter;
  private Registry registry;
  private Path file;

  @BeforeEach
  void start() throws Exception {
    file = dir.resolve("circus.ini");
    Files.writeString(file, "[circus]\noutput_endpoint =\n[watcher:sleeper]\ncmd = sleep 3600\n"
        + "[watcher:idle]\ncmd = sleep 3601\nautostart = false\n");
    arbiter = new Arbiter(ConfigLoader.load(file));
    arbiter.start();
    java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
    arbiter.startWatchers(started::countDown);
    assertThat(started.await(20, TimeUnit.SECONDS)).isTrue();
    registry = new Registry(arbiter);
  }

  @AfterEach
  void stop() {
    arbiter.shutdown();
    arbiter.awaitTermination();
  }

  private Map<String, Object> call(String command, Object... kv) throws Exception {
    Map<String, Object> props = new java.util.LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      props.put((String) kv[i], kv[i + 1]);
    }
    return registry.call(command, props).get(30, TimeUnit.SECONDS);
  }

  private CommandError failure(String command, Object... kv) {
    Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> call(command, kv));
    assertThat(t).as(command + " should fail").isInstanceOf(ExecutionException.class);
    assertThat(t.getCause()).isInstanceOf(CommandError.class);
    return (CommandError) t.getCause();
  }

  @Test
  void queries() throws Exception {
    assertThat(registry.names()).contains("list", "status", "add", "stats", "reloadconfig", "output");
    assertThat(call("list")).containsEntry("watchers", List.of("idle", "sleeper"));
    assertThat(call("status")).isEqualTo(Map.of("statuses", Map.of("idle", "stopped", "sleeper", "active")));
    assertThat(call("STATUS", "name", "sleeper")).containsEntry("status", "active");
    assertThat(call("numwatchers")).containsEntry("numwatchers", 2);
    assertThat(call("numprocesses")).containsEntry("numprocesses", 1);
    assertThat(call("get", "name", "sleeper", "keys", List.of("numprocesses", "cmd")))
        .isEqualTo(Map.of("options", Map.of("numprocesses", 1, "cmd", "sleep 3600")));
    assertThat(failure("get", "name", "sleeper", "keys", List.of("nope")).getMessage()).contains("'nope' option not found");
    assertThat(failure("list", "name", "nosuch").getMessage()).isEqualTo("program nosuch not found");
    assertThat(failure("listen").errno()).isEqualTo(CommandError.MESSAGE_ERROR);
    assertThat(failure("nosuchcommand").errno()).isEqualTo(CommandError.UNKNOWN_COMMAND);
  }

  @Test
  void lifecycle() throws Exception {
    assertThat(call("incr", "name", "sleeper", "nb", 2L, "waiting", true)).containsEntry("numprocesses", 3);
    assertThat((List<?>) call("list", "name", "sleeper").get("pids")).hasSize(3);
    assertThat(call("decr", "name", "sleeper", "waiting", true)).containsEntry("numprocesses", 2);
    assertThat(call("signal", "name", "sleeper", "signum", "CONT")).isEmpty();
    assertThat(failure("signal", "name", "sleeper", "signum", "NOPE").errno()).isEqualTo(CommandError.MESSAGE_ERROR);
    assertThat(call("stop", "name", "sleeper", "waiting", true)).containsEntry("info", null);
    assertThat(call("status", "name", "sleeper")).containsEntry("status", "stopped");
    assertThat(call("start", "name", "idle", "waiting", true)).containsKey("info");
    assertThat(call("status", "name", "idle")).containsEntry("status", "active");
    @SuppressWarnings("unchecked")
    Map<String, Object> info = (Map<String, Object>) call("reload", "name", "idle", "waiting", true).get("info");
    assertThat((List<?>) info.get("stopped")).hasSize(1);
    assertThat((List<?>) info.get("started")).hasSize(1);
  }

  @Test
  void changesToWhatRuns() throws Exception {
    assertThat(call("add", "name", "extra", "cmd", "sleep 3602", "start", true, "waiting", true))
        .containsKey("started");
    assertThat(call("set", "name", "extra", "options", Map.of("numprocesses", 2L), "waiting", true)).isEmpty();
    assertThat((List<?>) call("list", "name", "extra").get("pids")).hasSize(2);
    CommandError bad = failure("set", "name", "extra", "options", Map.of("warmup_delay", 1e308));
    assertThat(bad.errno()).isEqualTo(CommandError.MESSAGE_ERROR);
    assertThat(bad.getMessage()).contains("'warmup_delay' must be at most 86400 seconds");
    assertThat(call("rm", "name", "extra", "waiting", true)).isEmpty();
    assertThat(call("list")).containsEntry("watchers", List.of("idle", "sleeper"));
    Files.writeString(file, Files.readString(file) + "[watcher:more]\ncmd = sleep 3603\n");
    assertThat(call("reloadconfig", "waiting", true)).isEmpty();
    assertThat(call("status", "name", "more")).containsEntry("status", "active");
    Files.writeString(file, "[watcher:broken\n");
    assertThat(failure("reloadconfig").getMessage()).contains("the running configuration is unchanged");
    assertThat(call("list")).containsEntry("watchers", List.of("idle", "more", "sleeper"));
  }

  @Test
  void setAppliesWhatTheOptionTableSays() throws Exception {
    @SuppressWarnings("unchecked")
    List<Object> before = (List<Object>) call("list", "name", "sleeper").get("pids");
    // live: in force at once, the process untouched
    assertThat(call("set", "name", "sleeper", "options", Map.of("graceful_timeout", 7L, "respawn", false),
        "waiting", true)).isEmpty();
    assertThat(call("get", "name", "sleeper", "keys", List.of("graceful_timeout", "respawn")))
        .isEqualTo(Map.of("options", Map.of("graceful_timeout", 7.0, "respawn", false)));
    assertThat(call("list", "name", "sleeper").get("pids")).isEqualTo(before);
    // one bad value: nothing of the request applies
    CommandError bad = failure("set", "name", "sleeper", "options",
        new java.util.LinkedHashMap<>(Map.of("max_retry", 9L, "respawn", "yes")));
    assertThat(bad.getMessage()).isEqualTo("'respawn' isn't a boolean");
    assertThat(call("get", "name", "sleeper", "keys", List.of("max_retry"))).isEqualTo(Map.of("options",
        Map.of("max_retry", 5)));
    assertThat(failure("set", "name", "sleeper", "options", Map.of("numprocesses", "2")).getMessage())
        .isEqualTo("'numprocesses' isn't an integer");
    assertThat(failure("set", "name", "sleeper", "options", Map.of("singleton", true)).getMessage())
        .isEqualTo("unknown key 'singleton'");
    // hooks as Circus's clients send them; a Python callable refused with the file's rule
    assertThat(failure("set", "name", "sleeper", "options", Map.of("hooks", Map.of("before_start", "mod.fn")))
        .getMessage()).startsWith("hooks.before_start: 'mod.fn' is a Python callable, which this circusd cannot call");
    assertThat(call("set", "name", "sleeper", "options", Map.of("hooks", Map.of("after_stop", "exec:/bin/true")),
        "waiting", true)).isEmpty();
    assertThat(call("options", "name", "sleeper").get("options")).asInstanceOf(
        org.assertj.core.api.InstanceOfAssertFactories.MAP).containsEntry("hooks.after_stop", "exec:/bin/true");
    // a key whose change needs new processes: they are reloaded
    assertThat(call("set", "name", "sleeper", "options", Map.of("cmd", "sleep 3599"), "waiting", true)).isEmpty();
    @SuppressWarnings("unchecked")
    List<Object> after = (List<Object>) call("list", "name", "sleeper").get("pids");
    assertThat(after).hasSize(1).doesNotContainAnyElementsOf(before);
    // incr moved the target; a set of something else leaves it where it is
    call("incr", "name", "sleeper", "nb", 1L, "waiting", true);
    assertThat(call("set", "name", "sleeper", "options", Map.of("max_age", 0L), "waiting", true)).isEmpty();
    assertThat((List<?>) call("list", "name", "sleeper").get("pids")).hasSize(2);
    assertThat(call("options", "name", "sleeper").get("options")).asInstanceOf(
        org.assertj.core.api.InstanceOfAssertFactories.MAP).containsEntry("numprocesses", 2)
        .containsEntry("cmd", "sleep 3599");
  }

  @Test
  void statsReadProcOffTheLoop() throws Exception {
    @SuppressWarnings("unchecked")
    Map<String, Object> info = (Map<String, Object>) call("stats", "name", "sleeper").get("info");
    assertThat(info).hasSize(1);
    @SuppressWarnings("unchecked")
    Map<String, Object> one = (Map<String, Object>) info.values().iterator().next();
    assertThat(one).containsKeys("cpu", "mem", "age", "cmdline", "wid");
    assertThat(call("dstats")).containsKey("info");
    assertThat(failure("output", "name", "sleeper").getMessage()).contains("live output is off");
  }
}
