package io.jcircus.server.internal.proc;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The /proc reader against a real child of this JVM. */
class ProcFsTest {
  @Test
  void readsAChildOfThisJvm() throws Exception {
    int self = (int) ProcessHandle.current().pid();
    Process p = new ProcessBuilder("sleep", "30").start();
    try {
      int pid = (int) p.pid();
      assertThat(ProcFs.children(self)).contains(pid);
      assertThat(ProcFs.descendants(self)).anySatisfy(d -> assertThat(d[0]).isEqualTo(pid));
      assertThat(ProcFs.startTime(pid)).isPositive().isGreaterThanOrEqualTo(ProcFs.startTime(self));
      assertThat(ProcFs.argv0(pid)).isEqualTo("sleep");
      assertThat(ProcFs.uid(pid)).isEqualTo((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
    } finally {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
    assertThat(ProcFs.startTime((int) p.pid())).isEqualTo(-1);
    assertThat(ProcFs.argv0((int) p.pid())).isEmpty();
    assertThat(ProcFs.uid((int) p.pid())).isEqualTo(-1);
    assertThat(ProcFs.memTotal()).isGreaterThan(1L << 20);
    assertThat(ProcFs.bootTime()).isGreaterThan(1_000_000_000L).isLessThan(System.currentTimeMillis() / 1000);
  }
}
