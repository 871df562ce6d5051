package io.jcircus.server.arbiter;

import io.jcircus.server.internal.posix.Fd;
import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.internal.posix.Spawner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes sure no child outlives circusd, even when circusd is killed with SIGKILL.
 *
 * <p>posix_spawn cannot set PR_SET_PDEATHSIG, and {@code setpriv --pdeathsig} would tie each child to the
 * spawning <em>thread</em>, cost an exec per spawn, reach only the direct child and be cleared again by a
 * uid change. Instead circusd starts one small guardian process in its own session. circusd holds the only
 * write end of the guardian's stdin and tells it "+PID" for every child it spawns and "-PID" for every
 * child it reaps. When circusd dies, by any means, the kernel closes that pipe; the guardian reads EOF and
 * SIGKILLs every process group still listed (each child leads its own group, session or not, so this takes its
 * descendants along), then exits. A clean shutdown leaves the list empty and the guardian simply exits.
 */
final class Guardian {
  private static final Logger LOG = LoggerFactory.getLogger(Guardian.class);

  /** bash: the set of live process groups in an associative array; kill them all at EOF. */
  private static final String SCRIPT =
      "trap '' INT TERM HUP QUIT PIPE\n"
          + "declare -A g\n"
          + "while read -r l; do case $l in +*) g[${l:1}]=1;; -*) unset \"g[${l:1}]\";; esac; done\n"
          + "for p in \"${!g[@]}\"; do kill -KILL -- \"-$p\" \"$p\" 2>/dev/null; done\n";

  private int writeFd = -1;
  private int pid = -1;

  /** Starts the guardian; returns its pid. */
  int start() throws IOException {
    String bash = findBash();
    try (Fd.Pipe p = Fd.Pipe.open()) {
      Spawner.Request r = new Spawner.Request(bash, List.of("jcircus-guardian", "-c", SCRIPT, "jcircus-guardian"),
          List.of("PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"));
      r.fd(0, p.read().get()).devNull(1, Posix.O_WRONLY).fd(2, 2);
      pid = Spawner.spawn(r);
      writeFd = p.write().release();
    }
    Posix.setNonBlocking(writeFd, true);
    LOG.debug("guardian started, pid {}", pid);
    return pid;
  }

  int pid() {
    return pid;
  }

  private static String findBash() throws IOException {
    for (String c : new String[] {"/bin/bash", "/usr/bin/bash"}) {
      if (new java.io.File(c).canExecute()) {
        return c;
      }
    }
    throw new IOException("bash not found: the child guardian needs /bin/bash");
  }

  void spawned(int childPid) {
    send("+" + childPid + "\n");
  }

  void reaped(int childPid) {
    send("-" + childPid + "\n");
  }

  private void send(String line) {
    if (writeFd < 0) {
      return;
    }
    long n = Posix.write(writeFd, line.getBytes(StandardCharsets.US_ASCII));
    if (n < 0) {
      LOG.warn("child guardian did not take '{}': {}", line.strip(), Posix.errnoName((int) -n));
    }
  }

  /** Closes the pipe: the guardian kills whatever is still listed (nothing, after a clean stop) and exits. */
  void close() {
    Posix.closeQuietly(writeFd);
    writeFd = -1;
  }
}
