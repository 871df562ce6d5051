package io.jcircus.cli;

import io.jcircus.protocol.Json;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * {@code circusctl tail WATCHER [--pid P] [--stdout|--stderr] [-n N] [--follow] [--raw]}: the last lines a
 * watcher's processes wrote, from circusd's ring ({@code output} command), then with {@code --follow} every new
 * line from the output stream until interrupted.
 *
 * <p>Lines carry circusd's sequence numbers, which makes the hand-over from the ring to the stream exact: the
 * subscription is opened first, the ring read second, and a streamed line already printed is skipped. A gap in
 * the numbers (the subscription became live a moment after the ring was read, or this client fell behind and
 * circusd dropped messages for it) is filled from the ring; what the ring no longer holds is reported on stderr
 * as lost, never silently.
 */
final class OutputTail {
  private final Circusctl top;
  private final PrintWriter out;
  private final PrintWriter err;
  private final String watcher;
  private final Integer pid;
  private final String stream;
  private final boolean raw;
  /** Where line bytes go in the fast path; the PrintWriter is flushed around it so the two never interleave. */
  private final java.io.OutputStream bytes;
  /** fd 1 as a channel (one-shot only): raw chunks go from the message's direct buffer to it, no copy. */
  private final java.nio.channels.FileChannel stdout;
  private final DirectChunks chunks = new DirectChunks();
  private byte[] scratch = new byte[64 * 1024];
  /** Highest watcher-wide sequence number printed or skipped so far. */
  private long last;
  private long lost;

  private final boolean local;

