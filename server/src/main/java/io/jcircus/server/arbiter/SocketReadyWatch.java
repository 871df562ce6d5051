package io.jcircus.server.arbiter;

import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;

/**
 * {@code on_demand}: watches a managed listener for a pending connection without accepting it (a second
 * epoll registration of the same fd, on the arbiter loop) and fires once. The connection waits in the
 * accept queue until the freshly started worker accepts it.
 */
final class SocketReadyWatch implements EpollIoHandle {
  private final FileDescriptor fd;
  private final Runnable onReady;
  private IoRegistration registration;
  private boolean fired;

  private SocketReadyWatch(int fd, Runnable onReady) {
    // Not owned: closing this handle must not close the listener, so close() does nothing.
    this.fd = new FileDescriptor(fd);
    this.onReady = onReady;
  }

  static SocketReadyWatch arm(IoEventLoop loop, int fd, Runnable onReady) throws IOException {
    SocketReadyWatch w = new SocketReadyWatch(fd, onReady);
    w.registration = EpollReadable.register(loop, w, "socket fd " + fd);
    return w;
  }

  void cancel() {
    if (registration != null) {
      registration.cancel();
      registration = null;
    }
  }

  @Override
  public FileDescriptor fd() {
    return fd;
  }

  @Override
  public void handle(IoRegistration reg, IoEvent event) {
    if (fired) {
      return;
    }
    fired = true;
    cancel();
    onReady.run();
  }

  @Override
  public void close() {
    // the fd belongs to the ManagedSocket
  }
}
