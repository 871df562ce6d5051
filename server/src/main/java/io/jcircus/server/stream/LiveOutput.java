package io.jcircus.server.stream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Real-time process output: every whole line a child writes to a captured stdout or stderr is numbered, kept in
 * its watcher's ring of recent lines ({@code output} command, {@code circusctl tail -n}) and, while anyone is
 * subscribed, queued for the output publisher ({@code circusctl tail --follow}).
 *
 * <p>Nothing here can slow a child down: the streams loop hands each chunk over with a non-blocking
 * {@code offer}; when the bounded queue is full the chunk is dropped and counted, and the subscriber sees the
 * gap in the sequence numbers. Sequence numbers are per watcher ({@code seq}, one per line, across its
 * processes and both streams) and per process ({@code pseq}), so a subscriber to one process can tell a drop
 * from another process's line too.
 */
public final class LiveOutput {
  /** A published piece is at most this big (split at line ends; a longer single line goes whole). */
  static final int MAX_CHUNK = 64 * 1024;
  /** Recent lines kept per watcher, and the byte bound on them. */
  public static final int RING_LINES = 1000;
  static final int RING_BYTES = 4 * 1024 * 1024;

  /** Whole lines of one process's stream; {@code seq}/{@code pseq} number the first of them. */
  public record Chunk(String watcher, int pid, String stream, double time, long seq, long pseq, int lines,
      byte[] data) { }

  /** One line for the {@code output} command. */
  public record Line(long seq, long pseq, int pid, String stream, double time, String data) { }

  private final BlockingQueue<Chunk> queue;
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong published = new AtomicLong();
  private final Map<String, Ring> rings = new ConcurrentHashMap<>();
  private volatile boolean subscribed;
  private volatile String endpoint;

  /** Where ring files go (circusd's runtime directory), asked for the first time one is needed; null: none. */
  private final java.util.function.Supplier<java.nio.file.Path> ringDir;
  private final Map<String, RingFile> ringFiles = new ConcurrentHashMap<>();
  private volatile java.util.Set<String> ringFollowed = java.util.Set.of();

  public LiveOutput(int queueChunks) {
    this(queueChunks, null);
  }

  public LiveOutput(int queueChunks, java.util.function.Supplier<java.nio.file.Path> ringDir) {
    this.queue = new ArrayBlockingQueue<>(queueChunks);
    this.ringDir = ringDir;
  }

  /** The publisher's side of the queue. */
  public BlockingQueue<Chunk> queue() {
    return queue;
  }

  private volatile java.util.Set<String> topics = java.util.Set.of();

  /** The topic a local follower subscribes to instead of the chunks: nothing is ever published on it. */
  public static final String RING_TOPIC = "ring.";

  /**
   * Set by the publisher: the topic prefixes subscribed to (nothing is queued while there are none).
   * {@code ring.WATCHER} is a local follower reading {@link RingFile}: its file is made before the subscription
   * shows in {@link #isSubscribed}, and chunks are written to it from then on.
   */
  public void subscribed(java.util.Set<String> current) {
    java.util.Set<String> followed = new java.util.HashSet<>();
    boolean chunks = false;
    for (String t : current) {
      if (t.startsWith(RING_TOPIC)) {
        String w = t.substring(RING_TOPIC.length());
        if (ringFiles.containsKey(w) || openRing(w)) {
          followed.add(w);
        }
      } else {
        chunks = true;
      }
    }
    ringFollowed = java.util.Set.copyOf(followed);
    topics = java.util.Set.copyOf(current);
    subscribed = chunks;
    // the last local follower of a watcher has gone (XPUB reports the last unsubscribe): its 8 MiB go too; a
    // chunk the streams loop is writing at this moment lands in the unlinked file's mapping, harmlessly
    ringFiles.keySet().removeIf(w -> {
      if (followed.contains(w)) {
        return false;
      }
      RingFile f = ringFiles.get(w);
      if (f != null) {
        f.close();
      }
      return true;
    });
  }

