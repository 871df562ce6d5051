package io.jcircus.server.stream;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Where a watcher's stdout or stderr goes. Called on the streams event loop only, always with whole
 * lines (a final unterminated line is delivered once its process closes the pipe), so processes sharing
 * a sink never interleave mid-line.
 */
public interface OutputSink {
  /** Writes {@code lines} (position to limit) produced by process {@code pid}. */
  void write(ByteBuffer lines, int pid) throws IOException;

  /** Releases the file; idempotent. */
  void close();
}
