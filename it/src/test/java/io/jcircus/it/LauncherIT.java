package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** bin/circusd itself: runs warning-free on JDK 17 and JDK 25, and detaches with --daemon. */
class LauncherIT extends ItBase {

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"java.home", "/usr/lib/jvm/temurin-25-jdk-amd64"})
  void launcherRunsWarningFree(String jdk) throws Exception {
    Path home = jdk.equals("java.home") ? Path.of(System.getProperty("java.home")) : Path.of(jdk);
    Path java = home.resolve("bin/java");
    assumeTrue(Files.isExecutable(java), "no JDK at " + home);
    Path cfg = dir.resolve("c.ini");
    Files.writeString(cfg, endpoints() + "[socket:s]\nhost = 127.0.0.1\nport = 0\n[watcher:w]\ncmd = sleep 1000\n"
        + "[watcher:chaussette]\ncmd = " + Daemon.HOME.resolve("bin/chaussette-java") + " fd://$(circus.sockets.s)\n"
        + "use_sockets = true\ncopy_env = true\n"
        // the servlet backend wraps the inherited fd for Jetty through the JDK's own channel class
        + "[watcher:servlet]\ncmd = " + Daemon.HOME.resolve("bin/chaussette-java") + " --backend servlet"
        + " fd://$(circus.sockets.s)\nuse_sockets = true\ncopy_env = true\n");
    Path out = dir.resolve("out.txt");
    ProcessBuilder pb = new ProcessBuilder(Daemon.HOME.resolve("bin/circusd").toString(), cfg.toString())
        .redirectErrorStream(true).redirectOutput(out.toFile());
    pb.environment().put("JCIRCUS_JAVA", java.toString());
    Process p = pb.start();
    try {
      await(Duration.ofSeconds(30), "circusd running", () -> read(out).contains("circusd running"));
      await(Duration.ofSeconds(30), "both chaussette-java workers serving",
          () -> read(out).split("chaussette-java \\d+ serving", -1).length - 1 == 2);
      Thread.sleep(500);
      p.destroy(); // SIGTERM
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isZero();
      assertThat(read(out)).doesNotContain("WARNING").contains("circusd stopped");
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * A fresh JVM's first collection is its slow one (it first touches survivor and old space): chaussette-java has
   * it at the end of its warm-up, before it accepts, so it does not stall the first clients of a new worker.
   */
  @org.junit.jupiter.api.Test
  void chaussetteCollectsOnceBeforeItServes() throws Exception {
    int port = freePort();
    Path out = dir.resolve("chaussette.txt");
    ProcessBuilder pb = new ProcessBuilder(Daemon.HOME.resolve("bin/chaussette-java").toString(),
        "tcp://127.0.0.1:" + port).redirectErrorStream(true).redirectOutput(out.toFile());
    pb.environment().put("CHAUSSETTE_OPTS", "-Xlog:gc:stdout");
    Process p = pb.start();
    try {
      await(Duration.ofSeconds(30), "chaussette-java serving", () -> read(out).contains("serving on"));
      assertThat(httpGet(port)).startsWith("hello from pid " + p.pid());
      String text = read(out);
      int gc = text.indexOf("Pause Full (System.gc())");
      assertThat(gc).as(text).isPositive().isLessThan(text.indexOf("serving on"));
      assertThat(text).containsPattern("serving on .*first GC \\d+ ms");
      p.destroy();
      assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isEqualTo(143);
    } finally {
      p.destroyForcibly();
    }
  }

  @org.junit.jupiter.api.Test
  void daemonModeDetachesAndWritesThePidfile() throws Exception {
    Path cfg = dir.resolve("d.ini");
    Path pidfile = dir.resolve("d.pid");
    Path log = dir.resolve("d.log");
    Files.writeString(cfg, endpoints() + "[watcher:w]\ncmd = sleep 1000\n");
    Process p = new ProcessBuilder(Daemon.HOME.resolve("bin/circusd").toString(), "--daemon",
        "--pidfile=" + pidfile, "--log-output=" + log, cfg.toString()).redirectErrorStream(true).start();
    String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(said).isZero();
    await(Duration.ofSeconds(30), "pidfile", () -> Files.exists(pidfile) && read(log).contains("circusd running"));
    long pid = Long.parseLong(Files.readString(pidfile).strip());
    try {
      assertThat(Proc.status(pid, "NSsid")).as("own session").isEqualTo(Long.toString(pid));
      assertThat(Proc.children(pid)).hasSize(2); // the watcher and the guardian
      Proc.kill(pid, 15);
      await(Duration.ofSeconds(20), "daemon exit", () -> !Proc.alive(pid));
      assertThat(pidfile).doesNotExist();
    } finally {
      if (Proc.alive(pid)) {
        Proc.kill(pid, 9);
      }
    }
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (Exception e) {
      return "";
    }
  }
}
