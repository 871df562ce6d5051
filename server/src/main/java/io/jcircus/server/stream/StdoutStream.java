package io.jcircus.server.stream;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/** Circus's StdoutStream and FancyStdoutStream: whole lines to circusd's own stdout. */
public final class StdoutStream implements OutputSink {
  private static final FileChannel OUT = new FileOutputStream(FileDescriptor.out).getChannel();
  private final LinePrefixer prefixer;

  public StdoutStream(LinePrefixer prefixer) {
    this.prefixer = prefixer;
  }

  @Override
  public void write(ByteBuffer lines, int pid) throws IOException {
    ByteBuffer buf = prefixer == null ? lines : prefixer.apply(lines, pid);
    while (buf.hasRemaining()) {
      OUT.write(buf);
    }
  }

  @Override
  public void close() {}
}
