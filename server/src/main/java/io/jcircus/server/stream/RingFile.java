package io.jcircus.server.stream;

import static io.jcircus.protocol.RingLayout.HEADER;
import static io.jcircus.protocol.RingLayout.HEAD_OFFSET;
import static io.jcircus.protocol.RingLayout.MAGIC;
import static io.jcircus.protocol.RingLayout.RECORD_HEADER;
import static io.jcircus.protocol.RingLayout.TOKEN_OFFSET;
import static io.jcircus.protocol.RingLayout.WRAP;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * One watcher's live output in a memory-mapped file, for followers on the same machine and user
 * ({@code circusctl tail --follow}): circusd writes each chunk once, and every local follower reads it from the
 * mapping, so a follower costs circusd nothing per byte (over the output endpoint each one costs a TCP copy).
 *
 * <p>The layout is {@link RingLayout}'s. The writer stores a record, then publishes it by
 * a release store of {@code head}; a reader acquires {@code head}, copies the record, and checks that
 * {@code head} is still within half a capacity of the record's start (a record is at most a quarter of the
 * ring, so the writer's unpublished stores stay below {@code head + capacity / 2}); else the copy may be torn,
 * and the follower falls back on the sequence numbers to report or refill what it missed.
 *
 * <p>The file is mode 0600 in circusd's runtime directory; {@code token} (also in the {@code output} reply)
 * lets a follower tell it found this daemon's ring and not a stale file.
 */
public final class RingFile implements AutoCloseable {
  /** Ring bytes per followed watcher. */
  static final int CAPACITY = 8 * 1024 * 1024;

  static final VarHandle LONG =
      MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  private final Path path;
  private final FileChannel channel;
  private final MappedByteBuffer map;
  private final int capacity;
  private final long token;
  private long head;

  RingFile(Path path, long token) throws IOException {
    this(path, token, CAPACITY);
  }

  RingFile(Path path, long token, int capacity) throws IOException {
    this.path = path;
    this.capacity = capacity;
    this.token = token;
    Files.deleteIfExists(path);
    channel = FileChannel.open(path, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    map = channel.map(FileChannel.MapMode.READ_WRITE, 0, HEADER + (long) capacity);
    map.order(ByteOrder.LITTLE_ENDIAN);
    map.putLong(8, capacity);
    map.putLong(TOKEN_OFFSET, token);
    LONG.setRelease(map, HEAD_OFFSET, 0L);
    map.putLong(0, MAGIC); // last: a reader that sees the magic sees the rest of the header
  }

  public Path path() {
    return path;
  }

  public long token() {
    return token;
  }

  /** Appends one chunk; a chunk bigger than a quarter of the ring is left out (followers see the gap). */
  void append(LiveOutput.Chunk c) {
    byte[] data = c.data();
    int len = (RECORD_HEADER + data.length + 7) & ~7;
    if (len > capacity / 4) {
      return;
    }
    int pos = (int) (head % capacity);
    if (pos + len > capacity) {
      map.putInt(HEADER + pos, WRAP);
      head += capacity - pos;
      pos = 0;
    }
    int at = HEADER + pos;
    map.putInt(at, len);
    map.putInt(at + 4, c.pid());
    map.putLong(at + 8, c.seq());
    map.putLong(at + 16, c.pseq());
    map.putDouble(at + 24, c.time());
    map.putInt(at + 32, c.lines());
    map.putInt(at + 36, data.length);
    map.put(at + 40, (byte) (c.stream().equals("stderr") ? 1 : 0));
    map.put(at + RECORD_HEADER, data);
    head += len;
    LONG.setRelease(map, HEAD_OFFSET, head);
  }

  @Override
  public void close() {
    try {
      channel.close(); // the mapping stays valid until collected; readers keep theirs
      Files.deleteIfExists(path);
    } catch (IOException e) {
      // the runtime directory is removed at exit anyway
    }
  }
}
