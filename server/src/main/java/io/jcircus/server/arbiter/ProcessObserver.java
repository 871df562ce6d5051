package io.jcircus.server.arbiter;

import io.jcircus.server.stream.OutputSink;

/**
 * What the metrics see of processes as they happen, on the arbiter loop (and {@link #output}'s sink on the streams
 * loop): how long a spawn took, how long a process took to become ready, and its output. Must not block.
 */
public interface ProcessObserver {
  ProcessObserver NONE = new ProcessObserver() { };

  /** A process of {@code watcher} was spawned; the spawn call took {@code nanos}. */
  default void spawned(String watcher, long nanos) {
  }

  /** A process of {@code watcher} became ready {@code nanos} after its spawn. */
  default void ready(String watcher, long nanos) {
  }

  /** The sink a process's {@code stream} (stdout, stderr) of {@code watcher} writes to: {@code sink}, or a wrapper. */
  default OutputSink output(String watcher, String stream, OutputSink sink) {
    return sink;
  }
}