  private boolean openRing(String watcher) {
    java.nio.file.Path dir = ringDir == null ? null : ringDir.get();
    if (dir == null) {
      return false;
    }
    String safe = watcher.replaceAll("[^A-Za-z0-9_.-]", "_");
    java.nio.file.Path f = dir.resolve("output-" + safe + "-" + Integer.toHexString(watcher.hashCode()) + ".ring");
    try {
      ringFiles.put(watcher, new RingFile(f, new java.security.SecureRandom().nextLong()));
      return true;
    } catch (IOException e) {
      org.slf4j.LoggerFactory.getLogger(LiveOutput.class).warn("cannot create {}: {} (local followers of {}"
          + " read the output endpoint instead)", f, e.toString(), watcher);
      return false;
    }
  }

  /** The ring file of {@code watcher} once a local follower asked for it (null before, or if none can be made). */
  public RingFile ringFile(String watcher) {
    return ringFiles.get(watcher);
  }

  /**
   * Whether the publisher has seen a subscription to {@code prefix}: from then on every chunk for it is queued,
   * so a client that reads the ring after this returns true misses nothing in between.
   */
  public boolean isSubscribed(String prefix) {
    return topics.contains(prefix);
  }

  /** The publisher's bound endpoint (an ephemeral port resolved), once bound. */
  public String endpoint() {
    return endpoint;
  }

  public void endpoint(String bound) {
    endpoint = bound;
  }

  /** Chunks dropped because the publisher's queue was full. */
  public long dropped() {
    return dropped.get();
  }

  /** Chunks handed to the publisher. */
  public long published() {
    return published.get();
  }

  /**
   * The two sinks for one process: each line goes to {@code stdout}/{@code stderr} (the configured stream, or
   * null for none) and to the live output.
   */
  public OutputSink[] sinks(String watcher, int pid, OutputSink stdout, OutputSink stderr) {
    long[] pseq = new long[1]; // shared by the process's two streams; both run on the streams loop
    return new OutputSink[] {new Tee(watcher, pid, "stdout", stdout, pseq), new Tee(watcher, pid, "stderr", stderr, pseq)};
  }

  /** The last {@code n} lines of {@code watcher} (optionally one pid / one stream), or those after {@code since}. */
  public List<Line> lines(String watcher, Integer pid, String stream, int n, Long since) {
    Ring r = rings.get(watcher);
    return r == null ? List.of() : r.lines(pid, stream, n, since);
  }

  /** The sequence number the next line of {@code watcher} will get. */
  public long nextSeq(String watcher) {
    Ring r = rings.get(watcher);
    return r == null ? 1 : r.nextSeq();
  }

  /** Forgets a removed watcher's lines. */
  public void forget(String watcher) {
    rings.remove(watcher);
    RingFile f = ringFiles.remove(watcher);
    if (f != null) {
      f.close();
    }
  }

  private final class Tee implements OutputSink {
    final String watcher;
    final int pid;
    final String stream;
    final OutputSink inner;
    final long[] pseq;

    Tee(String watcher, int pid, String stream, OutputSink inner, long[] pseq) {
      this.watcher = watcher;
      this.pid = pid;
      this.stream = stream;
      this.inner = inner;
      this.pseq = pseq;
    }

    @Override
    public void write(ByteBuffer lines, int p) throws IOException {
      int start = lines.position();
      int end = lines.limit();
      try {
        if (inner != null) {
          inner.write(lines, p);
        }
      } finally {
        record(lines.duplicate().limit(end).position(start));
      }
    }

