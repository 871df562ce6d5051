package io.jcircus.server.arbiter;

import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.config.SocketConfig;
import io.jcircus.server.config.WatcherConfig;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@code reloadconfig} does with a configuration read again; a configuration error has left everything
 * running as it was before this is made. Sockets: new ones are bound, removed ones closed, changed ones (a new
 * port, Circus #772) re-bound with the watchers that use them restarted. Watchers: new ones added (started if
 * autostart), removed ones stopped, changed ones recreated, a change of numprocesses alone resized in place; all in
 * priority order (#1109). [circus] changes need a restart of circusd and are reported, not applied. Arbiter loop.
 */
final class ConfigChange {
  private static final Logger LOG = LoggerFactory.getLogger(Arbiter.class);

  private final Arbiter a;
  private final CircusConfig next;

  ConfigChange(Arbiter a, CircusConfig next) {
    this.a = a;
    this.next = next;
  }

  Future<List<String>> apply() throws io.jcircus.protocol.ConfigException {
    List<String> notes = new ArrayList<>(next.warnings);
    if (!next.endpoint.equals(a.config().endpoint) || !next.pubsubEndpoint.equals(a.config().pubsubEndpoint)
        || next.checkDelay != a.config().checkDelay) {
      notes.add("[circus] changes need a restart of circusd; not applied");
    }
    // Sockets first: bind what is new or changed before any watcher needs it.
    java.util.Set<String> changedSockets = new java.util.HashSet<>();
    Map<String, ManagedSocket> bound = new TreeMap<>();
    try {
      for (SocketConfig sc : next.sockets) {
        ManagedSocket old = a.sockets.get(sc.name());
        if (old != null && old.config().equals(sc)) {
          continue;
        }
        if (old != null) {
          old.close(); // the same address may be re-bound below
          changedSockets.add(sc.name());
        }
        ManagedSocket s = new ManagedSocket(sc, a.socketsGroup);
        s.bind();
        bound.put(sc.name(), s);
      }
    } catch (IOException e) {
      for (ManagedSocket s : bound.values()) {
        s.close();
      }
      throw new io.jcircus.protocol.ConfigException(a.config().file, "reloadconfig: " + e.getMessage()
          + " (a.sockets changed so far were closed; restart circusd if a changed socket is missing)");
    }
    for (String name : new ArrayList<>(a.sockets.keySet())) {
      if (next.socket(name) == null) {
        a.sockets.remove(name).close();
      }
    }
    a.sockets.putAll(bound);
    for (ManagedSocket s : bound.values()) {
      LOG.info("reloadconfig: {}", s);
    }
    a.offerSockets();
    List<Future<?>> steps = new ArrayList<>();
    Map<String, WatcherConfig> wanted = new TreeMap<>();
    for (WatcherConfig wc : next.watchers) {
      wanted.put(wc.name.toLowerCase(Locale.ROOT), wc);
    }
    for (Watcher w : new ArrayList<>(a.watchers)) {
      if (!wanted.containsKey(w.name().toLowerCase(Locale.ROOT))) {
        steps.add(a.removeWatcher(w, false));
      }
    }
    List<WatcherConfig> order = new ArrayList<>(next.watchers);
    order.sort(Comparator.comparingInt((WatcherConfig wc) -> wc.priority).reversed());
    for (WatcherConfig wc : order) {
      Watcher old = a.watcher(wc.name);
      if (old != null && a.replacements.containsKey(old)) {
        a.replacements.put(old, new Watcher(a, wc, a.loop())); // still stopping: it will be replaced by this one
        continue;
      }
      if (old == null || old.isRemoved()) {
        // a watcher of that name still stopping after rm: the new one comes once it is gone
        Future<Void> gone = old == null ? a.loop().newSucceededFuture(null) : a.removal(wc.name);
        Promise<Void> step = a.loop().newPromise();
        gone.addListener(g -> {
          Watcher w = a.addWatcher(wc);
          if (wc.autostart && !wc.onDemand) {
            w.serialize(w::start).addListener(x -> step.trySuccess(null));
            return;
          } else if (wc.onDemand) {
            a.armOnDemand(w);
          }
          step.trySuccess(null);
        });
        steps.add(step);
        continue;
      }
      boolean usesChanged = false;
      for (String ref : wc.socketRefs) {
        usesChanged |= changedSockets.contains(ref);
      }
      WatcherConfig oc = old.config();
      Map<String, String> was = new TreeMap<>(oc.raw);
      Map<String, String> now = new TreeMap<>(wc.raw);
      was.remove("numprocesses");
      now.remove("numprocesses");
      if (!usesChanged && was.equals(now) && oc.env.equals(wc.env)) {
        if (oc.numprocesses != wc.numprocesses || old.numprocesses() != wc.numprocesses) {
          steps.add(old.reconfigure(wc)); // only numprocesses differs: a resize
        }
        continue;
      }
      // Recreated: the old watcher stays listed (stopping, taking no commands) until its last process is
      // reaped, then the new one takes its place; what was queued on the old one is cancelled.
      boolean wasRunning = old.state() != Watcher.State.STOPPED;
      a.replacements.put(old, new Watcher(a, wc, a.loop()));
      old.markRemoved();
      Promise<Void> gone = a.loop().newPromise();
      a.removals.put(old, gone);
      Promise<Void> step = a.loop().newPromise();
      old.preempt(old::stop).addListener(f -> {
        Watcher fresh = a.replacements.remove(old); // the newest configuration, if reloadconfig ran again meanwhile
        int at = a.watchers.indexOf(old);
        if (at >= 0) {
          a.watchers.set(at, fresh);
        } else {
          a.watchers.add(fresh);
        }
        a.removals.remove(old);
        gone.trySuccess(null);
        a.publishUpdated(fresh);
        if (wasRunning || wc.autostart) {
          fresh.serialize(fresh::start).addListener(g -> step.trySuccess(null));
        } else {
          step.trySuccess(null);
        }
      });
      steps.add(step);
    }
    Promise<List<String>> done = a.loop().newPromise();
    int[] left = {steps.size()};
    if (steps.isEmpty()) {
      done.setSuccess(notes);
    }
    for (Future<?> f : steps) {
      f.addListener(x -> {
        if (--left[0] == 0) {
          done.trySuccess(notes);
        }
      });
    }
    return done;
  }
}
