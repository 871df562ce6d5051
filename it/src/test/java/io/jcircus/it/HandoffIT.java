package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
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

  /** GET / over the unix socket at {@code path}; the body of a 200 reply. */
  private static String httpGetUnix(Path path) throws Exception {
    try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
      ch.connect(java.net.UnixDomainSocketAddress.of(path));
      ch.write(java.nio.ByteBuffer.wrap("GET / HTTP/1.0\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(4096);
      while (ch.read(buf) > 0) {
        out.write(buf.array(), 0, buf.position());
        buf.clear();
      }
      String resp = out.toString(java.nio.charset.StandardCharsets.US_ASCII);
      assertThat(resp).startsWith("HTTP/1.");
      return resp.substring(resp.indexOf("\r\n\r\n") + 4).strip();
    }
  }

  /**
   * gunicorn removes the file of a unix socket it was given as fd://N when a master stops (it takes the socket
   * for one it bound): after a reload, clients can no longer connect by path. circusd cannot give the path back,
   * but says so, naming the remedy; handed over the systemd way (LISTEN_FDS), gunicorn leaves it in place.
   */
  @Test
  void aUnixSocketsPathRemovedByAWorkerIsReportedAndSystemdHandoffKeepsItWithGunicorn() throws Exception {
    boolean installed = Files.isExecutable(Path.of("/usr/bin/gunicorn"));
    assumeTrue(installed || System.getenv("CI") != null, "gunicorn not installed (.ci/run installs it)");
    Path app = worker("wsgi_app.py");
    Path fdSock = dir.resolve("fd.sock");
    Path sdSock = dir.resolve("sd.sock");
    String gunicorn = "/usr/bin/gunicorn --workers 1 --chdir " + app.getParent();
    Daemon d = start("[socket:fdweb]\npath = " + fdSock + "\nfamily = AF_UNIX\n"
        + "[socket:sdweb]\npath = " + sdSock + "\nfamily = AF_UNIX\n"
        + "[watcher:byfd]\ncmd = " + gunicorn + " --bind fd://$(circus.sockets.fdweb) wsgi_app:application\n"
        + "use_sockets = true\n"
        + "[watcher:bysd]\ncmd = " + gunicorn + " wsgi_app:application\nhandoff = systemd\n"
        + "[env:bysd]\nONLY = $(circus.sockets.sdweb)\n"); // names the one socket LISTEN_FDS carries
    for (Path p : List.of(fdSock, sdSock)) {
      await(Duration.ofSeconds(20), "an answer on " + p, () -> {
        try {
          return httpGetUnix(p).endsWith(" via gunicorn");
        } catch (Exception e) {
          return false;
        }
      });
    }
    circusctlAt(d.endpoint(), "reload", "byfd", "--waiting");
    circusctlAt(d.endpoint(), "reload", "bysd", "--waiting");
    await(Duration.ofSeconds(10), "the removed path reported", () -> d.logText().contains(
        "watcher byfd: socket 'fdweb': " + fdSock + " was removed by the time pid "));
    assertThat(d.logText()).contains("give it the socket with handoff = systemd");
    assertThat(Files.exists(fdSock)).isFalse();
    assertThat(Files.exists(sdSock)).as("handed over the systemd way, gunicorn leaves the path alone").isTrue();
    assertThat(httpGetUnix(sdSock)).endsWith(" via gunicorn");
    assertThat(d.logText()).doesNotContain("socket 'sdweb': ");
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
