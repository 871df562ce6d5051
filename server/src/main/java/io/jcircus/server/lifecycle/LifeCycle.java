package io.jcircus.server.lifecycle;

import java.io.IOException;
import java.time.Duration;

/**
 * One of circusd's components (the arbiter's sockets and guardian, the control channel, later plugins, the
 * cluster member, the metrics server): started once, stopped once, its stop bounded in time. Jetty's
 * {@code LifeCycle}, reduced to what circusd needs. {@link Components} starts them in order and stops them in
 * reverse.
 */
public interface LifeCycle {
  /** For log lines. */
  String name();

  /** Starts; throws (having released what it took) if it cannot. */
  void start() throws IOException;

  /** Stops and releases everything. Called once, after a successful start; may block up to {@link #stopTimeout}. */
  void stop();

  /** How long {@link #stop} may take before circusd goes on without it (and says so). */
  default Duration stopTimeout() {
    return Duration.ofSeconds(5);
  }

  /** A component made of two steps. */
  static LifeCycle of(String name, Starter start, Runnable stop, Duration stopTimeout) {
    return new LifeCycle() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public void start() throws IOException {
        start.start();
      }

      @Override
      public void stop() {
        stop.run();
      }

      @Override
      public Duration stopTimeout() {
        return stopTimeout;
      }
    };
  }

  /** A start step that may fail. */
  @FunctionalInterface
  interface Starter {
    void start() throws IOException;
  }
}
