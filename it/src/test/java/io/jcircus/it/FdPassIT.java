package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** circusd hands its sockets to processes it did not start, over SCM_RIGHTS (fdpass). */
class FdPassIT extends ItBase {
  private Process outsider;

  @AfterEach
  void reapOutsider() throws Exception {
    if (outsider != null && outsider.isAlive()) {
      outsider.destroy(); // SIGTERM: it drains and leaves its socket's connection table (/dev/shm) as it goes
      if (!outsider.waitFor(10, TimeUnit.SECONDS)) {
        outsider.destroyForcibly();
        outsider.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  private Process chaussette(List<String> prefix, String uri, String... options) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(prefix);
    cmd.addAll(List.of(Daemon.HOME.resolve("bin/chaussette-java").toString(), "--threads", "1"));
    cmd.addAll(List.of(options));
    cmd.add(uri);
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("outsider.log").toFile())
        .start();
  }

  @Test
  void aJvmStartedElsewhereFetchesTheSocketAndServes() throws Exception {
    Daemon d = start("fdpass_socket = fd.sock\n[socket:web]\nhost = 127.0.0.1\nport = 0\n"
        + "[watcher:idle]\ncmd = sleep 1000\n");
    Path sock = dir.resolve("fd.sock");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock))).isEqualTo("rw-------");
    outsider = chaussette(List.of(), "fdpass://" + sock + "#web");
    assertThat(outsiderAnswer(d)).isEqualTo("hello from pid " + outsider.pid());
    assertThat(d.children()).as("not one of circusd's children").doesNotContain(outsider.pid());
    assertThat(d.logText()).contains("fdpass: handing 'web'");

    if (root()) {
      // another user cannot even open the socket file (0600)
      Process nobody = chaussette(List.of("setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"),
          "fdpass://" + sock + "#web");
      assertThat(nobody.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(nobody.exitValue()).isNotZero();
      assertThat(Files.readString(dir.resolve("outsider.log"), StandardCharsets.UTF_8)).contains("Permission denied");
    }
  }

  @Test
  void aServletJvmStartedElsewhereFetchesTheSocketToo() throws Exception {
    Daemon d = start("fdpass_socket = fd.sock\n[socket:web]\nhost = 127.0.0.1\nport = 0\n"
        + "[watcher:idle]\ncmd = sleep 1000\n");
    outsider = chaussette(List.of(), "fdpass://" + dir.resolve("fd.sock") + "#web", "--backend", "servlet");
    assertThat(outsiderAnswer(d)).isEqualTo("hello from pid " + outsider.pid());
    assertThat(Files.readString(dir.resolve("outsider.log"))).contains("Jetty");
  }

  /** The first answer on circusd's socket once the outsider serves (fails at once if it exited). */
  private String outsiderAnswer(Daemon d) throws Exception {
    String[] body = new String[1];
    await(Duration.ofSeconds(30), "the outsider serving", () -> {
      try {
        body[0] = httpGet(d.port("web"));
        return true;
      } catch (Exception e) {
        return !outsider.isAlive() && fail();
      }
    });
    return body[0];
  }

  private boolean fail() {
    try {
      throw new AssertionError("the outsider exited: " + Files.readString(dir.resolve("outsider.log")));
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void aPeerWhoseUidIsNotAllowedIsRefused() throws Exception {
    int me = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    int other = me == 65534 ? 65533 : 65534;
    start("fdpass_socket = fd.sock\nfdpass_uids = " + other + "\n[socket:web]\nhost = 127.0.0.1\nport = 0\n"
        + "[watcher:idle]\ncmd = sleep 1000\n");
    Process p = chaussette(List.of(), "fdpass://" + dir.resolve("fd.sock") + "#web");
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isNotZero();
    assertThat(Files.readString(dir.resolve("outsider.log"))).contains("uid " + me + " may not fetch sockets here");
  }
}
