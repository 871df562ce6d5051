package io.jcircus.fdpass;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FcntlTest {
  @TempDir Path dir;

  @Test
  void setsNonBlockingOnADescriptorItIsHanded() throws Exception {
    Path file = Files.writeString(dir.resolve("f"), "x");
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
      int fd = -1;
      for (String link : new java.io.File("/proc/self/fd").list()) {
        try {
          if (Files.readSymbolicLink(Path.of("/proc/self/fd/" + link)).equals(file.toRealPath())) {
            fd = Integer.parseInt(link);
          }
        } catch (java.io.IOException e) {
          // the listing's own descriptor, closed meanwhile
        }
      }
      assertThat(Fcntl.isNonBlocking(fd)).isFalse();
      // JDK 22+: fcntl through the FFM API; JDK 17: sun.nio.ch.IOUtil, opened by this module's surefire argLine
      Fcntl.setNonBlocking(fd);
      assertThat(Fcntl.isNonBlocking(fd)).isTrue();
      Fcntl.setNonBlocking(fd); // already set: a no-op
      assertThat(Fcntl.isNonBlocking(fd)).isTrue();
    }
  }
}
