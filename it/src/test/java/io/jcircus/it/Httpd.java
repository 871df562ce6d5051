package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** bin/circus-httpd as a real process on an ephemeral loopback port; dies with the test JVM however that ends. */
final class Httpd implements AutoCloseable {
  final Process process;
  final String base;

  private Httpd(Process process, String base) {
    this.process = process;
    this.base = base;
  }

  static List<String> command(String... args) {
    List<String> cmd = new ArrayList<>(List.of("setpriv", "--pdeathsig", "KILL", "--",
        Daemon.HOME.resolve("bin/circus-httpd").toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** Starts circus-httpd for the daemon at {@code endpoint}; returns once it listens. */
  static Httpd start(String endpoint, String... extra) throws Exception {
    List<String> args = new ArrayList<>(List.of("--endpoint", endpoint));
    args.addAll(List.of(extra));
    return launch(args.toArray(new String[0]));
  }

  /** Starts circus-httpd with {@code args} (and --port 0); returns once it listens. */
  static Httpd launch(String... args) throws Exception {
    List<String> cmd = command("--port", "0");
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread t = new Thread(() -> out.lines().forEach(lines::add), "httpd-output");
    t.setDaemon(true);
    t.start();
    Pattern listening = Pattern.compile("listening on (https?://127\\.0\\.0\\.1:\\d+)");
    List<String> seen = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      String l = lines.poll(100, TimeUnit.MILLISECONDS);
      if (l != null) {
        seen.add(l);
        Matcher m = listening.matcher(l);
        if (m.find()) {
          return new Httpd(p, m.group(1));
        }
      }
      if (!p.isAlive()) {
        break;
      }
    }
    p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    throw new AssertionError("circus-httpd did not start: " + seen);
  }

  boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public void close() throws Exception {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    assertThat(process.isAlive()).isFalse();
  }
}
