package io.jcircus.server.arbiter;

import io.jcircus.server.internal.posix.Posix;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exit detection without polling: a pidfd registered on the arbiter's epoll loop becomes readable when the
 * child exits, and {@code waitid(P_PIDFD)} reaps exactly that child (never {@code waitpid(-1)}, which would
 * steal exit statuses from any {@link Process} in the JVM). The pidfd also makes signalling safe against
 * pid reuse: it keeps naming the same process until it is closed.
 */
final class ExitWatch implements EpollIoHandle {
  private static final Logger LOG = LoggerFactory.getLogger(ExitWatch.class);

  private final int pid;
  private final FileDescriptor pidfd;
  private final Consumer<Posix.ExitStatus> onExit;
  private IoRegistration registration;
  private boolean closed;
  private boolean reaped;

  private ExitWatch(int pid, int pidfd, Consumer<Posix.ExitStatus> onExit) {
    this.pid = pid;
    this.pidfd = new FileDescriptor(pidfd);
    this.onExit = onExit;
  }

  /** Opens a pidfd for {@code pid} and registers it; must run on {@code loop}. */
  static ExitWatch watch(IoEventLoop loop, int pid, Consumer<Posix.ExitStatus> onExit) throws IOException {
    int fd = Posix.pidfdOpen(pid);
    ExitWatch w = new ExitWatch(pid, fd, onExit);
    try {
      w.registration = EpollReadable.register(loop, w, "pidfd of " + pid);
    } catch (IOException e) {
      Posix.closeQuietly(fd);
      throw e;
    }
    return w;
  }

  int pid() {
    return pid;
  }

  /** Sends a signal through the pidfd; returns 0 or the errno (ESRCH once the child has exited). */
  int signal(int sig) {
    if (closed) {
      return Posix.ESRCH;
    }
    return Posix.pidfdSendSignal(pidfd.intValue(), sig);
  }

  private List<Runnable> onReaped;

  /** Runs {@code r} on the loop once the child has been reaped (at once if it already has). */
  void onReaped(Runnable r) {
    if (reaped) {
      r.run();
      return;
    }
    if (onReaped == null) {
      onReaped = new ArrayList<>(1);
    }
    onReaped.add(r);
  }

  boolean isReaped() {
    return reaped;
  }

  @Override
  public FileDescriptor fd() {
    return pidfd;
  }

  @Override
  public void handle(IoRegistration reg, IoEvent event) {
    reapIfExited();
  }

  /**
   * Reaps the child now if it has exited, running the exit callback before returning, whether or not the loop has
   * seen the pidfd readable yet; true if the child is reaped (now or before). A decision that needs the child alive
   * (a warmup_delay judged passed) asks this first: a timer and the exit may be due on the same loop turn.
   */
  boolean reapIfExited() {
    if (reaped) {
      return true;
    }
    Posix.ExitStatus st;
    try {
      st = Posix.waitPidfd(pidfd.intValue());
    } catch (IOException e) {
      // ECHILD: someone else reaped it. Report it as gone with an unknown status.
      LOG.warn("waitid for pid {}: {}", pid, e.getMessage());
      st = new Posix.ExitStatus(pid, Posix.CLD_EXITED, 255);
    }
    if (st == null) {
      return false;
    }
    reaped = true;
    registration.cancel();
    close();
    onExit.accept(st);
    if (onReaped != null) {
      for (Runnable r : onReaped) {
        r.run();
      }
    }
    return true;
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      try {
        pidfd.close();
      } catch (IOException e) {
        // already closed
      }
    }
  }
}