  OutputTail(Circusctl top, PrintWriter out, PrintWriter err, String watcher, Integer pid, String stream, boolean raw,
      boolean local) {
    this.local = local;
    this.top = top;
    this.out = out;
    // one-shot: straight to fd 1; in the shell, through its writer (the terminal's)
    this.bytes = Circusctl.session == null
        ? new java.io.BufferedOutputStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), 1 << 16)
        : new java.io.OutputStream() {
            @Override
            public void write(int b) {
              out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
              out.write(new String(b, off, len, StandardCharsets.UTF_8));
            }

            @Override
            public void flush() {
              out.flush();
            }
          };
    this.stdout = Circusctl.session == null
        ? new java.io.FileOutputStream(java.io.FileDescriptor.out).getChannel() : null;
    this.err = err;
    this.watcher = watcher;
    this.pid = pid;
    this.stream = stream;
    this.raw = raw;
  }

  int run(int lines, boolean follow) throws Exception {
    ControlClient client = top.client();
    Map<String, Object> first = output(client, lines, null);
    if (first == null) {
      return Circusctl.ERROR_REPLY;
    }
    if (!follow) {
      printLines(first);
      return Circusctl.OK;
    }
    String endpoint = String.valueOf(first.get("endpoint"));
    String name = String.valueOf(first.get("name"));
    EventListener.interrupted = false;
    try (ZContext ctx = ControlClient.context()) {
      long wait = Math.max(1, (long) (top.timeout * 1000));
      // On circusd's machine (and user), read the watcher's ring file: nothing is copied per follower then.
      // The subscription to ring.NAME is how circusd knows a local follower is there (and when it leaves).
      String ringTopic = "ring." + name;
      ZMQ.Socket sub = ControlClient.open(ctx, SocketType.SUB, endpoint, top.curve(),
          System.nanoTime() + wait * 1_000_000L, wait, s -> {
            s.setLinger(0);
            s.setRcvHWM(0); // this client keeps up or sees the gap; never drops on its own side
            s.setMsgAllocator(chunks); // chunks arrive in (pooled) direct buffers: read and written without copies
            if (local) {
              s.subscribe(ringTopic.getBytes(StandardCharsets.UTF_8));
            }
          }).socket();
      LocalRing ring = null;
      if (local) {
        Map<String, Object> taken = awaitSubscribed(client, 0, ringTopic, wait);
        if (taken == null) {
          return Circusctl.ERROR_REPLY;
        }
        ring = LocalRing.open(taken.get("ring"));
      }
      if (ring != null) {
        long from = ring.head(); // every chunk from here on is in the file; the ones before, in the reply below
        Map<String, Object> recent = output(client, lines, null);
        if (recent == null) {
          return Circusctl.ERROR_REPLY;
        }
        printLines(recent);
        err.println("following " + name + (pid == null ? "" : " pid " + pid) + " on " + ring.path + " (local)");
        err.flush();
        followRing(client, ring, from);
        return finish();
      }
      // not on circusd's machine, or its ring file is not ours to read: the chunks over the output endpoint
      String prefix = io.jcircus.protocol.Topics.outputPrefix(name, pid);
      sub.subscribe(prefix.getBytes(StandardCharsets.UTF_8));
      if (local) {
        sub.unsubscribe(ringTopic.getBytes(StandardCharsets.UTF_8));
      }
      // wait until the daemon's publisher has taken the subscription, so the ring read next holds every line the
      // stream will not bring (bounded by --timeout; the seq numbers still catch anything that slips through)
      Map<String, Object> recent = awaitSubscribed(client, lines, prefix, wait);
      if (recent == null) {
        return Circusctl.ERROR_REPLY;
      }
      printLines(recent);
      err.println("following " + name + (pid == null ? "" : " pid " + pid) + " on " + endpoint);
      err.flush();
      sub.setReceiveTimeOut(200);
      while (!EventListener.interrupted && !Thread.currentThread().isInterrupted()) {
        byte[] topic = sub.recv(0);
        if (topic == null) {
          flush();
          continue;
        }
        if (!sub.hasReceiveMore()) {
          continue;
        }
        Object h = Json.parse(sub.recvStr(0));
        zmq.Msg dm = sub.hasReceiveMore() ? sub.base().recv(0) : null;
        java.nio.ByteBuffer data = dm == null ? java.nio.ByteBuffer.allocate(0) : dm.buf();
        while (sub.hasReceiveMore()) {
          sub.recv(0);
        }
        if (h instanceof Map<?, ?> header) {
          chunk(client, ((Number) header.get("seq")).longValue(), ((Number) header.get("lines")).longValue(),
              ((Number) header.get("pid")).intValue(), String.valueOf(header.get("stream")),
              ((Number) header.get("time")).doubleValue(), data);
        }
        chunks.release(data);
        if ((sub.getEvents() & ZMQ.Poller.POLLIN) == 0) {
          flush(); // nothing more queued: show what was printed
        }
      }
      flush();
    }
    return finish();
  }

  /** Polls {@code output} (with {@code lines} recent lines) until the publisher has taken {@code topic}. */
  private Map<String, Object> awaitSubscribed(ControlClient client, int lines, String topic, long waitMs)
      throws Exception {
    long until = System.nanoTime() + waitMs * 1_000_000L;
    while (true) {
      Map<String, Object> r = output(client, lines, null, true, topic);
      if (r == null || !Boolean.FALSE.equals(r.get("subscribed")) || System.nanoTime() > until) {
        return r;
      }
      Thread.sleep(5);
    }
  }

  /** Follows the ring file from {@code from} until interrupted. */
  private void followRing(ControlClient client, LocalRing ring, long from) throws Exception {
    long pos = from;
    int idle = 0;
    while (!EventListener.interrupted && !Thread.currentThread().isInterrupted()) {
      LocalRing.Record r = ring.next(pos);
      if (r == null) { // caught up: show what was printed, then poll (1 ms while busy, 10 ms once quiet)
        flush();
        Thread.sleep(idle++ < 100 ? 1 : 10);
        if (idle % 200 == 0 && !ring.current()) { // about every 2 s of quiet
          err.println("tail: " + ring.path + " is gone: circusd stopped or restarted");
          err.flush();
          return;
        }
        continue;
      }
      idle = 0;
      pos = r.next;
      if (r.data != null) {
        chunk(client, r.seq, r.lines, r.pid, r.stream, r.time, r.data);
      } else { // lapped by the writer: print what circusd's line ring still holds, count the rest as lost
        Map<String, Object> now = output(client, 0, null);
        if (now != null && now.get("next_seq") instanceof Number n) {
          if (pid == null) {
            fill(client, n.longValue());
          } else {
            err.println("tail: fell behind the writer; lines of pid " + pid + " were lost");
            err.flush();
          }
        }
      }
    }
    flush();
  }

  private int finish() {
    if (lost > 0) {
      err.println("tail: " + lost + " line(s) lost (the daemon dropped them for this subscriber and its ring"
          + " no longer held them)");
    }
    return Circusctl.OK;
  }

  /** One chunk of whole lines, from either transport: printed unless already seen; gaps before it filled. */
  private void chunk(ControlClient client, long seq, long count, int p, String st, double time,
      java.nio.ByteBuffer data) throws Exception {
    if (pid != null && p != pid) {
      return;
    }
    if (pid == null && seq > last + 1) {
      fill(client, seq); // lines before this chunk reached the ring but not this subscriber
    }
    boolean wanted = stream == null || stream.equals(st);
    if (!top.json && seq > last) {
      // the common case, every line new: bytes straight through, no decoding (a subscriber this cheap keeps
      // up with a child writing hundreds of MB/s)
      if (wanted) {
        writeLines(p, st, data);
      }
      last = pid == null ? seq + count - 1 : Math.max(last, seq + count - 1);
    } else {
      int length = data.remaining();
      byte[] a = array(data);
      int from = 0;
      long k = 0;
      for (int i = 0; i <= length; i++) {
        if (i == length ? from < length : a[i] == '\n') {
          long s = seq + k++;
          if (s > last) {
            if (wanted) {
              print(p, st, time, new String(a, from, i - from, StandardCharsets.UTF_8), s);
            }
            last = pid == null ? s : Math.max(last, s);
          }
          from = i + 1;
        }
      }
    }
  }


  /** Prints what the ring still holds between {@link #last} and {@code upTo}; counts the rest as lost. */
  private void fill(ControlClient client, long upTo) throws Exception {
    Map<String, Object> r = output(client, 0, last, false); // every stream: the numbers are counted across both
    if (r == null) {
      return;
    }
    long firstAvailable = Long.MAX_VALUE;
    if (r.get("lines") instanceof List<?> l) {
      for (Object o : l) {
        if (o instanceof Map<?, ?> m) {
          firstAvailable = Math.min(firstAvailable, ((Number) m.get("seq")).longValue());
        }
      }
    }
    long missing = Math.min(firstAvailable, upTo) - (last + 1);
    if (missing > 0) {
      lost += missing;
      err.println("tail: " + missing + " line(s) lost");
      err.flush();
    }
    // only what lies before the chunk in hand: the lines from upTo on are (or will be) in the stream
    printLines(r, upTo);
    last = Math.max(last, upTo - 1);
  }

  /** {@code output} with this tail's filters; null (after printing the error) if circusd refused it. */
  private Map<String, Object> output(ControlClient client, int lines, Long since) throws Exception {
    return output(client, lines, since, true, null);
  }

  private Map<String, Object> output(ControlClient client, int lines, Long since, boolean byStream) throws Exception {
    return output(client, lines, since, byStream, null);
  }

  private Map<String, Object> output(ControlClient client, int lines, Long since, boolean byStream, String prefix)
      throws Exception {
    Map<String, Object> props = new LinkedHashMap<>();
    props.put("name", watcher);
    if (pid != null) {
      props.put("pid", pid);
    }
    if (stream != null && byStream) {
      props.put("stream", stream);
    }
    props.put("lines", lines);
    if (since != null) {
      props.put("since", since);
    }
    if (prefix != null) {
      props.put("prefix", prefix);
    }
    Map<String, Object> r = client.call("output", props);
    if ("error".equals(r.get("status"))) {
      err.println("error: " + r.get("reason"));
      err.flush();
      return null;
    }
    return r;
  }

  private void printLines(Map<String, Object> r) {
    printLines(r, Long.MAX_VALUE);
    if (r.get("next_seq") instanceof Number n && pid == null) {
      last = Math.max(last, n.longValue() - 1); // lines of the other stream up to here are not wanted either
    }
  }

  /** Prints the reply's lines numbered after {@link #last} and before {@code upTo}. */
  private void flushBytes() {
    try {
      bytes.flush();
    } catch (java.io.IOException e) {
      // as in flush()
    }
  }

  private void printLines(Map<String, Object> r, long upTo) {
    List<Object> lines = r.get("lines") instanceof List<?> l ? new ArrayList<>(l) : List.of();
    for (Object o : lines) {
      if (o instanceof Map<?, ?> m) {
        long seq = ((Number) m.get("seq")).longValue();
        String st = String.valueOf(m.get("stream"));
        if (seq > last && seq < upTo) {
          if (stream == null || stream.equals(st)) {
            print(((Number) m.get("pid")).intValue(), st, ((Number) m.get("time")).doubleValue(),
                String.valueOf(m.get("data")), seq);
          }
          last = seq;
        }
      }
    }
    out.flush();
  }

  /** Whole lines of one chunk, as bytes: raw, or each behind its "PID | " / "PID ! " prefix. */
  private void writeLines(int p, String st, java.nio.ByteBuffer data) throws java.io.IOException {
    int length = data.remaining();
    if (raw && stdout != null) {
      bytes.flush(); // what the buffered stream holds goes first
      java.nio.ByteBuffer d = data.duplicate();
      while (d.hasRemaining()) {
        stdout.write(d);
      }
    } else if (raw) {
      bytes.write(array(data), 0, length);
    } else {
      byte[] a = array(data);
      byte[] prefix = (p + (st.equals("stderr") ? " ! " : " | ")).getBytes(StandardCharsets.US_ASCII);
      int from = 0;
      for (int i = 0; i <= length; i++) {
        if (i == length ? from < length : a[i] == '\n') {
          bytes.write(prefix);
          bytes.write(a, from, Math.min(i + 1, length) - from);
          from = i + 1;
        }
      }
    }
    if (length > 0 && data.get(data.limit() - 1) != '\n') {
      bytes.write('\n'); // a last line its process wrote without a newline
    }
  }

  /** The chunk's bytes in an array from index 0 (the scratch array, reused). */
  private byte[] array(java.nio.ByteBuffer data) {
    if (scratch.length < data.remaining()) {
      scratch = new byte[data.remaining()];
    }
    data.duplicate().get(scratch, 0, data.remaining());
    return scratch;
  }

  /**
   * Messages of 16 KiB and more (output chunks) in direct buffers, reused once printed: JeroMQ's decoder reads a
   * large message straight into its buffer, and a direct buffer goes to fd 1 without the copies a heap array
   * costs on both sides (and without 200 MB of garbage per 200 MB followed).
   */
  static final class DirectChunks implements zmq.msg.MsgAllocator {
    static final int THRESHOLD = 16 * 1024;
    static final int SIZE = 128 * 1024;
    private final java.util.concurrent.ConcurrentLinkedQueue<java.nio.ByteBuffer> free =
        new java.util.concurrent.ConcurrentLinkedQueue<>();

    @Override
    public zmq.Msg allocate(int size) {
      if (size < THRESHOLD) {
        return new zmq.Msg(size);
      }
      java.nio.ByteBuffer b = size <= SIZE ? free.poll() : null;
      if (b == null) {
        b = java.nio.ByteBuffer.allocateDirect(Math.max(size, SIZE));
      }
      b.clear().limit(size);
      return new zmq.Msg(b);
    }

    /** Returns a chunk's buffer once its bytes are printed (the Msg's view of it shares the memory). */
    void release(java.nio.ByteBuffer view) {
      if (view.isDirect() && view.capacity() == SIZE && free.size() < 64) {
        free.offer(view.duplicate().clear());
      }
    }
  }

  private void flush() {
    try {
      bytes.flush();
    } catch (java.io.IOException e) {
      // stdout closed (a pipe whose reader left): nothing to show it on
    }
    out.flush();
  }

  private void print(int p, String st, double time, String line, long seq) {
    flushBytes();
    if (top.json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("watcher", watcher);
      m.put("pid", p);
      m.put("stream", st);
      m.put("time", time);
      m.put("seq", seq);
      m.put("data", line);
      out.println(Json.write(m));
    } else if (raw) {
      out.println(line);
    } else {
      out.println(p + (st.equals("stderr") ? " ! " : " | ") + line);
    }
  }
}
