package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every socket handoff convention, checked in /proc and by serving requests through the managed sockets. */
class HandoffIT extends ItBase {
  static Map<String, String> environ(long pid) throws Exception {
    Map<String, String> env = new HashMap<>();
    for (String kv : new String(Files.readAllBytes(Path.of("/proc/" + pid + "/environ")), StandardCharsets.UTF_8)
        .split("\0")) {
      int eq = kv.indexOf('=');
      if (eq > 0) {
        env.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
    }
    return env;
  }

  /** The socket inode behind a process's fd, e.g. "socket:[12345]". */
  static String inode(long pid, int fd) throws Exception {
    return Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/" + fd)).toString();
  }

  private static String served(int port) throws Exception {
    String[] body = new String[1];
    await(Duration.ofSeconds(20), "an answer on " + port, () -> {
      try {
        body[0] = httpGet(port);
        return true;
      } catch (Exception e) {
        return false;
      }
    });
    return body[0];
  }

  private long onlyChild(Daemon d) throws Exception {
    await(Duration.ofSeconds(10), "one worker", () -> d.children().size() == 1);
    return d.children().get(0);
  }

  @Test
  void systemdSocketActivation() throws Exception {
    Path w = worker("fdserver.py");
    Daemon d = start("[socket:a]\nhost = 127.0.0.1\nport = 0\n[socket:b]\nhost = 127.0.0.1\nport = 0\n"
        + "[watcher:sd]\ncmd = " + python() + " " + w + "\nhandoff = systemd\n");
    long pid = onlyChild(d);
    assertThat(served(d.port("a"))).isEqualTo("hello from pid " + pid + " via a");
    assertThat(served(d.port("b"))).isEqualTo("hello from pid " + pid + " via b");
    Map<String, String> env = environ(pid);
    assertThat(env).containsEntry("LISTEN_FDS", "2").containsEntry("LISTEN_FDNAMES", "a:b")
        .containsEntry("LISTEN_PID", Long.toString(pid));
    assertThat(inode(pid, 3)).startsWith("socket:").isEqualTo(inode(d.pid(), d.socketFd("a")));
    assertThat(inode(pid, 4)).isEqualTo(inode(d.pid(), d.socketFd("b")));
    assertThat(Proc.cmdline(pid)).as("the shim exec'd the worker in place").contains("fdserver.py")
        .doesNotContain("LISTEN_PID");
  }

  @Test
  void einhornConvention() throws Exception {
    Path w = worker("fdserver.py");
    Daemon d = start("[socket:web]\nhost = 127.0.0.1\nport = 0\n"
        + "[watcher:eh]\ncmd = " + python() + " " + w + "\nhandoff = einhorn\n");
    long pid = onlyChild(d);
    assertThat(served(d.port("web"))).isEqualTo("hello from pid " + pid + " via einhorn0");
    int fd = d.socketFd("web");
    assertThat(environ(pid)).containsEntry("EINHORN_FD_COUNT", "1").containsEntry("EINHORN_FD_0", Integer.toString(fd))
        .doesNotContainKey("LISTEN_FDS");
    assertThat(inode(pid, fd)).isEqualTo(inode(d.pid(), fd));
  }

  @Test
  void pythonStandardLibraryServerOnCircusArgv() throws Exception {
    Path w = worker("fdserver.py");
    Daemon d = start("[socket:web]\nhost = 127.0.0.1\nport = 0\n"
        + "[watcher:py]\ncmd = " + python() + " " + w + " $(circus.sockets.web)\nuse_sockets = true\n");
    long pid = onlyChild(d);
    assertThat(served(d.port("web"))).isEqualTo("hello from pid " + pid + " via argv");
    assertThat(environ(pid)).doesNotContainKeys("LISTEN_FDS", "EINHORN_FD_COUNT");
  }

  @Test
  void gunicornServesAWsgiAppOnTheManagedSocket() throws Exception {
    boolean installed = Files.isExecutable(Path.of("/usr/bin/gunicorn"));
    assumeTrue(installed || System.getenv("CI") != null, "gunicorn not installed (.ci/run installs it)");
    Path app = worker("wsgi_app.py");
    Daemon d = start("[socket:web]\nhost = 127.0.0.1\nport = 0\n"
        + "[watcher:gunicorn]\ncmd = /usr/bin/gunicorn --workers 2 --chdir " + app.getParent()
        + " --bind fd://$(circus.sockets.web) wsgi_app:application\nuse_sockets = true\n");
    String body = served(d.port("web"));
    assertThat(body).startsWith("hello from pid ").endsWith(" via gunicorn");
    long master = d.children().get(0);
    await(Duration.ofSeconds(20), "gunicorn's 2 workers", () -> Proc.children(master).size() == 2);
    // gunicorn dups the inherited fd: the same listening socket, possibly at another number
    assertThat(Proc.fds(master).values()).contains(inode(d.pid(), d.socketFd("web")));
  }

  @Test
  void chaussetteJavaTakesItsSocketFromListenFds() throws Exception {
    Daemon d = start("[socket:admin]\nhost = 127.0.0.1\nport = 0\n[socket:web]\nhost = 127.0.0.1\nport = 0\n"
        + "[watcher:jvm]\ncmd = " + Daemon.HOME.resolve("bin/chaussette-java") + " --threads 1 systemd://web\n"
        + "handoff = systemd\ncopy_env = true\n");
    long pid = onlyChild(d);
    assertThat(served(d.port("web"))).isEqualTo("hello from pid " + pid);
    assertThat(environ(pid)).containsEntry("LISTEN_FDNAMES", "admin:web").containsEntry("LISTEN_PID", Long.toString(pid));
  }
}
