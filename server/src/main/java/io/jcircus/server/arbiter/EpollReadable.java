package io.jcircus.server.arbiter;

import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import java.io.IOException;

/** Registers an fd handle on an epoll loop for EPOLLIN (level-triggered); the one place that does it. */
final class EpollReadable {
  private EpollReadable() {}

  /** Must run on {@code loop} (registration then completes at once) or be allowed to wait for it. */
  static IoRegistration register(IoEventLoop loop, EpollIoHandle handle, String what) throws IOException {
    io.netty.util.concurrent.Future<IoRegistration> f = loop.register(handle);
    if (!f.isDone()) {
      f.syncUninterruptibly();
    }
    if (!f.isSuccess()) {
      throw new IOException("registering " + what + ": " + f.cause(), f.cause());
    }
    IoRegistration reg = f.getNow();
    reg.submit(EpollIoOps.EPOLLIN);
    return reg;
  }
}
