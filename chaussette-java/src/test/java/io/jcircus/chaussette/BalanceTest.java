package io.jcircus.chaussette;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The table workers on one socket share ({@link Balance}), with other "workers" played by real processes (each
 * slot is claimed in the name of a live {@code sleep}, or of one that has exited) on a real listening socket.
 */
class BalanceTest {
  @TempDir Path dir;
  private Socket listener;
  private final List<Process> sleepers = new ArrayList<>();
  private final List<Balance> joined = new ArrayList<>();

  @BeforeEach
  void listen() throws IOException {
    io.netty.channel.epoll.Epoll.ensureAvailability(); // loads Netty's native library, which Socket needs
    listener = Socket.newSocketStream();
    listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    listener.listen(16);
  }

  @AfterEach
  void reap() throws Exception {
    for (Balance b : joined) {
      b.leave();
    }
    for (Process p : sleepers) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
    listener.close();
  }

  private int live() throws IOException {
    Process p = new ProcessBuilder("sleep", "60").start();
    sleepers.add(p);
    return (int) p.pid();
  }

  private static int dead() throws Exception {
    Process p = new ProcessBuilder("true").start();
    p.waitFor(10, TimeUnit.SECONDS);
    return (int) p.pid();
  }

  private Balance join(int pid) {
    Balance b = Balance.join(listener.intValue(), dir, pid);
    joined.add(b);
    return b;
  }

  private Path table() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(f -> f.getFileName().toString().startsWith("jcircus-balance-")).findFirst().orElse(null);
    }
  }

  @Test
  void aWorkerWellAboveTheAverageStepsAsideAndOnlyThat() throws Exception {
    Balance me = join((int) ProcessHandle.current().pid());
    Balance other = join(live());
    assertThat(me.describe()).startsWith("balancing with the other workers through " + dir);
    other.publish(4);
    // 20 against 4: average 12, so 20 is more than 2 above it
    assertThat(me.above(20, Balance.SLACK)).isTrue();
    // 14 against 10: 2 above the average of 12, within the slack
    other.publish(10);
    assertThat(me.above(14, Balance.SLACK)).isFalse();
    assertThat(me.above(14, 0)).isTrue();
    // below MIN_OPEN a worker never steps aside, however uneven
    other.publish(0);
    assertThat(me.above(Balance.MIN_OPEN - 1, Balance.SLACK)).isFalse();
    // and the worker below the average never does
    other.publish(20);
    assertThat(me.above(10, 0)).isFalse();
  }

  @Test
  void aWorkerThatStoppedAcceptingNoLongerCounts() throws Exception {
    Balance me = join((int) ProcessHandle.current().pid());
    Balance other = join(live());
    Balance third = join(live());
    other.publish(0);
    third.publish(20);
    assertThat(me.above(20, Balance.SLACK)).isTrue(); // average 13.3 with the idle one
    other.retire(); // it stops accepting (a drain): it has no share to take
    assertThat(me.above(20, Balance.SLACK)).isFalse();
  }

  @Test
  void aWorkerKilledOutrightIsFoundDeadAndItsSlotReused() throws Exception {
    Balance me = join((int) ProcessHandle.current().pid());
    int gone = dead();
    Balance killed = join(gone); // as if it had joined and then been killed with its count at 0
    killed.publish(0);
    assertThat(me.above(30, Balance.SLACK)).as("a dead worker's 0 must not hold the live one back").isFalse();
    Balance next = join(live());
    next.publish(30);
    // the dead slot was freed: the table now has this process and the new one, at 30 each
    assertThat(me.above(30, 0)).isFalse();
    assertThat(me.above(40, Balance.SLACK)).isTrue();
  }

  @Test
  void theTableIsPrivateAndTheLastWorkerToLeaveDeletesIt() throws Exception {
    Balance me = join((int) ProcessHandle.current().pid());
    Balance other = join(live());
    Path table = table();
    assertThat(table).isNotNull();
    assertThat(table.getFileName().toString()).matches("jcircus-balance-\\d+");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(table))).isEqualTo("rw-------");
    other.leave();
    assertThat(table()).as("one worker is still in it").isEqualTo(table);
    me.leave();
    assertThat(table()).isNull();
    // the next worker on the socket makes a new one
    Balance again = join((int) ProcessHandle.current().pid());
    assertThat(again.describe()).startsWith("balancing");
    assertThat(table()).isNotNull();
  }

  /** What a starting worker asks to decide whether to warm up first: is anyone else serving meanwhile? */
  @Test
  void aStartingWorkerSeesWhetherAnotherAccepts() throws Exception {
    int me = (int) ProcessHandle.current().pid();
    int fd = listener.intValue();
    assertThat(Balance.othersAccepting(fd, dir, me)).as("no table yet").isFalse();
    Balance self = join(me);
    assertThat(Balance.othersAccepting(fd, dir, me)).as("only itself").isFalse();
    Balance other = join(live());
    assertThat(Balance.othersAccepting(fd, dir, me)).isTrue();
    other.retire(); // draining: it accepts no more
    assertThat(Balance.othersAccepting(fd, dir, me)).isFalse();
    Balance killed = join(dead());
    assertThat(Balance.othersAccepting(fd, dir, me)).as("a worker killed outright").isFalse();
    killed.leave();
    other.leave();
    self.leave();
    assertThat(Balance.othersAccepting(fd, dir, me)).as("all gone, the table deleted (a restart)").isFalse();
  }

  /** The last worker on a socket killed outright deletes nothing: the next worker to join any table does. */
  @Test
  void aTableNobodyAliveIsInIsSweptAway() throws Exception {
    Socket other = Socket.newSocketStream();
    try {
      other.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      other.listen(4);
      Balance killed = Balance.join(other.intValue(), dir, dead()); // never leaves: the process is gone
      assertThat(killed.describe()).startsWith("balancing");
      Path stale = table();
      Balance live = Balance.join(other.intValue(), dir, live());
      Path kept;
      try (Stream<Path> files = Files.list(dir)) {
        kept = files.filter(f -> f.equals(stale)).findFirst().orElse(null);
      }
      assertThat(kept).as("a table a live worker is in stays").isNotNull();
      joined.add(live); // its leave() at the end deletes it
      // now a table for another socket, with only the dead process in it
      Socket third = Socket.newSocketStream();
      third.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      third.listen(4);
      Balance.join(third.intValue(), dir, dead());
      long before;
      try (Stream<Path> files = Files.list(dir)) {
        before = files.count();
      }
      assertThat(before).isEqualTo(2);
      join((int) ProcessHandle.current().pid()); // joins the test's own socket: sweeps the dead one's table
      try (Stream<Path> files = Files.list(dir)) {
        assertThat(files.map(f -> f.getFileName().toString()).toList()).hasSize(2)
            .contains(stale.getFileName().toString());
      }
      third.close();
    } finally {
      other.close();
    }
  }

  @Test
  void somethingThatIsNotASocketIsNotBalanced() throws Exception {
    Balance b = Balance.join(0, dir, (int) ProcessHandle.current().pid());
    // fd 0 of a test JVM is a pipe or /dev/null here, never a listening socket
    assertThat(b.describe()).startsWith("not balancing");
    assertThat(b.above(100, 0)).isFalse();
    b.leave();
  }
}
