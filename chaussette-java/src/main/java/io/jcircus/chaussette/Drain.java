package io.jcircus.chaussette;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Graceful drain of the open connections once the worker has stopped accepting. A connection is closed by
 * the worker only when it is between requests and has been quiet for a while: a request being received or
 * answered always completes, and responses sent while draining carry {@code Connection: close}.
 *
 * <p>How long "a while" is depends on whether the connection has carried a request yet. One that has (an idle
 * keep-alive connection) is closed after {@link #QUIET_MS}; its client reconnects, to a worker that accepts,
 * as HTTP/1.1 clients do when a server closes a persistent connection. One that has not was taken from the
 * shared accept queue by this worker, and its client has not spoken yet: closing it soon would fail the
 * request it is about to send (a new connection carries no request a client may retry on its own), so it is
 * given {@link #FIRST_REQUEST_QUIET_MS}.
 *
 * <p>An idle keep-alive connection is closed the lingering way (as Apache httpd and nginx close one): the
 * worker sends its FIN, then reads and discards until the client closes too, for at most {@link #LINGER_MS}.
 * A request the client sent before it saw the FIN then ends in an orderly end of stream, which clients
 * retry on a new connection, instead of the reset a plain close with unread data sends.
 */
final class Drain {
  /** Quiet time after which an idle keep-alive connection is closed during a drain. */
  static final long QUIET_MS = 500;
  /** Quiet time (since it was accepted) after which a connection that never sent a request is closed. */
  static final long FIRST_REQUEST_QUIET_MS = 2000;
  /** The longest a lingering close waits for the client's end of the connection. */
  static final long LINGER_MS = 2000;

  private final Set<Tracked> open = ConcurrentHashMap.newKeySet();
  private final AtomicInteger count = new AtomicInteger();
  private volatile Balance balance = Balance.NONE;
  private volatile boolean draining;

  /** An open connection, as the drain sees it. */
  interface Tracked {
    /** Whether a request is being received or answered. */
    boolean busy();

    /** Whether the connection has been answered at least once (a keep-alive connection between requests). */
    boolean used();

    /** When the connection last read a byte or finished a response ({@link System#nanoTime()}). */
    long lastActivity();

    /**
     * Closes the connection if, on its event loop, it is still neither busy nor active within the last
     * {@code quietNanos}; callable from any thread.
     */
    void closeIfIdle(long quietNanos);
  }

  /** Per-connection bookkeeping, first in the pipeline so it sees every byte read. */
  final class Conn extends ChannelDuplexHandler implements Tracked {
    final Channel ch;
    volatile boolean busy;
    volatile boolean used;
    volatile long lastActivity = System.nanoTime();
    /** Set on the event loop once the lingering close began: what is read from then on is discarded. */
    volatile boolean closing;

    Conn(Channel ch) {
      this.ch = ch;
      ch.closeFuture().addListener(f -> remove(this));
    }

    @Override
    public boolean busy() {
      return busy;
    }

    @Override
    public boolean used() {
      return used;
    }

    @Override
    public long lastActivity() {
      return lastActivity;
    }

    @Override
    public void closeIfIdle(long quietNanos) {
      if (closing) {
        return;
      }
      if (!ch.eventLoop().inEventLoop()) {
        ch.eventLoop().execute(() -> closeIfIdle(quietNanos));
        return;
      }
      if (closing || busy || System.nanoTime() - lastActivity <= quietNanos) {
        return;
      }
      closing = true;
      if (ch instanceof DuplexChannel d && d.isActive()) {
        // FIN now; the end of the client's stream then closes the channel (half-closure is off), or the timer
        d.shutdownOutput();
        ch.eventLoop().schedule(() -> {
          ch.close(); // a client that keeps its end open
        }, LINGER_MS, TimeUnit.MILLISECONDS);
      } else {
        ch.close();
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (closing) {
        ReferenceCountUtil.release(msg); // a request that crossed our FIN: its client retries
        return;
      }
      lastActivity = System.nanoTime();
      ctx.fireChannelRead(msg);
    }

    void idle() {
      used = true;
      busy = false;
      lastActivity = System.nanoTime();
    }
  }

  Conn add(Channel ch) {
    Conn c = new Conn(ch);
    add(c);
    return c;
  }

  /** Tracks a connection that is not (yet) a channel; {@link #remove} it once it is closed or handed on. */
  void add(Tracked t) {
    if (open.add(t)) {
      balance.publish(count.incrementAndGet());
    }
  }

  void remove(Tracked t) {
    if (open.remove(t)) {
      balance.publish(count.decrementAndGet());
    }
  }

  /** Connections open now (a first request being handed to its channel counts twice, for a moment). */
  int open() {
    return count.get();
  }

  /** Publishes the open connections to {@code b} from now on. */
  void balance(Balance b) {
    balance = b;
    b.publish(count.get());
  }

  Balance balance() {
    return balance;
  }

  boolean draining() {
    return draining;
  }

  /** Closes connections as they become idle; returns when none is left or {@code timeoutMs} has passed. */
  void drain(long timeoutMs) {
    draining = true;
    long start = System.nanoTime();
    long deadline = start + timeoutMs * 1_000_000L;
    long quiet = TimeUnit.MILLISECONDS.toNanos(QUIET_MS);
    long firstRequestQuiet = TimeUnit.MILLISECONDS.toNanos(FIRST_REQUEST_QUIET_MS);
    // Nothing open means done at once: the acceptors have stopped (on their loops, so whatever they accepted
    // is tracked already: FirstRequest joins the set as it is accepted, and a channel before it leaves), and a
    // worker with no connection left exits without waiting; during a restart nobody accepts meanwhile.
    while (System.nanoTime() < deadline && !open.isEmpty()) {
      long now = System.nanoTime();
      for (Tracked c : open) {
        long q = c.used() ? quiet : firstRequestQuiet;
        if (!c.busy() && now - c.lastActivity() > q) {
          c.closeIfIdle(q);
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
