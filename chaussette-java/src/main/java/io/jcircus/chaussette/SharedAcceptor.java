package io.jcircus.chaussette;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.jcircus.fdpass.Fcntl;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Accepts on a listening socket that several worker processes share (an fd circusd handed over), taking turns
 * with the other workers instead of racing them.
 *
 * <p>Netty's server channels register the listening fd without {@code EPOLLEXCLUSIVE}, so each new connection
 * wakes every worker's event loop; all but one find nothing to accept, and on a small machine those wasted
 * wake-ups cost more than serving the request. This acceptor is a plain {@link EpollIoHandle} on one of the
 * event loops, registered for {@code EPOLLIN | EPOLLEXCLUSIVE} (Linux 4.5+): the kernel wakes one idle waiter.
 * The kernel wakes the first idle waiter in the socket's wait queue, which on its own would hand a lightly
 * loaded server's connections all to one worker; after each accept the acceptor therefore removes and re-adds
 * its registration, which moves it to the back of the queue, so idle workers take connections in turn.
 *
 * <p>The listening fd is only ever this process's copy: closing the acceptor closes the copy (the socket stays
 * open in circusd and the other workers, with its accept queue), and nothing here shuts the socket down.
 */
final class SharedAcceptor implements EpollIoHandle {
  /** {@code EPOLLEXCLUSIVE} from {@code <sys/epoll.h>}; Netty has no constant for it. */
  static final int EPOLLEXCLUSIVE = 1 << 28;

  private final Socket listener;
  private final boolean unix;
  private final IoEventLoop loop;
  private final EventLoopGroup children;
  private final Consumer<Channel> init;
  private final byte[] address = new byte[32];
  private final CompletableFuture<Void> closed = new CompletableFuture<>();
  private EpollIoOps ops = EpollIoOps.valueOf(EpollIoOps.EPOLLIN.value() | EPOLLEXCLUSIVE);
  private IoRegistration registration;
  private boolean stopped;

  /**
   * @param fd the inherited listening socket, already bound and listening
   * @param unix whether it is an AF_UNIX socket (else TCP)
   * @param init sets up each accepted channel's pipeline, on this loop, before the channel is registered: the
   *     drain's bookkeeping knows of a connection from the moment it is accepted
   */
  SharedAcceptor(int fd, boolean unix, IoEventLoop loop, EventLoopGroup children, Consumer<Channel> init) {
    this.listener = new Socket(fd);
    this.unix = unix;
    this.loop = loop;
    this.children = children;
    this.init = init;
  }

  /**
   * Starts accepting; completes once the fd is in the event loop's epoll set.
   *
   * @throws IOException if the socket is in blocking mode and cannot be switched (see {@link Fcntl})
   */
  CompletableFuture<Void> start() throws IOException {
    // A blocking listener would stall the loop in accept() whenever another worker took the connection first.
    // O_NONBLOCK belongs to the socket all the workers share; every event-driven server sets it likewise.
    Fcntl.setNonBlocking(listener.intValue());
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

  /** Stops accepting and closes this process's copy of the fd; completes when done. */
  CompletableFuture<Void> stop() {
    loop.execute(() -> {
      stopped = true;
      if (registration != null) {
        registration.cancel();
        registration = null;
      }
      closeFd();
    });
    return closed;
  }

  /** Whether the kernel took {@code EPOLLEXCLUSIVE} (false on kernels older than 4.5). */
  boolean exclusive() {
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
    int fd;
    try {
      fd = listener.accept(address);
    } catch (IOException e) {
      // ECONNABORTED, EMFILE and the like: the connection is the kernel's or the client's loss, not ours to retry
      System.err.println("chaussette-java: accept: " + e.getMessage());
      return;
    }
    if (fd >= 0) {
      Channel child = unix ? new EpollDomainSocketChannel(fd) : new EpollSocketChannel(fd); // TCP_NODELAY by default
      init.accept(child);
      children.register(child);
      if (exclusive()) {
        // to the back of the wait queue: the next connection wakes another idle worker
        registration.cancel();
        registration = null;
        register();
      }
    }
    // fd < 0 (EAGAIN): another worker was faster; level-triggered, so nothing is lost
  }

  @Override
  public FileDescriptor fd() {
    return listener;
  }

  @Override
  public void close() {
    closeFd();
  }

  private void closeFd() {
    try {
      listener.close();
    } catch (IOException e) {
      // already closed
    }
    closed.complete(null);
  }
}
