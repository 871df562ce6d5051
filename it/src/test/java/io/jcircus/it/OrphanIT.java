package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A test JVM killed mid-run leaves nothing behind: not its circusd, not circusd's children. */
class OrphanIT extends ItBase {
  @Test
  void aKilledTestJvmTakesItsDaemonAndChildrenWithIt() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process host = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        "-Djcircus.home=" + Daemon.HOME, DaemonHost.class.getName(), dir.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    List<Long> pids = new ArrayList<>();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(host.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      assertThat(line).as("the host's circusd").isNotNull().startsWith("daemon ");
      for (String p : line.substring("daemon ".length()).split(" ")) {
        pids.add(Long.parseLong(p));
      }
      assertThat(pids).hasSize(3); // circusd and its two sleepers
      assertThat(pids).allMatch(Proc::alive);
      host.destroyForcibly(); // SIGKILL: no finally, no shutdown hook, no @AfterEach
      assertThat(host.waitFor(10, TimeUnit.SECONDS)).isTrue();
      await(Duration.ofSeconds(10), "circusd and its children gone after the test JVM's SIGKILL",
          () -> pids.stream().noneMatch(Proc::alive));
    } finally {
      host.destroyForcibly();
      for (long p : pids) {
        if (Proc.alive(p)) {
          Proc.kill(p, 9);
        }
      }
    }
  }
}
