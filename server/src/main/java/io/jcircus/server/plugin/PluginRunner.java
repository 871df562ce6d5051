package io.jcircus.server.plugin;

import io.jcircus.plugin.Plugin;
import io.jcircus.server.command.CommandError;
import io.jcircus.server.command.Registry;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One plugin, on a thread of its own: its events wait in a bounded queue (past {@link #MAX_QUEUED} they are
 * dropped and counted, so a slow plugin costs events, never the arbiter's time), its methods and timers run one
 * at a time. A plugin that throws {@link #MAX_FAILURES} times in a row, or runs one call past its timeout, is
 * restarted: a new instance on a new thread (a stuck thread is interrupted and abandoned, since Java cannot kill
 * it). After {@link #MAX_RESTARTS} restarts within ten minutes it is disabled until circusd restarts.
 *
 * <p>State is read by any thread (status, list) and changed under this object's lock.
 */
final class PluginRunner {
  private static final Logger LOG = LoggerFactory.getLogger(PluginRunner.class);
  static final int MAX_QUEUED = 10_000;
  static final int MAX_FAILURES = 20;
  static final int MAX_RESTARTS = 3;
  private static final long RESTART_WINDOW_NS = TimeUnit.MINUTES.toNanos(10);

  /** Circus's words for a watcher's state, which list/status show for {@code plugin:NAME}. */
  enum State { active, stopped }

  final String name;
  private final Supplier<Plugin> factory;
  private final Map<String, String> options;
  private final Registry registry;
  private final Duration timeout;

  private volatile ScheduledThreadPoolExecutor thread;
  private Plugin plugin;
  private volatile State state = State.stopped;
  private final AtomicInteger queued = new AtomicInteger();
  private final AtomicLong dropped = new AtomicLong();
  private int failuresInARow;
  private long[] restarts = new long[0];
  /** When the call in progress began (nanoTime), 0 when idle: the host's watchdog reads it. */
  private volatile long busySince;
  private volatile int generation;

  PluginRunner(String name, Supplier<Plugin> factory, Map<String, String> options, Registry registry,
      Duration timeout) {
    this.name = name;
    this.factory = factory;
    this.options = Map.copyOf(options);
    this.registry = registry;
    this.timeout = timeout;
  }

  State state() {
    return state;
  }

  long dropped() {
    return dropped.get();
  }

  /** Starts a new instance on a new thread; the instance is made and initialised there. */
  synchronized void start() {
    int gen = ++generation;
    ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, r -> {
      Thread th = new Thread(r, "plugin-" + name);
      th.setDaemon(true);
      return th;
    });
    t.setRemoveOnCancelPolicy(true);
    thread = t;
    queued.set(0);
    failuresInARow = 0;
    state = State.active;
    t.execute(() -> guarded(gen, "init", () -> {
      Plugin p = factory.get();
      synchronized (this) {
        if (gen != generation) {
          return;
        }
        plugin = p;
      }
      p.init(new Ctx(gen));
    }));
  }

  /** An event from the arbiter loop: queued for the plugin, or dropped if its queue is full. Never blocks. */
  void offer(String watcher, String event, Map<String, Object> payload) {
    ScheduledThreadPoolExecutor t = thread;
    if (state != State.active || t == null) {
      return;
    }
    if (queued.incrementAndGet() > MAX_QUEUED) {
      queued.decrementAndGet();
      if (dropped.incrementAndGet() % 1000 == 1) {
        LOG.warn("plugin {}: its queue is full ({} events); {} event(s) dropped so far", name, MAX_QUEUED,
            dropped.get());
      }
      return;
    }
    int gen = generation;
    try {
      t.execute(() -> {
        queued.decrementAndGet();
        guarded(gen, "event " + event, () -> {
          Plugin p = plugin;
          if (p != null) {
            p.event(watcher, event, payload);
          }
        });
      });
    } catch (RejectedExecutionException e) {
      queued.decrementAndGet(); // restarted or stopped meanwhile
    }
  }

  private interface Body {
    void run() throws Exception;
  }

  /** Runs one of the plugin's calls, timed for the watchdog, its failure counted. */
  private void guarded(int gen, String what, Body body) {
    if (gen != generation) {
      return; // an abandoned instance's leftovers
    }
    busySince = System.nanoTime() | 1;
    try {
      body.run();
      synchronized (this) {
        failuresInARow = 0;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Throwable e) { // a plugin's bug must not end its thread: it is counted instead
      boolean restart;
      synchronized (this) {
        // an instance that could not start is replaced at once (within the restart limit)
        restart = gen == generation && (++failuresInARow >= MAX_FAILURES || what.equals("init"));
      }
      if (failuresInARow <= 3 || failuresInARow % 10 == 0) {
        LOG.warn("plugin {}: {} failed ({} in a row): {}", name, what, failuresInARow, e.toString());
      }
      if (restart) {
        restart(gen, what.equals("init") ? "init failed" : MAX_FAILURES + " failures in a row");
      }
    } finally {
      busySince = 0;
    }
  }

  /** Called by the host's watchdog every second: a call running past the timeout has the plugin restarted. */
  void checkStuck() {
    long since = busySince;
    if (since != 0 && state == State.active && System.nanoTime() - since > timeout.toNanos()) {
      restart(generation, "a call ran longer than " + timeout.toSeconds() + " s");
    }
  }

  /** Drops the instance of generation {@code gen} and starts a new one, unless it restarted too often. */
  private void restart(int gen, String why) {
    synchronized (this) {
      if (gen != generation || state != State.active) {
        return;
      }
      long now = System.nanoTime();
      long[] recent = java.util.Arrays.stream(restarts).filter(t -> now - t < RESTART_WINDOW_NS).toArray();
      if (recent.length >= MAX_RESTARTS) {
        LOG.error("plugin {}: {}; restarted {} times in 10 minutes already: disabled until circusd restarts", name,
            why, recent.length);
        shutdown();
        return;
      }
      restarts = java.util.stream.LongStream.concat(java.util.Arrays.stream(recent), java.util.stream.LongStream.of(now))
          .toArray();
      LOG.warn("plugin {}: {}; restarting it", name, why);
      shutdown();
    }
    start();
  }

  /** Stops the plugin: its stop() on its thread (bounded), then the thread goes. */
  void stop() {
    Plugin p;
    ScheduledThreadPoolExecutor t;
    synchronized (this) {
      p = plugin;
      t = thread;
      generation++;
      state = State.stopped;
    }
    if (t == null) {
      return;
    }
    if (p != null) {
      try {
        t.submit(() -> {
          p.stop();
          return null;
        }).get(Math.min(timeout.toMillis(), 2000), TimeUnit.MILLISECONDS);
      } catch (ExecutionException e) {
        LOG.warn("plugin {}: stop failed: {}", name, e.getCause().toString());
      } catch (TimeoutException | RejectedExecutionException e) {
        LOG.warn("plugin {}: stop did not return in time", name);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    t.shutdownNow();
  }

  /** Under the lock: the current instance and thread are dropped (interrupted if busy). */
  private void shutdown() {
    generation++;
    state = State.stopped;
    plugin = null;
    if (thread != null) {
      thread.shutdownNow();
      thread = null;
    }
  }

  /** What one instance of the plugin is given; its scheduled tasks die with its generation. */
  private final class Ctx implements Plugin.Context {
    private final int gen;

    Ctx(int gen) {
      this.gen = gen;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public Map<String, String> options() {
      return options;
    }

    @Override
    public Map<String, Object> call(String command, Map<String, Object> properties, Duration wait)
        throws Plugin.CommandException, InterruptedException {
      try {
        return registry.call(command, properties).get(wait.toMillis(), TimeUnit.MILLISECONDS);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof CommandError ce) {
          throw new Plugin.CommandException(ce.errno(), ce.getMessage());
        }
        throw new Plugin.CommandException(io.jcircus.protocol.Errno.COMMAND_ERROR, String.valueOf(e.getCause()));
      } catch (TimeoutException e) {
        throw new Plugin.CommandException(-1, "no reply to '" + command + "' within " + wait);
      }
    }

    @Override
    public void cast(String command, Map<String, Object> properties) {
      registry.call(command, properties).whenComplete((r, e) -> {
        if (e != null) {
          LOG.info("plugin {}: {} {} failed: {}", name, command, properties, e.getMessage());
        }
      });
    }

    @Override
    public Plugin.Cancellable every(Duration period, Runnable task) {
      return schedule(t -> t.scheduleAtFixedRate(() -> guarded(gen, "timer", task::run), period.toNanos(),
          period.toNanos(), TimeUnit.NANOSECONDS));
    }

    @Override
    public Plugin.Cancellable after(Duration delay, Runnable task) {
      return schedule(t -> t.schedule(() -> guarded(gen, "timer", task::run), delay.toNanos(), TimeUnit.NANOSECONDS));
    }

    private Plugin.Cancellable schedule(java.util.function.Function<ScheduledThreadPoolExecutor, ScheduledFuture<?>> how) {
      ScheduledThreadPoolExecutor t = thread;
      if (t == null || gen != generation) {
        return () -> { };
      }
      try {
        ScheduledFuture<?> f = how.apply(t);
        return () -> f.cancel(false);
      } catch (RejectedExecutionException e) {
        return () -> { };
      }
    }
  }
}
