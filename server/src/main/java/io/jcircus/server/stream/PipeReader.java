package io.jcircus.server.stream;

import io.jcircus.server.internal.posix.Posix;
import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads one child's stdout or stderr pipe on the streams event loop (level-triggered epoll, no thread per
 * child) and hands whole lines to a sink. Partial lines wait for their newline; at EOF the remainder is
 * flushed. All methods run on the streams loop.
 */
public final class PipeReader implements EpollIoHandle {
  private static final Logger LOG = LoggerFactory.getLogger(PipeReader.class);
  private static final int READ_SIZE = 512 * 1024;
  /** A "line" longer than this is written out without waiting for its newline. */
  private static final int MAX_PENDING = 1024 * 1024;
  /** Reads per wake-up, so one chatty child cannot starve the others. */
  private static final int READS_PER_EVENT = 8;
  /** One buffer for every pipe on the loop: each read is consumed before the next. */
  private static final ThreadLocal<ByteBuffer> BUFFER =
      ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(READ_SIZE));

  private final FileDescriptor fd;
  private final OutputSink sink;
  private final int pid;
  private final String what;
  private final Runnable onEof;
  private ByteBuffer pending = ByteBuffer.allocate(0);
  private IoRegistration registration;
  private boolean closed;
  private long bytes;

  public PipeReader(int readFd, OutputSink sink, int pid, String what, Runnable onEof) {
    this.fd = new FileDescriptor(readFd);
    this.sink = sink;
    this.pid = pid;
    this.what = what;
    this.onEof = onEof;
  }

  public void registered(IoRegistration reg) {
    this.registration = reg;
    reg.submit(EpollIoOps.EPOLLIN);
  }

  @Override
  public FileDescriptor fd() {
    return fd;
  }

  public long bytes() {
    return bytes;
  }

  @Override
  public void handle(IoRegistration reg, IoEvent event) {
    ByteBuffer buf = BUFFER.get();
    try {
      for (int i = 0; i < READS_PER_EVENT; i++) {
        // The unfinished line from last time goes first, so a read needs exactly one write.
        buf.clear();
        int carried = 0;
        if (pending.position() > 0 && pending.position() < buf.capacity() / 2) {
          pending.flip();
          carried = pending.remaining();
          buf.put(pending);
          pending.clear();
        }
        int n = fd.read(buf, carried, buf.capacity());
        if (n <= 0) {
          if (carried > 0) {
            buf.position(0).limit(carried);
            append(buf);
          }
          if (n < 0) {
            finish();
          }
          return; // 0 is EAGAIN
        }
        bytes += n;
        buf.position(0).limit(carried + n);
        consume(buf, carried);
      }
    } catch (IOException e) {
      LOG.warn("reading {} of pid {}: {}", what, pid, e.toString());
      finish();
    }
  }

  /** {@code buf} holds [0, limit): a carried partial line in [0, from), then fresh bytes. */
  private void consume(ByteBuffer buf, int from) throws IOException {
    int n = buf.limit();
    int last = -1;
    for (int i = n - 1; i >= from; i--) {
      if (buf.get(i) == '\n') {
        last = i;
        break;
      }
    }
    if (last < 0) {
      append(buf);
      if (pending.position() >= MAX_PENDING) {
        flushPending();
      }
      return;
    }
    if (pending.position() > 0) {
      flushPending(); // an over-long line kept outside the buffer precedes everything here
    }
    buf.position(0).limit(last + 1);
    write(buf);
    if (last + 1 < n) {
      buf.limit(n).position(last + 1);
      append(buf);
    }
  }

  private void append(ByteBuffer src) {
    if (pending.remaining() < src.remaining()) {
      ByteBuffer bigger = ByteBuffer.allocate(Math.max(pending.capacity() * 2, pending.position() + src.remaining()));
      pending.flip();
      bigger.put(pending);
      pending = bigger;
    }
    pending.put(src);
  }

  private void flushPending() throws IOException {
    pending.flip();
    if (pending.hasRemaining()) {
      write(pending);
    }
    pending.clear();
    if (pending.capacity() > 64 * 1024) {
      pending = ByteBuffer.allocate(0);
    }
  }

  private void write(ByteBuffer buf) {
    try {
      sink.write(buf, pid);
    } catch (IOException e) {
      LOG.warn("writing {} of pid {} to {}: {}", what, pid, sink, e.toString());
    }
  }

  private void finish() {
    if (closed) {
      return;
    }
    try {
      flushPending();
    } catch (IOException e) {
      LOG.warn("flushing {} of pid {}: {}", what, pid, e.toString());
    }
    if (registration != null) {
      registration.cancel();
    }
    close();
    onEof.run();
  }

  /** Drains what is left (the process has exited) and stops reading. */
  public void drainAndClose() {
    handle(registration, null);
    finish();
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      try {
        fd.close();
      } catch (IOException e) {
        Posix.closeQuietly(fd.intValue());
      }
    }
  }
}