    private void record(ByteBuffer b) {
      Ring ring = rings.computeIfAbsent(watcher, k -> new Ring());
      double now = System.currentTimeMillis() / 1000.0;
      while (b.hasRemaining()) {
        int from = b.position();
        int cut = Math.min(b.limit(), from + MAX_CHUNK);
        if (cut < b.limit()) {
          int nl = -1;
          for (int i = cut - 1; i >= from; i--) {
            if (b.get(i) == '\n') {
              nl = i;
              break;
            }
          }
          if (nl >= 0) {
            cut = nl + 1;
          } else { // one line longer than a chunk: to its end
            cut = from;
            while (cut < b.limit() && b.get(cut) != '\n') {
              cut++;
            }
            cut = Math.min(b.limit(), cut + 1);
          }
        }
        byte[] data = new byte[cut - from];
        b.get(data);
        int count = newlines(data);
        if (data.length > 0 && data[data.length - 1] != '\n') {
          count++; // a last line without newline (the process closed its pipe)
        }
        long first = pseq[0] + 1;
        pseq[0] += count;
        Chunk c = ring.add(watcher, pid, stream, now, first, count, data);
        if (ringFollowed.contains(watcher)) {
          RingFile f = ringFiles.get(watcher);
          if (f != null) {
            f.append(c); // the streams loop is the only writer
          }
        }
        if (subscribed) {
          if (queue.offer(c)) {
            published.incrementAndGet();
          } else {
            dropped.incrementAndGet();
          }
        }
      }
    }

    @Override
    public void close() {
      // the configured sink is the watcher's to close (it may be shared); a tee holds nothing of its own
    }
  }

  private static final java.lang.invoke.VarHandle LONGS =
      java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class, java.nio.ByteOrder.LITTLE_ENDIAN);

  /** Counts '\n' eight bytes at a time (every byte of a child's output passes here). */
  static int newlines(byte[] d) {
    int count = 0;
    int i = 0;
    for (int end = d.length - 7; i < end; i += 8) {
      long x = (long) LONGS.get(d, i) ^ 0x0A0A0A0A0A0A0A0AL; // a '\n' byte becomes 0
      long t = ((x & 0x7F7F7F7F7F7F7F7FL) + 0x7F7F7F7F7F7F7F7FL) | x; // high bit set in every non-zero byte
      count += Long.bitCount(~t & 0x8080808080808080L);
    }
    for (; i < d.length; i++) {
      if (d[i] == '\n') {
        count++;
      }
    }
    return count;
  }

  /** One watcher's recent chunks. */
  private static final class Ring {
    private final ArrayDeque<Chunk> chunks = new ArrayDeque<>();
    private long next = 1;
    private int lines;
    private int bytes;

    synchronized long nextSeq() {
      return next;
    }

    synchronized Chunk add(String watcher, int pid, String stream, double time, long pseq, int count, byte[] data) {
      Chunk c = new Chunk(watcher, pid, stream, time, next, pseq, count, data);
      next += count;
      chunks.addLast(c);
      lines += count;
      bytes += data.length;
      while (chunks.size() > 1 && (lines - chunks.peekFirst().lines() >= RING_LINES || bytes > RING_BYTES)) {
        Chunk old = chunks.removeFirst();
        lines -= old.lines();
        bytes -= old.data().length;
      }
      return c;
    }

    synchronized List<Line> lines(Integer pid, String stream, int n, Long since) {
      List<Line> out = new ArrayList<>();
      for (Iterator<Chunk> it = chunks.descendingIterator(); it.hasNext() && (since != null || out.size() < n); ) {
        Chunk c = it.next();
        if (since != null && c.seq() + c.lines() - 1 <= since) {
          break;
        }
        if ((pid != null && c.pid() != pid) || (stream != null && !stream.equals(c.stream()))) {
          continue;
        }
        List<Line> mine = split(c);
        for (int i = mine.size() - 1; i >= 0 && (since != null || out.size() < n); i--) {
          if (since == null || mine.get(i).seq() > since) {
            out.add(mine.get(i));
          }
        }
      }
      java.util.Collections.reverse(out);
      return out;
    }

    private static List<Line> split(Chunk c) {
      List<Line> out = new ArrayList<>(c.lines());
      byte[] d = c.data();
      int from = 0;
      long k = 0;
      for (int i = 0; i <= d.length; i++) {
        if (i == d.length ? from < d.length : d[i] == '\n') {
          out.add(new Line(c.seq() + k, c.pseq() + k, c.pid(), c.stream(), c.time(),
              new String(d, from, i - from, StandardCharsets.UTF_8)));
          k++;
          from = i + 1;
        }
      }
      return out;
    }
  }
}
