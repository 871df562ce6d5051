package io.jcircus.chaussette;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A newly accepted connection until its first request is known. If that request is the connection's only one
 * ({@code Connection: close}, or HTTP/1.0 without keep-alive, as health checks, scripts and many load
 * balancers send), it is read, answered and closed right here, on the event loop that accepted it: one read,
 * one write, one close. Anything else (keep-alive, a request the strict {@link RequestHead} parser leaves to
 * the codec, a request not read whole within the buffer) becomes a Netty channel with the usual pipeline, and
 * the bytes read so far are its first read.
 *
 * <p>Why: a Netty channel costs a dozen system calls and a pipeline's worth of objects to set up (channel id,
 * config, local and peer address, TCP_NODELAY, its epoll registration and interest changes); for a connection
 * that carries one request that set-up is most of the work, and it was what kept new-connection-per-request
 * throughput below a reverse proxy's.
 */
final class FirstRequest implements EpollIoHandle, Drain.Tracked {
  /** The request must fit (with its body) for the fast path; larger ones go to the codec. */
  static final int BUFFER = 16 * 1024;

  /** What a connection is served with. */
  static final class Serving {
    final HttpApp app;
    final Consumer<Channel> init;
    final Drain drain;
    final ByteBufAllocator alloc = ByteBufAllocator.DEFAULT;
    /** The connections waiting for a first request on each event loop (only ever touched on that loop). */
    private final FastThreadLocal<Waiting> waiting = new FastThreadLocal<>();
    /** How long a new connection may take to send its first request (nginx's client_header_timeout: 60 s). */
    final long requestTimeoutMillis;

    Serving(HttpApp app, Consumer<Channel> init, Drain drain) {
      this(app, init, drain, requestTimeoutFromEnv());
    }

    Serving(HttpApp app, Consumer<Channel> init, Drain drain, long requestTimeoutMillis) {
      this.app = app;
      this.init = init;
      this.drain = drain;
      this.requestTimeoutMillis = requestTimeoutMillis;
    }

    /** This loop's list of connections waiting for a first request; called on {@code loop}. */
    Waiting waiting(IoEventLoop loop) {
      Waiting w = waiting.get();
      if (w == null) {
        w = new Waiting(loop, TimeUnit.MILLISECONDS.toNanos(requestTimeoutMillis));
        waiting.set(w);
      }
      return w;
    }

    /** CHAUSSETTE_REQUEST_TIMEOUT seconds, default 60. */
    static long requestTimeoutFromEnv() {
      try {
        return (long) (Double.parseDouble(System.getenv().getOrDefault("CHAUSSETTE_REQUEST_TIMEOUT", "60")) * 1000);
      } catch (NumberFormatException e) {
        return 60_000;
      }
    }
  }

  /**
   * The connections of one event loop that wait for their first request, oldest first. They all have the same
   * timeout, so arrival order is deadline order: joining and leaving are a few pointer stores, and one scheduled
   * task, due when the oldest expires, stands for all of them (a task scheduled and cancelled per connection
   * was a priority queue insert and removal each).
   */
  static final class Waiting {
    private final IoEventLoop loop;
    private final long timeoutNanos;
    private FirstRequest head;
    private FirstRequest tail;
    private ScheduledFuture<?> sweep;

    Waiting(IoEventLoop loop, long timeoutNanos) {
      this.loop = loop;
      this.timeoutNanos = timeoutNanos;
    }

    void add(FirstRequest c) {
      c.deadline = System.nanoTime() + timeoutNanos;
      c.waiting = this;
      c.prev = tail;
      if (tail == null) {
        head = c;
      } else {
        tail.next = c;
      }
      tail = c;
      if (sweep == null) {
        sweep = loop.schedule(this::sweep, timeoutNanos, TimeUnit.NANOSECONDS);
      }
    }

    void remove(FirstRequest c) {
      if (c.prev == null) {
        head = c.next;
      } else {
        c.prev.next = c.next;
      }
      if (c.next == null) {
        tail = c.prev;
      } else {
        c.next.prev = c.prev;
      }
      c.prev = c.next = null;
      c.waiting = null;
    }

    private void sweep() {
      sweep = null;
      long now = System.nanoTime();
      while (head != null && head.deadline - now <= 0) {
        FirstRequest c = head;
        remove(c);
        c.timedOut();
      }
      if (head != null) {
        sweep = loop.schedule(this::sweep, head.deadline - now, TimeUnit.NANOSECONDS);
      }
    }
  }

