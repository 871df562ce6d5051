package io.jcircus.cli;

import static io.jcircus.protocol.RingLayout.HEADER;
import static io.jcircus.protocol.RingLayout.HEAD_OFFSET;
import static io.jcircus.protocol.RingLayout.MAGIC;
import static io.jcircus.protocol.RingLayout.RECORD_HEADER;
import static io.jcircus.protocol.RingLayout.TOKEN_OFFSET;
import static io.jcircus.protocol.RingLayout.WRAP;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * The reading side of circusd's output ring file ({@link RingLayout} is its
 * layout): a follower on circusd's machine maps it read-only and copies each record out, checking afterwards
 * that the writer has not lapped it meanwhile.
 */
final class LocalRing {
  private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  /** One record; {@code data} is null when the writer overwrote it while it was read (skip to {@code next}). */
  static final class Record {
    long next;
    long seq;
    long lines;
    int pid;
    String stream;
    double time;
    ByteBuffer data;
  }

  final Path path;
  private final MappedByteBuffer map;
  private final long capacity;
  private final Record record = new Record();
  private ByteBuffer copy = ByteBuffer.allocateDirect(128 * 1024);

  private LocalRing(Path path, MappedByteBuffer map) {
    this.path = path;
    this.map = map;
    this.capacity = map.getLong(8);
  }

  /**
   * The ring named in an {@code output} reply ({@code {"path": …, "token": …}}), or null if there is none or it
   * is not this daemon's to read here (another machine, another user, a stale file).
   */
  static LocalRing open(Object info) {
    if (!(info instanceof Map<?, ?> m) || m.get("path") == null || m.get("token") == null) {
      return null;
    }
    Path p = Path.of(String.valueOf(m.get("path")));
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      if (ch.size() < HEADER) {
        return null;
      }
      MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
      map.order(ByteOrder.LITTLE_ENDIAN);
      if (map.getLong(0) != MAGIC || !Long.toString(map.getLong(TOKEN_OFFSET)).equals(String.valueOf(m.get("token")))
          || map.getLong(8) + HEADER != ch.size()) {
        return null;
      }
      return new LocalRing(p, map);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Whether the file at {@link #path} is still the one mapped (circusd unlinks it when it stops). */
  boolean current() {
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      ByteBuffer header = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
      ch.read(header, 0);
      return header.getLong(TOKEN_OFFSET) == map.getLong(TOKEN_OFFSET);
    } catch (IOException e) {
      return false;
    }
  }

  /** Bytes written so far (where a new follower starts). */
  long head() {
    return (long) LONG.getAcquire(map, HEAD_OFFSET);
  }

  /** The record at {@code pos}, or null if none is there yet. The returned object is reused. */
  Record next(long pos) {
    long head = head();
    while (pos < head) {
      if (!safe(pos, head)) { // lapped, or about to be: whatever was at pos is gone or going
        return lapped(head);
      }
      int off = (int) (pos % capacity);
      int len = map.getInt(HEADER + off);
      if (len == WRAP) {
        pos += capacity - off;
        continue;
      }
      if (len < RECORD_HEADER || (len & 7) != 0 || off + len > capacity) {
        return lapped(head()); // torn: overwritten under us
      }
      int at = HEADER + off;
      Record r = record;
      r.pid = map.getInt(at + 4);
      r.seq = map.getLong(at + 8);
      r.time = map.getDouble(at + 24);
      r.lines = map.getInt(at + 32);
      int dataLen = map.getInt(at + 36);
      r.stream = map.get(at + 40) == 1 ? "stderr" : "stdout";
      if (dataLen < 0 || dataLen > len - RECORD_HEADER) {
        return lapped(head());
      }
      if (copy.capacity() < dataLen) {
        copy = ByteBuffer.allocateDirect(dataLen);
      }
      copy.clear();
      copy.put(map.slice(at + RECORD_HEADER, dataLen));
      if (!safe(pos, head())) { // the writer came round while we copied
        return lapped(head());
      }
      copy.flip();
      r.data = copy;
      r.next = pos + len;
      return r;
    }
    return null;
  }

  /**
   * Whether a record at {@code pos} cannot be being overwritten while {@code head} is published: the writer
   * stores a record (at most a quarter of the ring, after wrap padding shorter than that) before it publishes
   * it, so its unpublished writes stay below {@code head + capacity / 2}.
   */
  private boolean safe(long pos, long head) {
    return head - pos <= capacity / 2;
  }

  private Record lapped(long head) {
    record.data = null;
    record.next = head;
    return record;
  }
}
