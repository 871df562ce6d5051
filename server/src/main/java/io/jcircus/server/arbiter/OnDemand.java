package io.jcircus.server.arbiter;

import io.netty.channel.IoEventLoop;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * on_demand: a stopped watcher starts when a connection is pending on one of its sockets. Unlike Circus (whose
 * check only works for the first watcher it sweeps), every on-demand watcher gets its own watches. Arbiter loop.
 */
final class OnDemand {
  private static final Logger LOG = LoggerFactory.getLogger(Arbiter.class);

  private final IoEventLoop loop;
  private final BooleanSupplier stopping;
  private final List<SocketReadyWatch> armed = new ArrayList<>();

  OnDemand(IoEventLoop loop, BooleanSupplier stopping) {
    this.loop = loop;
    this.stopping = stopping;
  }

  /** Starts {@code w} at the first connection pending on one of {@code sockets}; at once if none can be watched. */
  void arm(Watcher w, List<ManagedSocket> sockets) {
    List<SocketReadyWatch> mine = new ArrayList<>();
    Runnable fire = () -> {
      for (SocketReadyWatch x : mine) {
        x.cancel();
      }
      armed.removeAll(mine);
      if (!stopping.getAsBoolean() && w.state() == Watcher.State.STOPPED) {
        LOG.info("watcher {}: connection pending, starting on demand", w.name());
        w.serialize(w::start);
      }
    };
    for (ManagedSocket s : sockets) {
      if (!s.isBound()) {
        continue;
      }
      try {
        mine.add(SocketReadyWatch.arm(loop, s.fd(), fire));
      } catch (IOException e) {
        LOG.error("watcher {}: cannot watch socket '{}' for on_demand: {}", w.name(), s.name(), e.getMessage());
      }
    }
    if (mine.isEmpty()) {
      LOG.warn("watcher {}: on_demand without a bound socket; starting it now", w.name());
      w.serialize(w::start);
      return;
    }
    armed.addAll(mine);
    LOG.info("watcher {}: waiting for a connection (on_demand)", w.name());
  }

  /** circusd is stopping: nothing starts on demand any more. */
  void cancelAll() {
    for (SocketReadyWatch x : armed) {
      x.cancel();
    }
    armed.clear();
  }
}
