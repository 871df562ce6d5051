package io.jcircus.server.stream;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeFormatter;

/** Circus's per-line prefix {@code <time> [<pid>] | }, with optional ANSI colour. */
final class LinePrefixer {
  private final DateTimeFormatter format;
  private final String colour;

  LinePrefixer(DateTimeFormatter format, String colour) {
    this.format = format;
    this.colour = colour;
  }

  ByteBuffer apply(ByteBuffer lines, int pid) {
    byte[] prefix =
        ((colour == null ? "" : colour) + format.format(Instant.now()) + " [" + pid + "] | ")
            .getBytes(StandardCharsets.UTF_8);
    byte[] reset = colour == null ? new byte[0] : "\033[0m".getBytes(StandardCharsets.US_ASCII);
    int n = lines.remaining();
    int count = 0;
    for (int i = lines.position(); i < lines.limit(); i++) {
      if (lines.get(i) == '\n') {
        count++;
      }
    }
    if (n > 0 && lines.get(lines.limit() - 1) != '\n') {
      count++;
    }
    ByteBuffer out = ByteBuffer.allocate(n + count * (prefix.length + reset.length));
    boolean atStart = true;
    for (int i = lines.position(); i < lines.limit(); i++) {
      byte c = lines.get(i);
      if (atStart) {
        out.put(prefix);
        atStart = false;
      }
      if (c == '\n') {
        out.put(reset);
        atStart = true;
      }
      out.put(c);
    }
    if (!atStart) {
      out.put(reset);
    }
    out.flip();
    return out;
  }
}
