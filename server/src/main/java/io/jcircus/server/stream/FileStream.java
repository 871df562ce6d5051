package io.jcircus.server.stream;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Circus's FileStream: appends, and with {@code max_bytes} and {@code backup_count} rotates like Python's
 * RotatingFileHandler ({@code file.1} … {@code file.N}). Rotation happens between lines only; a single
 * line longer than {@code max_bytes} gets a file of its own. With {@code watched} it reopens the file when
 * something else (logrotate) moved it away, as WatchedFileStream does.
 */
public class FileStream implements OutputSink {
  private static final Logger LOG = LoggerFactory.getLogger(FileStream.class);

  protected final Path path;
  private final long maxBytes;
  private final int backupCount;
  private final LinePrefixer prefixer;
  private final boolean watched;
  protected FileChannel ch;
  protected long size;
  private Object fileKey;
  private long lastWatchCheck;

  public FileStream(Path path, long maxBytes, int backupCount, LinePrefixer prefixer, boolean watched)
      throws IOException {
    this.path = path;
    this.maxBytes = maxBytes;
    this.backupCount = backupCount;
    this.prefixer = prefixer;
    this.watched = watched;
    open();
  }

  protected final void open() throws IOException {
    Path dir = path.getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
    ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    size = ch.size();
    if (watched) {
      fileKey = Files.readAttributes(path, BasicFileAttributes.class).fileKey();
    }
  }

  @Override
  public void write(ByteBuffer lines, int pid) throws IOException {
    if (ch == null) {
      open();
    }
    if (watched) {
      checkMoved();
    }
    beforeWrite();
    ByteBuffer buf = prefixer == null ? lines : prefixer.apply(lines, pid);
    if (maxBytes <= 0 || backupCount <= 0) {
      writeFully(buf);
      return;
    }
    while (buf.hasRemaining()) {
      long room = maxBytes - size;
      if (buf.remaining() <= room) {
        writeFully(buf);
        return;
      }
      // Largest whole-line prefix that fits.
      int cut = -1;
      for (int i = buf.position() + (int) Math.max(0, Math.min(room, buf.remaining())) - 1; i >= buf.position(); i--) {
        if (buf.get(i) == '\n') {
          cut = i + 1;
          break;
        }
      }
      if (cut < 0 && size == 0) {
        // One line longer than max_bytes: it gets a file to itself.
        for (int i = buf.position(); i < buf.limit(); i++) {
          if (buf.get(i) == '\n') {
            cut = i + 1;
            break;
          }
        }
        if (cut < 0) {
          cut = buf.limit();
        }
      }
      if (cut > buf.position()) {
        int lim = buf.limit();
        buf.limit(cut);
        writeFully(buf);
        buf.limit(lim);
      }
      rotate();
    }
  }

  protected void beforeWrite() throws IOException {}

  private void writeFully(ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      size += ch.write(buf);
    }
  }

  private void checkMoved() throws IOException {
    long now = System.nanoTime();
    if (now - lastWatchCheck < 200_000_000L) {
      return;
    }
    lastWatchCheck = now;
    Object key = null;
    try {
      key = Files.readAttributes(path, BasicFileAttributes.class).fileKey();
    } catch (NoSuchFileException e) {
      // moved away
    }
    if (key == null || !key.equals(fileKey)) {
      ch.close();
      open();
    }
  }

  /** Size rotation: file.N-1 → file.N, …, file → file.1. */
  protected void rotate() throws IOException {
    ch.close();
    for (int i = backupCount - 1; i >= 1; i--) {
      Path src = Path.of(path + "." + i);
      if (Files.exists(src)) {
        Files.move(src, Path.of(path + "." + (i + 1)), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    if (Files.exists(path)) {
      Files.move(path, Path.of(path + ".1"), StandardCopyOption.REPLACE_EXISTING);
    }
    open();
  }

  @Override
  public void close() {
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException e) {
        LOG.warn("closing {}: {}", path, e.toString());
      }
      ch = null;
    }
  }

  @Override
  public String toString() {
    return path.toString();
  }
}
