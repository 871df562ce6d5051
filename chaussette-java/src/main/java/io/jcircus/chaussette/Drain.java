package io.jcircus.chaussette;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Graceful drain of the open connections once the worker has stopped accepting. A connection is closed by
 * the worker only when it is between requests and has been quiet for {@link #QUIET_MS}: a connection accepted
 * a moment before the listener closed still gets the request its client is sending, and a request being
 * received or answered always completes. Responses sent while draining carry {@code Connection: close}.
 */
final class Drain {
  /** Quiet time after which an idle connection is closed during a drain. */
  static final long QUIET_MS = 500;

  private final Set<Tracked> open = ConcurrentHashMap.newKeySet();
  private volatile boolean draining;

  /** An open connection, as the drain sees it. */
  interface Tracked {
    /** Whether a request is being received or answered. */
    boolean busy();

    /** When the connection last read a byte or finished a response ({@link System#nanoTime()}). */
    long lastActivity();

    /** Closes the connection if it is still idle; callable from any thread. */
    void closeIdle();
  }

  /** Per-connection bookkeeping, first in the pipeline so it sees every byte read. */
  final class Conn extends ChannelDuplexHandler implements Tracked {
    final Channel ch;
    volatile boolean busy;
    volatile long lastActivity = System.nanoTime();

    Conn(Channel ch) {
      this.ch = ch;
      ch.closeFuture().addListener(f -> open.remove(this));
    }

    @Override
    public boolean busy() {
      return busy;
    }

    @Override
    public long lastActivity() {
      return lastActivity;
    }

    @Override
    public void closeIdle() {
      ch.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      lastActivity = System.nanoTime();
      ctx.fireChannelRead(msg);
    }

    void idle() {
      busy = false;
      lastActivity = System.nanoTime();
    }
  }

  Conn add(Channel ch) {
    Conn c = new Conn(ch);
    open.add(c);
    return c;
  }

  /** Tracks a connection that is not (yet) a channel; {@link #remove} it once it is closed or handed on. */
  void add(Tracked t) {
    open.add(t);
  }

  void remove(Tracked t) {
    open.remove(t);
  }

  boolean draining() {
    return draining;
  }

  /** Closes connections as they become idle; returns when none is left or {@code timeoutMs} has passed. */
  void drain(long timeoutMs) {
    draining = true;
    long start = System.nanoTime();
    long deadline = start + timeoutMs * 1_000_000L;
    // A connection accepted just before the listener closed may not be registered yet: "nothing open" only
    // counts once the quiet time has passed since the drain began.
    while (System.nanoTime() < deadline
        && !(open.isEmpty() && System.nanoTime() - start > QUIET_MS * 1_000_000L)) {
      long now = System.nanoTime();
      for (Tracked c : open) {
        if (!c.busy() && now - c.lastActivity() > QUIET_MS * 1_000_000L) {
          c.closeIdle();
        }
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
