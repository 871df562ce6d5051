package io.jcircus.chaussette;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.netty.util.concurrent.EventExecutor;
import io.jcircus.fdpass.Fcntl;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * Accepts on a listening socket that several worker processes share (an fd circusd handed over), taking turns
 * with the other workers instead of racing them.
 *
 * <p>Netty's server channels register the listening fd without {@code EPOLLEXCLUSIVE}, so each new connection
 * wakes every worker's event loop; all but one find nothing to accept, and on a small machine those wasted
 * wake-ups cost more than serving the request. This acceptor is a plain {@link EpollIoHandle} on one of the
 * event loops, registered for {@code EPOLLIN | EPOLLEXCLUSIVE} (Linux 4.5+): the kernel wakes one idle waiter.
 * The kernel wakes the first idle waiter in the socket's wait queue, which on its own would hand a lightly
 * loaded server's connections all to one worker; every {@link #ROTATE_EVERY} accepted connections the acceptor
 * therefore removes and re-adds its registration, which moves it to the back of the queue, so idle workers take
 * connections in turn (two epoll_ctl on a wait queue every worker shares: doing it after every connection cost
 * more than a tenth of a loaded worker's system time).
 *
 * <p>A connection's request has usually not arrived when it is accepted (the client's first write follows its
 * handshake), so reading at once mostly returns EAGAIN, a system call for nothing; with TCP_DEFER_ACCEPT, or
 * under a backlog, it is there. The acceptor keeps reading at once while that finds the request, stops after
 * {@link #MISSES} misses in a row, and tries again every {@link #PROBE_EVERY} connections.
 *
 * <p>A burst of connections is another matter: whichever worker is on a CPU takes the queue. With a {@link Balance}
 * table, an acceptor whose worker holds well above the average of the workers on the socket leaves the wait queue
 * for a while ({@link #stepAside}), so the next connections go to the others.
 *
 * <p>Each event loop of the worker has an acceptor of its own (a {@link Group}): a loop is a waiter like any
 * other, and serves what it accepts, so no connection crosses threads.
 *
 * <p>The listening fd is only ever this process's copy: stopping the group closes the copy (the socket stays
 * open in circusd and the other workers, with its accept queue), and nothing here shuts the socket down.
 */
final class SharedAcceptor implements EpollIoHandle {
  /** {@code EPOLLEXCLUSIVE} from {@code <sys/epoll.h>}; Netty has no constant for it. */
  static final int EPOLLEXCLUSIVE = 1 << 28;

  /** What becomes of an accepted connection: called on the loop that accepted it. */
  @FunctionalInterface
  interface Accepted {
    /**
     * @param readNow whether to read the connection at once rather than wait for epoll to report it readable
     * @return whether reading at once found data (false when {@code readNow} is false)
     */
    boolean accepted(int fd, boolean unix, IoEventLoop loop, boolean readNow);
  }

  /** One acceptor per event loop of a group, all on the same fd: each loop is a waiter of its own. */
  static final class Group {
    private final Socket listener;
    private final List<SharedAcceptor> acceptors = new ArrayList<>();

    /**
     * @throws IOException if the socket is in blocking mode and cannot be switched (see {@link Fcntl})
     */
    Group(int fd, boolean unix, EventLoopGroup loops, Accepted accepted) throws IOException {
      this(fd, unix, loops, accepted, Balance.NONE, () -> 0);
    }

    /**
     * @param balance the table shared with the other workers on this socket ({@link Balance#NONE}: none)
     * @param open this worker's open connections
     */
    Group(int fd, boolean unix, EventLoopGroup loops, Accepted accepted, Balance balance, IntSupplier open)
        throws IOException {
      listener = new Socket(fd);
      // A blocking listener would stall a loop in accept() whenever another waiter took the connection first.
      // O_NONBLOCK belongs to the socket all the workers share; every event-driven server sets it likewise.
      Fcntl.setNonBlocking(fd);
      for (EventExecutor e : loops) {
        acceptors.add(new SharedAcceptor(listener, unix, (IoEventLoop) e, accepted, balance, open));
      }
      try {
        for (SharedAcceptor a : acceptors) {
          a.start().join();
        }
      } catch (RuntimeException e) {
        stop();
        throw e;
      }
    }

    /** Whether the kernel took {@code EPOLLEXCLUSIVE} (false on kernels older than 4.5). */
    boolean exclusive() {
      return acceptors.get(0).exclusive();
    }

    int size() {
      return acceptors.size();
    }

    /**
     * Stops accepting and closes this process's copy of the fd. Each registration is removed before the close:
     * circusd keeps the socket open, so closing the fd alone would not take it out of the epoll sets.
     */
    void stop() {
      for (SharedAcceptor a : acceptors) {
        a.stop().join();
      }
      try {
        listener.close();
      } catch (IOException e) {
        // already closed
      }
    }
  }

  /** Accepted connections between two moves to the back of the wait queue. */
  static final int ROTATE_EVERY = 8;
  /** Reads at once that found nothing, in a row, before the acceptor stops reading at once. */
  static final int MISSES = 4;
  /** While not reading at once, every this many connections are read at once anyway, to notice a change. */
  static final int PROBE_EVERY = 16;

  /** How often an acceptor that stepped aside looks whether it is back near the average. */
  static final long RESUME_CHECK_MS = 5;
  /** The longest an acceptor steps aside (see {@link Balance}). */
  static final long PAUSE_MS = 50;

  private final Socket listener;
  private final boolean unix;
  private final IoEventLoop loop;
  private final Accepted accepted;
  private final Balance balance;
  private final IntSupplier open;
  private long pausedSince;
  private final byte[] address = new byte[32];
  private EpollIoOps ops = EpollIoOps.valueOf(EpollIoOps.EPOLLIN.value() | EPOLLEXCLUSIVE);
  private IoRegistration registration;
  private boolean stopped;
  private int sinceRotation;
  private int misses;
  private int sinceProbe;

  private SharedAcceptor(Socket listener, boolean unix, IoEventLoop loop, Accepted accepted, Balance balance,
      IntSupplier open) {
    this.listener = listener;
    this.unix = unix;
    this.loop = loop;
    this.accepted = accepted;
    this.balance = balance;
    this.open = open;
  }

  /** Starts accepting; completes once the fd is in the event loop's epoll set. */
  private CompletableFuture<Void> start() {
    CompletableFuture<Void> started = new CompletableFuture<>();
    loop.execute(() -> {
      try {
        register();
        started.complete(null);
      } catch (RuntimeException e) {
        started.completeExceptionally(e);
      }
    });
    return started;
  }

  /** Stops accepting on this loop; completes when the registration is gone. The fd stays open. */
  private CompletableFuture<Void> stop() {
    CompletableFuture<Void> stoppedFuture = new CompletableFuture<>();
    try {
      loop.execute(() -> {
        stopped = true;
        if (registration != null) {
          registration.cancel();
          registration = null;
        }
        stoppedFuture.complete(null);
      });
    } catch (RejectedExecutionException e) {
      stoppedFuture.complete(null); // the loop has shut down (a SIGTERM while starting): its epoll set is gone
    }
    return stoppedFuture;
  }

  private boolean exclusive() {
    return (ops.value() & EPOLLEXCLUSIVE) != 0;
  }

  private void register() {
    IoRegistration r;
    try {
      r = loop.register(this).syncUninterruptibly().getNow();
    } catch (RuntimeException e) {
      throw new IllegalStateException("cannot register the listening socket with the event loop", e);
    }
    try {
      r.submit(ops); // the first submit of a registration is its EPOLL_CTL_ADD
    } catch (UncheckedIOException e) {
      if (!exclusive()) {
        r.cancel();
        throw e;
      }
      ops = EpollIoOps.EPOLLIN; // EINVAL: no EPOLLEXCLUSIVE before Linux 4.5; every worker wakes, as with Netty's
      r.submit(ops);
    }
    registration = r;
  }

  @Override
  public void handle(IoRegistration r, IoEvent event) {
    if (stopped || registration == null) {
      return;
    }
    // One connection per wake-up (nginx's multi_accept off): the registration is level-triggered, so whatever
    // else is queued is reported again by the next epoll_wait, without sleeping, to this worker or a faster one.
    // Accepting until EAGAIN cost a failed accept4 per connection under load, where the queue is mostly empty.
    int fd;
    try {
      fd = listener.accept(address);
    } catch (IOException e) {
      // ECONNABORTED, EMFILE and the like: the connection is the kernel's or the client's loss, not ours to retry
      System.err.println("chaussette-java: accept: " + e.getMessage());
      return;
    }
    if (fd < 0) {
      return; // EAGAIN: another worker was faster
    }
    if (misses < MISSES || ++sinceProbe >= PROBE_EVERY) {
      sinceProbe = 0;
      misses = accepted.accepted(fd, unix, loop, true) ? 0 : misses + 1;
    } else {
      accepted.accepted(fd, unix, loop, false);
    }
    if (!stopped && balance.above(open.getAsInt(), Balance.SLACK)) {
      stepAside();
    } else if (!stopped && ++sinceRotation >= ROTATE_EVERY && exclusive()) {
      // to the back of the wait queue: the next connections wake another idle worker
      sinceRotation = 0;
      registration.cancel();
      registration = null;
      register();
    }
  }

  /**
   * Leaves the socket's wait queue for a while, so the next connections wake the other workers. Nothing queued
   * is stranded: the connection whose wake-up this acceptor took is accepted already, and any that came while
   * it ran went on down the queue (a waiter is taken off its epoll's queue as it is woken). On a kernel that
   * kept it there, a connection could wait for another to arrive, or for {@link #PAUSE_MS}.
   */
  private void stepAside() {
    registration.cancel();
    registration = null;
    pausedSince = System.nanoTime();
    loop.schedule(this::resumeIfDue, RESUME_CHECK_MS, TimeUnit.MILLISECONDS);
  }

  private void resumeIfDue() {
    if (stopped || registration != null) {
      return;
    }
    if (System.nanoTime() - pausedSince >= TimeUnit.MILLISECONDS.toNanos(PAUSE_MS)
        || !balance.above(open.getAsInt(), 0)) {
      sinceRotation = 0;
      register();
    } else {
      loop.schedule(this::resumeIfDue, RESUME_CHECK_MS, TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public FileDescriptor fd() {
    return listener;
  }

  @Override
  public void close() {
    // the event loop is shutting down; the Group closes the shared fd
  }
}
