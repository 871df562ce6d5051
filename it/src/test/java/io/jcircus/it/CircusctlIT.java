package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** bin/circusctl as people run it: a separate process per command against a real circusd. */
class CircusctlIT extends ItBase {
  static final Path CTL = Daemon.HOME.resolve("bin/circusctl");

  record Run(int code, String out, String err) {
    @Override
    public String toString() {
      return "exit " + code + "\nstdout:\n" + out + "\nstderr:\n" + err;
    }
  }

  private String endpoint;

  private Daemon daemon(String config) throws Exception {
    Daemon d = start(config);
    endpoint = d.endpoint();
    return d;
  }

  private ProcessBuilder ctl(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(CTL.toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("CIRCUSCTL_ENDPOINT", endpoint == null ? "tcp://127.0.0.1:9" : endpoint);
    pb.environment().put("HOME", dir.toString()); // no default CURVE keys, history in the temp dir
    pb.environment().put("XDG_CONFIG_HOME", dir.resolve("xdg").toString());
    pb.environment().put("PATH", CTL.getParent() + ":" + System.getenv("PATH"));
    return pb;
  }

  Run run(String... args) throws Exception {
    Process p = ctl(args).start();
    p.getOutputStream().close();
    var err = new java.util.concurrent.CompletableFuture<String>();
    Thread t = new Thread(() -> {
      try {
        err.complete(new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
      } catch (Exception e) {
        err.complete(e.toString());
      }
    });
    t.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("circusctl " + String.join(" ", args) + " ends").isTrue();
    t.join(5000);
    return new Run(p.exitValue(), out.strip(), err.get().strip());
  }

  Run ok(String... args) throws Exception {
    Run r = run(args);
    assertThat(r.code).as("circusctl " + String.join(" ", args) + "\n" + r).isZero();
    return r;
  }

  @Test
  void everyCommandPrintsWhatCircusctlPrints() throws Exception {
    int port = freePort();
    Daemon d = daemon("[socket:web]\nhost = 127.0.0.1\nport = " + port + "\n"
        + "[watcher:sleeper]\ncmd = sleep 1000\nnumprocesses = 2\n"
        + "[watcher:web]\ncmd = sleep 1001\nuse_sockets = true\n"
        + "[watcher:single]\ncmd = sleep 1002\nsingleton = true\n");
    assertThat(ok("list").out).isEqualTo("single,sleeper,web");
    String pids = ok("list", "sleeper").out;
    assertThat(pids).matches("\\d+,\\d+");
    assertThat(ok("status").out).isEqualTo("single: active\nsleeper: active\nweb: active");
    assertThat(ok("status", "sleeper").out).isEqualTo("active");
    assertThat(ok("numwatchers").out).isEqualTo("3");
    assertThat(ok("numprocesses").out).isEqualTo("4");
    assertThat(ok("numprocesses", "sleeper").out).isEqualTo("2");
    assertThat(ok("listsockets").out).matches("\\d+:socket 'web' at 127\\.0\\.0\\.1:" + port);
    assertThat(ok("globaloptions", "endpoint").out).isEqualTo("endpoint: " + endpoint);
    assertThat(ok("get", "sleeper", "numprocesses", "cmd").out).isEqualTo("cmd: sleep 1000\nnumprocesses: 2");
    assertThat(ok("options", "sleeper").out).contains("cmd: sleep 1000\n", "copy_env: False\n", "numprocesses: 2\n",
        "graceful_timeout: 30.0\n");
    String stats = ok("stats", "sleeper").out;
    assertThat(stats).startsWith("sleeper:\n");
    for (String pid : pids.split(",")) {
      assertThat(stats).containsPattern("(?m)^" + pid + ": " + pid + "  sleep \\S+ 0 [\\d.]+[BKMG] [\\d.]+[BKMG] [\\d.]+ [\\d.]+ \\d+:\\d\\d\\.\\d\\d$");
    }
    assertThat(ok("stats").out).contains("single:\n", "sleeper:\n", "web:\n");
    assertThat(ok("dstats").out).startsWith("Main Process:\n" + d.pid() + "  java ");

    // incr/decr: "ok" without waiting, the new number with it; a singleton refuses
    assertThat(ok("incr", "sleeper", "--waiting").out).isEqualTo("3");
    assertThat(ok("decr", "sleeper", "2", "--waiting").out).isEqualTo("1");
    assertThat(ok("incr", "sleeper").out).isEqualTo("ok");
    assertThat(ok("incr", "single").out).isEqualTo("This watcher is a Singleton - not changing the number of processes");
    await(Duration.ofSeconds(5), "2 sleepers", () -> {
      try {
        return run("list", "sleeper").out.split(",").length == 2;
      } catch (Exception e) {
        return false;
      }
    });

    // set converts types on the client side, env and stop_signal names included (circusctl 0.19 crashes on env)
    assertThat(ok("set", "sleeper", "env", "A=1,B=two", "stop_signal", "QUIT", "graceful_timeout", "3").out)
        .isEqualTo("ok");
    assertThat(ok("get", "sleeper", "env", "stop_signal", "graceful_timeout").out)
        .isEqualTo("env: A=1,B=two\ngraceful_timeout: 3.0\nstop_signal: 3");

    // signal with flags anywhere; kill sends the pid as a number
    assertThat(ok("signal", "web", "--children", "CONT").out).isEqualTo("ok");
    String webPid = ok("list", "web").out;
    assertThat(ok("kill", "web", webPid, "--signum", "KILL", "--graceful_timeout", "1", "--waiting").out)
        .isEqualTo("ok");
    await(Duration.ofSeconds(5), "web replaced", () -> {
      try {
        String now = run("list", "web").out;
        return !now.isEmpty() && !now.equals(webPid);
      } catch (Exception e) {
        return false;
      }
    });

    // add with a command that has -flags, started; rm --nostop really leaves its process running
    assertThat(ok("add", "--start", "--waiting", "-o", "numprocesses=2", "py", "/usr/bin/python3", "-c",
        "import time; time.sleep(300)").out).isEqualTo("ok");
    String pyPids = ok("list", "py").out;
    assertThat(pyPids.split(",")).hasSize(2);
    assertThat(ok("get", "py", "cmd", "numprocesses").out)
        .isEqualTo("cmd: /usr/bin/python3 -c 'import time; time.sleep(300)'\nnumprocesses: 2");
    assertThat(ok("rm", "py", "--nostop", "--waiting").out).isEqualTo("ok");
    assertThat(ok("list").out).isEqualTo("single,sleeper,web");
    for (String p : pyPids.split(",")) {
      long pid = Long.parseLong(p);
      assertThat(Proc.alive(pid)).as("--nostop left " + pid + " running").isTrue();
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
    // and circusd no longer manages them: nothing is respawned for a removed watcher
    await(Duration.ofSeconds(5), "the abandoned processes gone", () -> java.util.Arrays.stream(pyPids.split(","))
        .noneMatch(p -> Proc.alive(Long.parseLong(p))));
    Thread.sleep(500);
    assertThat(d.children().stream().filter(c -> Proc.cmdline(c).contains("time.sleep(300)")).toList())
        .as("no respawn of a removed watcher").isEmpty();

    // lifecycle with --match
    assertThat(ok("stop", "sl*", "--waiting").out).isEqualTo("ok");
    assertThat(ok("status", "sleeper").out).isEqualTo("stopped");
    assertThat(ok("start", "^sl", "--match", "regex", "--waiting").out).isEqualTo("ok");
    assertThat(ok("status", "sleeper").out).isEqualTo("active");
    assertThat(ok("restart", "single", "--match", "simple", "--waiting").out).isEqualTo("ok");
    assertThat(ok("reload", "web", "--sequential", "--waiting").out).isEqualTo("ok");
  }

  @SuppressWarnings("unchecked")
  @Test
  void jsonOutputAndExitCodes() throws Exception {
    daemon("[watcher:sleeper]\ncmd = sleep 1000\n");
    Run json = ok("--json", "status");
    Map<String, Object> reply = (Map<String, Object>) io.jcircus.protocol.Json.parse(json.out);
    assertThat(reply).containsEntry("status", "ok").containsEntry("statuses", Map.of("sleeper", "active"));
    assertThat(reply.get("id")).asString().matches("[0-9a-f]{32}");
    assertThat(json.out).contains("\"status\": \"ok\", \"time\": "); // Python's separators
    Run pretty = ok("--json", "--prettify", "list");
    assertThat(pretty.out).startsWith("{\n  \"id\": ").contains("\n  \"watchers\": [\n    \"sleeper\"\n  ]");

    Run error = run("stop", "nosuch");
    assertThat(error.code).as(error.toString()).isEqualTo(3);
    assertThat(error.err).isEqualTo("error: program nosuch not found");
    Run jsonError = run("--json", "signal", "sleeper", "NOPE");
    assertThat(jsonError.code).isEqualTo(3);
    assertThat((Map<String, Object>) io.jcircus.protocol.Json.parse(jsonError.out))
        .containsEntry("status", "error").containsEntry("errno", 3L);

    Run usage = run("incr");
    assertThat(usage.code).as(usage.toString()).isEqualTo(2);
    assertThat(usage.err).contains("Missing required parameter", "NAME");
    assertThat(run("nosuchcommand").code).isEqualTo(2);
    assertThat(run("set", "sleeper", "numprocesses", "many").code).isEqualTo(2);

    long t0 = System.nanoTime();
    Run timeout = run("--endpoint", "tcp://127.0.0.1:" + freePort(), "--timeout", "1", "status");
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(timeout.code).as(timeout.toString()).isEqualTo(1);
    assertThat(timeout.err).contains("Timed out");
    assertThat(ms).isLessThan(5000);

    Run version = ok("--version");
    assertThat(version.out).startsWith("circusctl ");
    Run help = ok("--help");
    assertThat(help.out).contains("Usage: circusctl", "reloadconfig", "listsockets", "keygen");
  }

  @Test
  void listenStreamsEvents() throws Exception {
    daemon("[watcher:sleeper]\ncmd = sleep 1000\n");
    Process listen = ctl("listen", "watcher.sleeper.").redirectError(dir.resolve("listen.err").toFile()).start();
    LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(listen.getInputStream(), StandardCharsets.UTF_8))) {
        String l;
        while ((l = r.readLine()) != null) {
          lines.add(l);
        }
      } catch (Exception e) {
        // process ended
      }
    });
    reader.setDaemon(true);
    reader.start();
    try {
      // the SUB socket needs a moment to subscribe; keep poking until an event arrives
      String spawn = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (spawn == null && System.nanoTime() < deadline) {
        ok("incr", "sleeper", "--waiting");
        String l;
        while ((l = lines.poll(300, TimeUnit.MILLISECONDS)) != null) {
          if (l.startsWith("watcher.sleeper.spawn: ")) {
            spawn = l;
            break;
          }
        }
      }
      assertThat(spawn).as("a spawn event; config:\n" + Files.readString(dir.resolve("circus.ini"))
          + "\nlisten's stderr: " + Files.readString(dir.resolve("listen.err"))
          + "\nother lines: " + lines).isNotNull();
      assertThat(spawn).matches("watcher\\.sleeper\\.spawn: \\{\"process_pid\": \\d+, \"time\": [\\d.]+\\}");
    } finally {
      listen.destroy();
      listen.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void shellCompletesAndRemembers() throws Exception {
    daemon("[watcher:sleeper]\ncmd = sleep 1000\n[watcher:other]\ncmd = sleep 1001\n");
    Path driver = dir.resolve("pty_drive.py");
    try (var in = getClass().getResourceAsStream("/clients/pty_drive.py")) {
      Files.copy(in, driver);
    }
    String steps = "[[\"expect\", \"circusctl \", 20], [\"expect\", \"sleeper: active\"], [\"expect\", \"(circusctl) \"],"
        // command completion: one match completes, several are listed
        + "[\"send\", \"numw\\t\"], [\"expect\", \"numwatchers\"], [\"send\", \"\\r\"], [\"expect\", \"2\"],"
        + "[\"expect\", \"(circusctl) \"],"
        + "[\"send\", \"sta\\t\"], [\"sleep\", 0.5], [\"send\", \"\\t\"], [\"expect\", \"status\"],"
        + "[\"send\", \"\\u0015\"],"
        // watcher names come from the daemon
        + "[\"send\", \"status sle\\t\"], [\"expect\", \"status sleeper\"], [\"send\", \"\\r\"], [\"expect\", \"active\"],"
        + "[\"expect\", \"(circusctl) \"],"
        // options complete too
        + "[\"send\", \"reload --seq\\t\"], [\"expect\", \"--sequential\"], [\"send\", \"\\u0015\"],"
        // history: up-arrow recalls the last command
        + "[\"send\", \"list\\r\"], [\"expect\", \"other,sleeper\"], [\"expect\", \"(circusctl) \"],"
        + "[\"send\", \"\\u001bOA\"], [\"sleep\", 0.3], [\"send\", \"\\r\"], [\"expect\", \"other,sleeper\"],"
        + "[\"expect\", \"(circusctl) \"],"
        // listen inside the shell until Ctrl-C, then the shell goes on
        + "[\"send\", \"listen watcher.other.\\r\"], [\"expect\", \"listening on\"], [\"sleep\", 0.5],"
        + "[\"run\", \"" + CTL + "\", \"--endpoint\", \"" + endpoint + "\", \"incr\", \"other\", \"--waiting\"],"
        + "[\"expect\", \"watcher.other.spawn\", 15], [\"send\", \"\\u0003\"], [\"expect\", \"(circusctl) \"],"
        + "[\"send\", \"status other\\r\"], [\"expect\", \"active\"], [\"expect\", \"(circusctl) \"],"
        + "[\"send\", \"exit\\r\"]]";
    // Run as CI runs it (under nohup or a job runner SIGINT is ignored, and exec keeps it ignored): the driver
    // must give the shell a terminal's default dispositions, or Ctrl-C never ends `listen`.
    ProcessBuilder pb = new ProcessBuilder(python(), "-c", "import os, signal, sys\n"
        + "signal.signal(signal.SIGINT, signal.SIG_IGN)\nos.execv(sys.argv[1], sys.argv[1:])",
        python(), driver.toString(), steps, "--", CTL.toString()).redirectErrorStream(true);
    pb.environment().putAll(ctl().environment());
    Process proc = pb.start();
    String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(proc.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(proc.exitValue()).as(out).isZero();

    // history survives the session, and a new session recalls it
    Path history = dir.resolve(".circusctl_history");
    assertThat(Files.readString(history)).contains("status sleeper", "list");
    String again = "[[\"expect\", \"(circusctl) \", 20], [\"send\", \"\\u001bOA\"], [\"expect\", \"exit\"],"
        + "[\"send\", \"\\u001bOA\"], [\"expect\", \"status other\"],"
        + "[\"send\", \"\\u0015exit\\r\"]]";
    ProcessBuilder pb2 = new ProcessBuilder(python(), driver.toString(), again, "--", CTL.toString()).redirectErrorStream(true);
    pb2.environment().putAll(ctl().environment());
    Process proc2 = pb2.start();
    String out2 = new String(proc2.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(proc2.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(proc2.exitValue()).as(out2).isZero();
  }

  @Test
  void bashCompletionAsksTheDaemon() throws Exception {
    daemon("[watcher:sleeper]\ncmd = sleep 1000\n[watcher:slow]\ncmd = sleep 1001\n");
    Path script = dir.resolve("c.bash");
    Files.writeString(script, ok("completion", "bash").out + "\n");
    String probe = "source " + script + "\n"
        + "complete_line() { COMP_WORDS=($1); COMP_CWORD=$2; COMPREPLY=(); _circusctl; echo \"${COMPREPLY[*]}\"; }\n"
        + "complete_line 'circusctl sta' 1\n"
        + "complete_line 'circusctl status sl' 2\n"
        + "complete_line 'circusctl reload --s' 2\n"
        + "complete_line 'circusctl signal sleeper H' 3\n";
    ProcessBuilder pb = new ProcessBuilder("bash", "-c", probe).redirectErrorStream(true);
    pb.environment().putAll(ctl().environment());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(out.lines().toList()).as(out).containsExactly("start stats status", "sleeper slow", "--sequential",
        "HUP");
    assertThat(ok("completion", "zsh").out).contains("bashcompinit", "complete -F _circusctl circusctl");
  }

  @Test
  void keygenWritesPrivateKeyFilesAndCurveGuardsTheDaemon() throws Exception {
    Path keys = dir.resolve("keys");
    Path clients = dir.resolve("authorized");
    Files.createDirectories(clients);
    ok("keygen", "--dir", keys.toString(), "server");
    ok("keygen", "--dir", keys.toString(), "alice");
    ok("keygen", "--dir", keys.toString(), "mallory");
    for (String f : new String[] {"server.key", "server.key_secret", "alice.key", "alice.key_secret"}) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keys.resolve(f)))).as(f)
          .isEqualTo("rw-------");
    }
    assertThat(Files.readString(keys.resolve("alice.key"))).contains("public-key = \"").doesNotContain("secret-key");
    assertThat(run("keygen", "--dir", keys.toString(), "alice").code).as("no overwrite without --force").isEqualTo(1);
    Files.copy(keys.resolve("alice.key"), clients.resolve("alice.key"));

    daemon("curve_secret_key = " + keys.resolve("server.key_secret") + "\ncurve_authorized_keys = " + clients + "\n"
        + "[watcher:sleeper]\ncmd = sleep 1000\n");
    String server = "--curve-server-key=" + keys.resolve("server.key");
    assertThat(ok(server, "--curve-key=" + keys.resolve("alice.key_secret"), "status").out)
        .isEqualTo("sleeper: active");
    Run refused = run("--timeout", "3", server, "--curve-key=" + keys.resolve("mallory.key_secret"), "status");
    assertThat(refused.code).as(refused.toString()).isEqualTo(1);
    assertThat(refused.err).contains("refused this client's CURVE key");
    Run plain = run("--timeout", "2", "status");
    assertThat(plain.code).as(plain.toString()).isEqualTo(1);

    // a key added to the directory works at once, without a restart
    Files.copy(keys.resolve("mallory.key"), clients.resolve("mallory.key"));
    assertThat(ok(server, "--curve-key=" + keys.resolve("mallory.key_secret"), "list").out).isEqualTo("sleeper");
    // the default location is used when no option is given
    Path def = dir.resolve("xdg/jcircus/curve");
    Files.createDirectories(def);
    Files.copy(keys.resolve("server.key"), def.resolve("server.key"));
    Files.copy(keys.resolve("alice.key_secret"), def.resolve("client.key_secret"));
    assertThat(ok("numwatchers").out).isEqualTo("1");
  }
}
