package io.jcircus.server.stream;

import io.jcircus.server.config.StreamConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Builds sinks from stream configurations. Watchers (and a watcher's stdout and stderr) naming the same
 * file share one sink, so rotation stays consistent and lines from every writer stay whole.
 */
public final class Streams {
  private static final Map<String, String> COLOURS =
      Map.of(
          "red", "\033[0;31m", "green", "\033[0;32m", "yellow", "\033[0;33m", "blue", "\033[0;34m",
          "magenta", "\033[0;35m", "cyan", "\033[0;36m", "white", "\033[0;37m");

  private final Map<Path, Shared> files = new HashMap<>();

  private final class Shared implements OutputSink {
    final Path path;
    final OutputSink sink;
    int refs = 1;

    Shared(Path path, OutputSink sink) {
      this.path = path;
      this.sink = sink;
    }

    @Override
    public void write(java.nio.ByteBuffer lines, int pid) throws IOException {
      sink.write(lines, pid);
    }

    @Override
    public void close() {
      synchronized (Streams.this) {
        if (--refs == 0) {
          files.remove(path);
          sink.close();
        }
      }
    }
  }

  /** Opens (or shares) the sink for {@code cfg}; the caller closes it when done. */
  public synchronized OutputSink open(StreamConfig cfg, int colourSeed) throws IOException {
    String cls = cfg.streamClass();
    String timeFormat = cfg.get("time_format", cls.equals("FancyStdoutStream") ? "%Y-%m-%d %H:%M:%S" : null);
    String colour = null;
    if (cls.equals("FancyStdoutStream")) {
      String c = cfg.get("color", null);
      colour = c == null
          ? COLOURS.values().stream().sorted().toList().get(Math.floorMod(colourSeed, COLOURS.size()))
          : COLOURS.get(c.toLowerCase(Locale.ROOT));
      if (colour == null) {
        throw new IOException("unknown color '" + c + "' (expected one of " + COLOURS.keySet() + ")");
      }
    }
    boolean utc = Boolean.parseBoolean(cfg.get("utc", "false"));
    LinePrefixer prefixer = timeFormat == null
        ? null
        : new LinePrefixer(TimeFormat.strftime(timeFormat, utc ? java.time.ZoneOffset.UTC : ZoneId.systemDefault()), colour);
    if (cls.equals("StdoutStream") || cls.equals("FancyStdoutStream")) {
      return new StdoutStream(prefixer);
    }
    Path path = Path.of(cfg.get("filename", null)).toAbsolutePath().normalize();
    Shared s = files.get(path);
    if (s != null) {
      s.refs++;
      return s;
    }
    OutputSink sink;
    switch (cls) {
      case "TimedRotatingFileStream":
        sink = new TimedRotatingFileStream(
            path, cfg.get("rotate_when", "H"), Integer.parseInt(cfg.get("rotate_interval", "1")),
            Integer.parseInt(cfg.get("backup_count", "0")), utc, prefixer);
        break;
      case "WatchedFileStream":
        sink = new FileStream(path, 0, 0, prefixer, true);
        break;
      default:
        sink = new FileStream(
            path, Long.parseLong(cfg.get("max_bytes", "0")), Integer.parseInt(cfg.get("backup_count", "0")),
            prefixer, false);
    }
    s = new Shared(path, sink);
    files.put(path, s);
    return s;
  }
}
