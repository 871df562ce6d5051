package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The product's promise: Java workers on a socket circusd owns are reloaded and restarted under load without
 * a failed request, because the listening socket and its accept queue never close.
 */
class ZeroDropIT extends ItBase {
  /**
   * Clients of each of Load's three kinds: 4 that keep connections alive and never retry, so a worker that closes
   * a connection under a request it was sent fails one (Jetty's own graceful shutdown did, about once per
   * rolling reload of 4 workers).
   */
  private static final int CLIENTS = 12;

  private String endpoint;

  private Daemon webDaemon(String extra) throws Exception {
    return webDaemon("--threads 2 fd://$(circus.sockets.web)", extra);
  }

  private Daemon webDaemon(String chaussetteArgs, String extra) throws Exception {
    Daemon d = start(String.join("\n",
        "[socket:web]",
        "host = 127.0.0.1",
        "port = 0",
        "[watcher:web]",
        "cmd = " + Daemon.HOME.resolve("bin/chaussette-java") + " " + chaussetteArgs,
        "numprocesses = 4",
        "use_sockets = true",
        "copy_env = true",
        "graceful_timeout = 10",
        extra,
        ""));
    endpoint = d.endpoint();
    await(Duration.ofSeconds(30), "4 workers answering", () -> {
      try {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 40 && seen.size() < 4; i++) {
          seen.add(httpGet(d.port("web")));
        }
        return seen.size() == 4;
      } catch (Exception e) {
        return false;
      }
    });
    return d;
  }

  private String circusctl(String... args) throws Exception {
    return circusctlAt(endpoint, args);
  }

  /** Runs {@code action} in the middle of a load and checks that nothing failed and new workers serve. */
  private void underLoad(Daemon d, String... action) throws Exception {
    Set<Long> before = new HashSet<>(d.children());
    try (Load load = new Load(d.port("web"), CLIENTS)) {
      load.awaitMore(300, Duration.ofSeconds(20));
      long began = load.elapsedMs();
      circusctl(action);
      String when = " (the command ran from " + began + " to " + load.elapsedMs() + " ms)";
      long servedAfter = load.ok.get();
      load.awaitMore(300, Duration.ofSeconds(30));
      load.close();
      assertThat(load.failed.get()).as(String.join(" ", action) + " under load: " + load + when).isZero();
      assertThat(load.ok.get()).as(load.toString()).isGreaterThan(servedAfter);
      Set<Long> now = new HashSet<>(d.children());
      now.retainAll(before);
      assertThat(now).as("every worker replaced by " + String.join(" ", action)).isEmpty();
      System.out.println(String.join(" ", action) + ": " + load);
    }
  }

  /**
   * Not only Java: gunicorn masters (each with 2 sync workers) on the same socket, their readiness their own
   * sd_notify READY=1 (gunicorn sends it when NOTIFY_SOCKET is set), rolled and restarted under load.
   */
  @Test
  void gunicornMastersRollOnTheirOwnReadyNotifyWithoutAFailedRequest() throws Exception {
    boolean installed = Files.isExecutable(java.nio.file.Path.of("/usr/bin/gunicorn"));
    org.junit.jupiter.api.Assumptions.assumeTrue(installed || System.getenv("CI") != null,
        "gunicorn not installed (.ci/run installs it)");
    java.nio.file.Path app = worker("wsgi_app.py");
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[watcher:web]",
        "cmd = /usr/bin/gunicorn --workers 2 --chdir " + app.getParent()
            + " --bind fd://$(circus.sockets.web) wsgi_app:application",
        "numprocesses = 2", "use_sockets = true", "readiness = notify", "graceful_timeout = 10", ""));
    endpoint = d.endpoint();
    await(Duration.ofSeconds(30), "2 gunicorn masters ready", () -> d.logText().split("is ready after").length - 1 >= 2);
    underLoad(d, "reload", "web", "--sequential", "--waiting");
    assertThat(d.logText().split("is ready after").length - 1).as("each new master reported READY=1").isGreaterThanOrEqualTo(4);
    underLoad(d, "restart", "web", "--waiting");
  }

  @Test
  void reloadsAndRestartLoseNoRequest() throws Exception {
    Daemon d = webDaemon("");
    underLoad(d, "reload", "web", "--sequential", "--waiting");
    underLoad(d, "reload", "web", "--waiting");
    underLoad(d, "restart", "web", "--waiting");
  }

  @Test
  void servletWorkersOnJettyToo() throws Exception {
    Daemon d = webDaemon("--backend servlet --threads 2 fd://$(circus.sockets.web)", "");
    underLoad(d, "reload", "web", "--sequential", "--waiting");
    underLoad(d, "reload", "web", "--waiting");
    underLoad(d, "restart", "web", "--waiting");
  }

  @Test
  void killMinus9CostsOnlyTheRequestsInFlight() throws Exception {
    Daemon d = webDaemon("");
    try (Load load = new Load(d.port("web"), CLIENTS)) {
      load.awaitMore(300, Duration.ofSeconds(20));
      long victim = d.children().get(0);
      ProcessHandle.of(victim).orElseThrow().destroyForcibly();
      load.awaitMore(500, Duration.ofSeconds(30));
      load.close();
      assertThat(load.failed.get()).as(load.toString()).isLessThanOrEqualTo(CLIENTS);
      System.out.println("kill -9 under load: " + load);
    }
    await(Duration.ofSeconds(10), "4 workers again", () -> d.children().size() == 4);
  }
}