  private static final DefaultHttpHeadersFactory TRAILERS = DefaultHttpHeadersFactory.trailersFactory();

  /** A plain FileDescriptor: Netty's Socket asks the kernel for the address family (getsockname) when made. */
  private final FileDescriptor socket;
  private final boolean unix;
  private final IoEventLoop loop;
  private final Serving serving;
  private ByteBuf in;
  private ByteBuf out;
  private IoRegistration registration;
  /**
   * The loop's list this connection is on while it waits for its first request (null otherwise): it is closed if
   * that takes longer than the request timeout (slowloris). {@code timed}: it has joined the list once.
   */
  private Waiting waiting;
  private FirstRequest prev;
  private FirstRequest next;
  private long deadline;
  private boolean timed;
  private boolean done;
  private volatile boolean busy;
  private volatile long lastActivity = System.nanoTime();

  private FirstRequest(int fd, boolean unix, IoEventLoop loop, Serving serving) {
    this.socket = new FileDescriptor(fd);
    this.unix = unix;
    this.loop = loop;
    this.serving = serving;
  }

  /**
   * Takes over an accepted fd, on {@code loop}'s thread.
   *
   * @param readNow read at once (the request may be there already: no epoll round trip for it), or wait for
   *     epoll to say it is readable
   * @return whether the read at once found data
   */
  static boolean accepted(int fd, boolean unix, IoEventLoop loop, Serving serving, boolean readNow) {
    FirstRequest c = new FirstRequest(fd, unix, loop, serving);
    serving.drain.add(c);
    if (!readNow) {
      try {
        c.awaitRequest();
      } catch (IOException e) {
        c.finish();
      }
      return false;
    }
    return c.readable();
  }

  @Override
  public void handle(IoRegistration r, IoEvent event) {
    if (done) {
      return;
    }
    if (out != null) {
      flush();
    } else {
      readable();
    }
  }

  /** Reads what has come; true if that was anything (data or the end of the stream). */
  private boolean readable() {
    boolean got = false;
    try {
      if (in == null) {
        in = serving.alloc.directBuffer(BUFFER, BUFFER);
      }
      while (true) {
        int n = read(in);
        if (n == 0) { // EAGAIN
          if (in.writerIndex() == 0) { // nothing read yet: hold no buffer while the client takes its time
            in.release();
            in = null;
          }
          awaitRequest();
          return got;
        }
        got = true;
        if (n < 0) { // the client left before sending a whole request
          finish();
          return true;
        }
        lastActivity = System.nanoTime();
        RequestHead h = RequestHead.parse(in);
        if (h == RequestHead.INCOMPLETE) {
          if (!in.isWritable()) {
            handOff();
            return true;
          }
          continue;
        }
        if (h == RequestHead.HAND_OFF || !h.lastRequest || serving.drain.draining()) {
          handOff();
        } else {
          serve(h);
        }
        return true;
      }
    } catch (IOException e) {
      finish(); // ECONNRESET and the like
      return true;
    }
  }

  /** Waits for (more of) the first request, within the request timeout from when it started waiting. */
  private void awaitRequest() throws IOException {
    await(EpollIoOps.EPOLLIN);
    if (!timed) {
      timed = true;
      serving.waiting(loop).add(this);
    }
  }

  private void serve(RequestHead h) {
    busy = true;
    cancelTimeout();
    ByteBuf body = h.bodyLength == 0 ? Unpooled.EMPTY_BUFFER : in.retainedSlice(h.bodyStart, h.bodyLength);
    FullHttpRequest req = new DefaultFullHttpRequest(h.version, h.method, h.uri, body, h.headers,
        TRAILERS.newHeaders());
    FullHttpResponse resp = Responses.refused(req) ? Responses.badRequest() : Responses.call(serving.app, req);
    try {
      Responses.frame(req, resp, false);
      out = Responses.encode(resp, h.method, serving.alloc);
    } finally {
      resp.release();
      req.release();
      in.release();
      in = null;
    }
    flush();
  }

  private void flush() {
    try {
      while (out.isReadable()) {
        int n = write(out);
        if (n == 0) { // the socket buffer is full: a large response to a slow reader
          if (!unix) {
            new Socket(socket.intValue()).setTcpNoDelay(true); // the rest goes as soon as there is room
          }
          await(EpollIoOps.EPOLLOUT);
          return;
        }
        out.skipBytes(n);
        lastActivity = System.nanoTime();
      }
    } catch (IOException e) {
      // EPIPE / ECONNRESET: the client is gone
    }
    finish();
  }

