package io.jcircus.server.arbiter;

import io.jcircus.server.config.StreamConfig;
import io.jcircus.server.config.WatcherConfig;
import io.jcircus.server.internal.posix.Fd;
import io.jcircus.server.stream.LiveOutput;
import io.jcircus.server.stream.OutputSink;
import io.jcircus.server.stream.PipeReader;
import io.jcircus.server.stream.StdoutStream;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import java.io.IOException;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a watcher's processes' output goes: its stdout/stderr streams (opened at start, closed once the watcher
 * has stopped and the last pipe has drained), live output's rings and publisher, and the pipe readers on the
 * streams loop. Runs on the arbiter loop, except the readers.
 */
final class WatcherOutput {
  private static final Logger LOG = LoggerFactory.getLogger(WatcherOutput.class);
  /** Where output goes when no stream is configured but circusd captures it for live output: its own fds. */
  private static final OutputSink PASS_STDOUT = new StdoutStream(null);
  private static final OutputSink PASS_STDERR = StdoutStream.stderr();

  private final WatcherHost host;
  private final IoEventLoop loop;
  private OutputSink stdout;
  private OutputSink stderr;
  private int openReaders;

  WatcherOutput(WatcherHost host, IoEventLoop loop) {
    this.host = host;
    this.loop = loop;
  }

  /** Opens the configured streams not open yet (at each start). */
  void open(WatcherConfig cfg) throws IOException {
    if (stdout == null && cfg.stdoutStream != null && !cfg.closeChildStdout) {
      stdout = open(cfg, cfg.stdoutStream);
    }
    if (stderr == null && cfg.stderrStream != null && !cfg.closeChildStderr) {
      stderr = open(cfg, cfg.stderrStream);
    }
  }

  private OutputSink open(WatcherConfig cfg, StreamConfig sc) throws IOException {
    return host.streams().open(sc, cfg.name.hashCode());
  }

  OutputSink stdout() {
    return stdout;
  }

  OutputSink stderr() {
    return stderr;
  }

  /** Reads {@code p}'s pipes (either may be closed: nothing to read) into the streams and live output. */
  void attach(String watcher, ManagedProcess p, Fd out, Fd err, Runnable onDrained) {
    OutputSink o = stdout;
    OutputSink e = stderr;
    LiveOutput live = host.liveOutput();
    if (live != null) {
      OutputSink[] tees = live.sinks(watcher.toLowerCase(Locale.ROOT), p.pid,
          o != null ? o : PASS_STDOUT, e != null ? e : PASS_STDERR);
      o = tees[0];
      e = tees[1];
    }
    ProcessObserver obs = host.observer();
    if (o != null) {
      o = obs.output(watcher, "stdout", o);
    }
    if (e != null) {
      e = obs.output(watcher, "stderr", e);
    }
    if (out.isOpen()) {
      read(watcher, p, out.release(), o, "stdout", onDrained);
    }
    if (err.isOpen()) {
      read(watcher, p, err.release(), e, "stderr", onDrained);
    }
  }

  private void read(String watcher, ManagedProcess p, int fd, OutputSink sink, String what, Runnable onDrained) {
    openReaders++;
    Runnable closed = () -> loop.execute(() -> {
      openReaders--;
      onDrained.run();
    });
    PipeReader r = new PipeReader(fd, sink, p.pid, what, closed);
    p.pipes.add(r);
    IoEventLoop streams = host.streamsLoop();
    streams.execute(() -> streams.register(r).addListener(x -> {
      if (x.isSuccess()) {
        r.registered((IoRegistration) x.getNow());
      } else {
        LOG.warn("watcher {}: cannot read {} of pid {}: {}", watcher, what, p.pid, x.cause().toString());
        r.close();
        closed.run();
      }
    }));
  }

  /** Closes the streams if no pipe is still being read; call once the watcher has stopped, and as pipes drain. */
  void closeIfDrained() {
    if (openReaders > 0) {
      return;
    }
    OutputSink out = stdout;
    OutputSink err = stderr;
    stdout = null;
    stderr = null;
    if (out != null || err != null) {
      host.streamsLoop().execute(() -> {
        if (out != null) {
          out.close();
        }
        if (err != null) {
          err.close();
        }
      });
    }
  }
}
