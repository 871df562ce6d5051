package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The protocol as real Circus clients speak it: pyzmq on libzmq (Debian's python3-zmq, installed by .ci/run). */
class PyzmqClientIT extends ItBase {
  @Test
  void pyzmqClientIsAnsweredLikeByCircus() throws Exception {
    assumeTrue(new ProcessBuilder("/usr/bin/python3", "-c", "import zmq").start().waitFor() == 0
        || System.getenv("CI") != null, "python3-zmq not installed");
    Daemon d = start("[watcher:sleeper]\ncmd = sleep 1000\n");
    String cfg = Files.readString(d.config);
    Matcher e = Pattern.compile("\\nendpoint = (\\S+)").matcher(cfg);
    Matcher p = Pattern.compile("pubsub_endpoint = (\\S+)").matcher(cfg);
    assertThat(e.find() && p.find()).isTrue();
    Path script = dir.resolve("pyzmq_client.py");
    try (var in = getClass().getResourceAsStream("/clients/pyzmq_client.py")) {
      Files.copy(in, script);
    }
    Process proc = new ProcessBuilder("/usr/bin/python3", script.toString(), e.group(1), p.group(1))
        .redirectErrorStream(true).start();
    String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(proc.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(proc.exitValue()).as(out + "\n" + d.logText()).isZero();
    assertThat(out).contains("all checks passed");
  }
}
