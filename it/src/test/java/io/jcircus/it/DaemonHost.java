package io.jcircus.it;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A stand-in for a test JVM (run by {@link OrphanIT}): starts a circusd as every test does, prints its pid and its
 * children's, and waits to be killed.
 */
public final class DaemonHost {
  private DaemonHost() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    Path cfg = dir.resolve("circus.ini");
    Files.writeString(cfg, ItBase.endpoints() + "[watcher:sleeper]\ncmd = sleep 3600\nnumprocesses = 2\n");
    Daemon d = Daemon.start(cfg);
    StringBuilder line = new StringBuilder("daemon ").append(d.pid());
    for (long c : d.children()) {
      line.append(' ').append(c);
    }
    System.out.println(line);
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
