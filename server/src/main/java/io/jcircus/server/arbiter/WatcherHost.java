package io.jcircus.server.arbiter;

import io.jcircus.server.stream.LiveOutput;
import io.jcircus.server.stream.Streams;
import io.netty.channel.IoEventLoop;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What a {@link Watcher} needs of the daemon, and all it may reach: the arbiter implements it, a watcher never sees
 * the arbiter itself. Every method is called on the arbiter loop.
 */
interface WatcherHost {
  /** Publishes {@code watcher.<topic>.<event>} to every event listener. */
  void publish(String watcherTopic, String event, Map<String, Object> payload);

  /** Who is told of spawns, readiness and output (the metrics); {@link ProcessObserver#NONE} without them. */
  ProcessObserver observer();

  /** The child guardian, told of every process spawned and reaped. */
  Guardian guardian();

  /** The daemon's sockets, in configuration order. */
  List<ManagedSocket> sockets();

  /** The socket named {@code name} (case-insensitive), or null. */
  ManagedSocket socket(String name);

  /** Real-time output, or null when it is off. */
  LiveOutput liveOutput();

  /** The output streams (files, circusd's stdout) and the loop their writes run on. */
  Streams streams();

  IoEventLoop streamsLoop();

  /** circusd's private runtime directory (sd_notify sockets). */
  Path runtimeDir() throws IOException;

  int euid();

  int egid();

  /** An on-demand watcher that stopped waits for the next connection on its sockets. */
  void armOnDemand(Watcher w);

  /** False for a cluster singleton this node does not hold: nothing may start it here. */
  boolean mayRun(Watcher w);
}
