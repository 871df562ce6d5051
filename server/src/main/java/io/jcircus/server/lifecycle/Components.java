package io.jcircus.server.lifecycle;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts components in order and stops those that started in reverse order, each stop bounded by its
 * {@link LifeCycle#stopTimeout}: a component whose stop hangs is left behind with a log line, and the rest
 * still stop. If a start fails, what already started is stopped before the failure is thrown.
 */
public final class Components {
  private static final Logger LOG = LoggerFactory.getLogger(Components.class);
  private final Deque<LifeCycle> started = new ArrayDeque<>();

  /** Starts {@code c}; on failure stops everything started so far (in reverse) and rethrows. */
  public synchronized void start(LifeCycle c) throws IOException {
    try {
      c.start();
    } catch (IOException | RuntimeException e) {
      LOG.debug("{} did not start: {}", c.name(), e.toString());
      stopAll();
      throw e;
    } catch (LinkageError e) { // a class missing from the installation: the daemon stops, it does not hang half-up
      LOG.debug("{} did not start: {}", c.name(), e.toString());
      stopAll();
      throw new IOException(c.name() + ": " + e, e);
    }
    started.push(c);
  }

  /** Stops every started component, last started first. Returns the names of those that did not stop in time. */
  public synchronized java.util.List<String> stopAll() {
    java.util.List<String> late = new java.util.ArrayList<>();
    while (!started.isEmpty()) {
      LifeCycle c = started.pop();
      Thread t = new Thread(() -> {
        try {
          c.stop();
        } catch (RuntimeException e) {
          LOG.warn("stopping {} failed: {}", c.name(), e.toString());
        }
      }, "jcircus-stop-" + c.name());
      t.setDaemon(true);
      t.start();
      try {
        t.join(c.stopTimeout().toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (t.isAlive()) {
        LOG.error("{} did not stop within {} ms; going on without it", c.name(),
            TimeUnit.MILLISECONDS.convert(c.stopTimeout()));
        late.add(c.name());
      }
    }
    return late;
  }
}
