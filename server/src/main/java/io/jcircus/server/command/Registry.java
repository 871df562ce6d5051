package io.jcircus.server.command;

import io.jcircus.server.arbiter.Arbiter;
import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableSet;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * Circus's commands, transport-free: a name and properties in, reply fields or a {@link CommandError} out, with
 * Circus's fields and errno. Every transport is thin over it: the ZeroMQ controller adds status, time and id and
 * writes JSON; a caller in the same JVM (a plugin, the web console, a cluster peer) uses {@link #call} with no JSON
 * and no ZeroMQ. Commands run on the arbiter loop.
 */
public final class Registry {
  /** One command: validates {@code props} (throwing a {@link CommandError}) and answers through {@code reply}. */
  @FunctionalInterface
  public interface Command {
    void run(Map<String, Object> props, Reply reply) throws CommandError;
  }

  private final Arbiter arbiter;
  private final Map<String, Command> table = new TreeMap<>();

  /** Told of every command answered: its name (lower case; "unknown" for one that is not), time, outcome. */
  public interface Observer {
    void answered(String command, long nanos, boolean error);
  }

  private volatile Observer observer;

  public void setObserver(Observer o) {
    observer = o;
  }

  public Registry(Arbiter arbiter) {
    this.arbiter = arbiter;
    for (Family f : new Family[] {new QueryCommands(arbiter), new LifecycleCommands(arbiter),
        new ConfigCommands(arbiter), new StatsCommands(arbiter)}) {
      f.register(this);
    }
  }

  void register(String name, Command c) {
    if (table.putIfAbsent(name, c) != null) {
      throw new IllegalStateException("two commands named " + name);
    }
  }

  /** Every command's name, lower case. */
  public NavigableSet<String> names() {
    return Collections.unmodifiableNavigableSet(new java.util.TreeSet<>(table.keySet()));
  }

  /**
   * Runs {@code command} (case-insensitive, as Circus) with {@code props}; {@code reply} hears exactly once.
   * Arbiter loop only. A command that throws anything but a {@link CommandError} is answered with errno 5.
   */
  public void dispatch(String command, Map<String, Object> props, Reply reply) {
    Command c = table.get(command.toLowerCase(Locale.ROOT));
    if (c == null) {
      reply.error(new CommandError(CommandError.UNKNOWN_COMMAND, "unknown command: '" + command + "'"));
      return;
    }
    long t0 = System.nanoTime();
    String name = command.toLowerCase(Locale.ROOT);
    Reply once = new Reply() {
      private boolean done;

      @Override
      public void ok(Map<String, Object> fields) {
        if (!done) {
          done = true;
          observe(name, t0, false);
          reply.ok(fields);
        }
      }

      @Override
      public void error(CommandError e) {
        if (!done) {
          done = true;
          observe(name, t0, true);
          reply.error(e);
        }
      }
    };
    try {
      c.run(props, once);
    } catch (CommandError e) {
      once.error(e);
    } catch (RuntimeException e) {
      once.error(new CommandError(CommandError.COMMAND_ERROR, "command '" + command + "': " + e));
    }
  }

  private void observe(String command, long t0, boolean error) {
    Observer o = observer;
    if (o != null) {
      o.answered(command, System.nanoTime() - t0, error);
    }
  }

  /**
   * Runs {@code command} from any thread; the future completes with the reply fields, or exceptionally with
   * the {@link CommandError}.
   */
  public CompletableFuture<Map<String, Object>> call(String command, Map<String, Object> props) {
    CompletableFuture<Map<String, Object>> f = new CompletableFuture<>();
    arbiter.execute(() -> dispatch(command, props, new Reply() {
      @Override
      public void ok(Map<String, Object> fields) {
        f.complete(fields);
      }

      @Override
      public void error(CommandError e) {
        f.completeExceptionally(e);
      }
    }));
    return f;
  }
}
