package io.jcircus.server.stream;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/** Circus's StdoutStream and FancyStdoutStream: whole lines to circusd's own stdout. */
public final class StdoutStream implements OutputSink {
  private static final FileChannel STDOUT = new FileOutputStream(FileDescriptor.out).getChannel();
  private static final FileChannel STDERR = new FileOutputStream(FileDescriptor.err).getChannel();
  private final LinePrefixer prefixer;
  private final FileChannel out;

  public StdoutStream(LinePrefixer prefixer) {
    this(prefixer, STDOUT);
  }

  private StdoutStream(LinePrefixer prefixer, FileChannel out) {
    this.prefixer = prefixer;
    this.out = out;
  }

  /** Whole lines to circusd's own stderr, unprefixed. */
  public static StdoutStream stderr() {
    return new StdoutStream(null, STDERR);
  }

  @Override
  public void write(ByteBuffer lines, int pid) throws IOException {
    ByteBuffer buf = prefixer == null ? lines : prefixer.apply(lines, pid);
    while (buf.hasRemaining()) {
      out.write(buf);
    }
  }

  @Override
  public void close() {}
}
