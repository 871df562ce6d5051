package io.jcircus.server.metrics;

/** A watcher as JMX shows it ({@code jcircus:type=Watcher,name=NAME}), refreshed every 2 s; read-only. */
public interface WatcherMXBean {
  String getName();

  String getState();

  /** Processes running now. */
  int getProcesses();

  /** The number of processes it keeps (numprocesses, as incr/decr left it). */
  int getNumprocesses();

  long[] getPids();

  String getCommand();

  /** Processes spawned since circusd started. */
  long getSpawns();
}