  /** Gives the connection, with what was read of it, to a Netty channel and its HTTP pipeline. */
  private void handOff() {
    if (registration != null) {
      registration.cancel(); // the fd is still open: it leaves this loop's epoll set
      registration = null;
    }
    done = true;
    cancelTimeout();
    Channel ch = unix ? new EpollDomainSocketChannel(socket.intValue())
        : new EpollSocketChannel(socket.intValue()); // TCP_NODELAY by default
    serving.init.accept(ch); // the drain tracks the channel from here on
    // only now: a drain that saw neither would take the worker for idle and exit under this connection
    serving.drain.remove(this);
    ByteBuf read = in;
    in = null;
    ch.pipeline().addFirst(new Prefetched(read));
    loop.register(ch);
  }

  private void timedOut() {
    if (!done && out == null) {
      finish();
    }
  }

  private void cancelTimeout() {
    if (waiting != null) {
      waiting.remove(this);
    }
  }

  private void await(IoOps ops) throws IOException {
    if (registration == null) {
      try {
        registration = loop.register(this).syncUninterruptibly().getNow(); // on the loop: done at once
      } catch (RuntimeException e) {
        throw new IOException("cannot register the connection with the event loop", e);
      }
    }
    registration.submit(ops);
  }

  private int read(ByteBuf buf) throws IOException {
    int w = buf.writerIndex();
    int n;
    if (buf.hasMemoryAddress()) {
      n = socket.readAddress(buf.memoryAddress(), w, buf.capacity());
    } else {
      java.nio.ByteBuffer nio = buf.internalNioBuffer(w, buf.writableBytes());
      n = socket.read(nio, nio.position(), nio.limit());
    }
    if (n > 0) {
      buf.writerIndex(w + n);
    }
    return n;
  }

  private int write(ByteBuf buf) throws IOException {
    int r = buf.readerIndex();
    if (buf.hasMemoryAddress()) {
      return socket.writeAddress(buf.memoryAddress(), r, buf.writerIndex());
    }
    java.nio.ByteBuffer nio = buf.internalNioBuffer(r, buf.readableBytes());
    return socket.write(nio, nio.position(), nio.limit());
  }

  /** Closes the connection (on the loop). */
  private void finish() {
    if (done) {
      return;
    }
    done = true;
    cancelTimeout();
    try {
      socket.close(); // first: a closed fd leaves epoll by itself, so the cancel below needs no epoll_ctl
    } catch (IOException e) {
      // nothing to do about a failed close
    }
    if (registration != null) {
      registration.cancel();
      registration = null;
    }
    if (in != null) {
      in.release();
      in = null;
    }
    if (out != null) {
      out.release();
      out = null;
    }
    serving.drain.remove(this);
  }

  @Override
  public boolean busy() {
    return busy;
  }

  @Override
  public long lastActivity() {
    return lastActivity;
  }

  /** Never: a connection is only a FirstRequest until its first request is answered. */
  @Override
  public boolean used() {
    return false;
  }

  /** The drain's close of a connection that has not sent its request: only if it is still silent. */
  @Override
  public void closeIfIdle(long quietNanos) {
    if (loop.inEventLoop()) {
      if (!busy && !done && out == null && System.nanoTime() - lastActivity > quietNanos) {
        finish();
      }
    } else {
      loop.execute(() -> closeIfIdle(quietNanos));
    }
  }

  /** The event loop is shutting down. */
  @Override
  public void close() {
    finish();
  }

  @Override
  public FileDescriptor fd() {
    return socket;
  }

  /** The bytes already read, handed to the pipeline as its first read once the channel is active. */
  private static final class Prefetched extends ChannelInboundHandlerAdapter {
    private ByteBuf bytes;

    Prefetched(ByteBuf bytes) {
      this.bytes = bytes;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      ctx.fireChannelActive();
      ByteBuf b = bytes;
      bytes = null;
      if (b != null) {
        if (b.isReadable()) {
          ctx.fireChannelRead(b);
          ctx.fireChannelReadComplete();
        } else {
          b.release();
        }
      }
      ctx.pipeline().remove(this);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      if (bytes != null) {
        bytes.release();
        bytes = null;
      }
    }
  }
}
