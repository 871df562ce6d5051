package io.jcircus.fdpass;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FdPassTest {
  @TempDir Path dir;

  private static int myUid() throws Exception {
    return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
  }

  private static String target(int fd) throws Exception {
    return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
  }

  /** A JDK with the foreign function API (22 or later) among /usr/lib/jvm, or null. */
  private static Path newerJdk() throws java.io.IOException {
    Path root = Path.of("/usr/lib/jvm");
    if (!Files.isDirectory(root)) {
      return null;
    }
    try (java.util.stream.Stream<Path> all = Files.list(root)) {
      for (Path jdk : (Iterable<Path>) all.sorted()::iterator) {
        Path release = jdk.resolve("release");
        if (Files.isExecutable(jdk.resolve("bin/java")) && Files.isRegularFile(release)) {
          java.util.regex.Matcher m = java.util.regex.Pattern.compile("JAVA_VERSION=\"(\\d+)")
              .matcher(Files.readString(release));
          if (m.find() && Integer.parseInt(m.group(1)) >= 22) {
            return jdk;
          }
        }
      }
    }
    return null;
  }

  @Test
  void handsOverANamedDescriptorToAnAllowedPeer() throws Exception {
    Path file = Files.writeString(dir.resolve("data.txt"), "payload");
    MultiThreadIoEventLoopGroup g = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r");
         FdPassServer server = new FdPassServer(dir.resolve("fd.sock"), Set.of(myUid()))) {
      int fd = -1;
      for (String link : new java.io.File("/proc/self/fd").list()) {
        try {
          if (target(Integer.parseInt(link)).equals(file.toRealPath().toString())) {
            fd = Integer.parseInt(link);
          }
        } catch (java.io.IOException e) {
          // the listing's own descriptor, closed meanwhile
        }
      }
      assertThat(fd).isPositive();
      server.offer("data", fd, Map.of("kind", "file"));
      server.start(g);
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(server.path()))).isEqualTo("rw-------");

      FdPassClient.Received r = FdPassClient.fetch(server.path(), "data");
      assertThat(r.fd()).isNotEqualTo(fd);
      assertThat(target(r.fd())).isEqualTo(file.toRealPath().toString());
      assertThat(r.info()).containsEntry("kind", "file");
      String flags = Files.readAllLines(Path.of("/proc/self/fdinfo/" + r.fd())).stream()
          .filter(l -> l.startsWith("flags:")).findFirst().orElseThrow();
      if (!Fcntl.available()) {
        // this JVM cannot call fcntl (JDK 17): the client sets FD_CLOEXEC where the JDK has the foreign function
        // API, so the same fetch is made from such a JDK
        Path jdk = newerJdk();
        Assumptions.assumeTrue(jdk != null, "no JDK 22 or later in /usr/lib/jvm to check O_CLOEXEC with");
        Process p = new ProcessBuilder(jdk.resolve("bin/java").toString(), "-cp", System.getProperty("java.class.path"),
            FetchProbe.class.getName(), server.path().toString(), "data").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        flags = out.lines().filter(l -> l.startsWith("flags:")).findFirst().orElseThrow();
      }
      assertThat(Integer.parseInt(flags.split("\\s+")[1], 8) & 02000000).as("O_CLOEXEC in " + flags).isNotZero();
      assertThatThrownBy(() -> FdPassClient.fetch(server.path(), "nosuch")).hasMessageContaining("no socket named 'nosuch'");
    } finally {
      g.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }

  @Test
  void refusesAPeerWhoseUidIsNotAllowed() throws Exception {
    MultiThreadIoEventLoopGroup g = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    try (FdPassServer server = new FdPassServer(dir.resolve("fd.sock"), Set.of(myUid() + 4242))) {
      server.offer("stdin", 0, Map.of());
      server.start(g);
      assertThatThrownBy(() -> FdPassClient.fetch(server.path(), "stdin"))
          .hasMessageContaining("uid " + myUid() + " may not fetch sockets here");
    } finally {
      g.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
  }
}
