package io.jcircus.server.arbiter;

import io.jcircus.server.internal.posix.Posix;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.IntConsumer;

/**
 * Process signals as events on the arbiter loop, through a signalfd. This needs the signals blocked in
 * every thread, which {@code bin/circusd} arranges: it execs the JVM under {@code env --block-signal} with
 * {@code -Xrs}, so the JVM neither unblocks nor claims them. That is the only way a JVM can act on SIGQUIT
 * (which HotSpot otherwise keeps for thread dumps).
 */
public final class SignalWatch implements EpollIoHandle {
  private final FileDescriptor fd;
  private final IntConsumer onSignal;
  private final ByteBuffer buf = ByteBuffer.allocateDirect(128).order(ByteOrder.nativeOrder());

  private SignalWatch(int fd, IntConsumer onSignal) {
    this.fd = new FileDescriptor(fd);
    this.onSignal = onSignal;
  }

  /** Registers a signalfd for {@code signals} on {@code loop}; must run on the loop. */
  public static SignalWatch watch(IoEventLoop loop, IntConsumer onSignal, int... signals) throws IOException {
    SignalWatch w = new SignalWatch(Posix.signalfd(signals), onSignal);
    try {
      EpollReadable.register(loop, w, "signalfd");
    } catch (IOException e) {
      w.close();
      throw e;
    }
    return w;
  }

  @Override
  public FileDescriptor fd() {
    return fd;
  }

  @Override
  public void handle(IoRegistration reg, IoEvent event) {
    while (true) {
      buf.clear();
      int n;
      try {
        n = fd.read(buf, 0, 128);
      } catch (IOException e) {
        return;
      }
      if (n < 128) {
        return;
      }
      onSignal.accept(buf.getInt(0));
    }
  }

  @Override
  public void close() {
    try {
      fd.close();
    } catch (IOException e) {
      // closed
    }
  }
}
