package io.jcircus.plugin;

import java.time.Duration;
import java.util.Map;

/**
 * A circusd plugin, in circusd's JVM: Circus's plugin model (events in, commands out) without a process and a
 * ZeroMQ round trip per call. Named in the config as Circus names its plugins:
 *
 * <pre>
 * [plugin:mine]
 * use = com.example.MyPlugin
 * classpath = /opt/plugins/my-plugin.jar     ; jars or directories, ':'-separated; its own class loader
 * threshold = 3                              ; any other key reaches the plugin as an option
 * </pre>
 *
 * The class needs a public no-argument constructor. Every method runs on the plugin's own thread, one at a time:
 * circusd's arbiter and the other plugins never wait for it. Events that arrive while the plugin is busy wait in
 * a bounded queue (past it they are dropped and counted); a method that throws is logged, and a plugin that keeps
 * throwing, or runs one method past its {@code timeout}, is restarted (a new instance, {@link #init} again) and,
 * if that keeps happening, disabled.
 */
public interface Plugin {
  /** Once, before any event. */
  default void init(Context context) throws Exception {
  }

  /**
   * One of the daemon's events, as the pub socket publishes it on {@code watcher.WATCHER.EVENT}: {@code spawn},
   * {@code reap} (with {@code exit_code} or {@code exit_signal}, and {@code commanded}: whether circusd or a
   * user stopped the process), {@code kill}, {@code start}, {@code stop}, {@code reload}, {@code updated}…
   */
  default void event(String watcher, String event, Map<String, Object> payload) throws Exception {
  }

  /** Once, when circusd stops or the plugin is restarted; then the instance is dropped. */
  default void stop() throws Exception {
  }

  /** What circusd gives a plugin. Usable from the plugin's own thread (and {@link #cast} from any). */
  interface Context {
    /** NAME of {@code [plugin:NAME]}. */
    String name();

    /** The section's keys but {@code use}, {@code classpath}, {@code priority}, {@code active}, as written. */
    Map<String, String> options();

    /**
     * Runs a command as circusctl would (the same names, properties and reply fields) and waits for the reply, at
     * most {@code timeout}; Circus's {@code CircusPlugin.call}.
     */
    Map<String, Object> call(String command, Map<String, Object> properties, Duration timeout)
        throws CommandException, InterruptedException;

    /** Sends a command without waiting for its reply; Circus's {@code cast}. A failure is logged. */
    void cast(String command, Map<String, Object> properties);

    /** Runs {@code task} on the plugin's thread every {@code period} (the first time after one period). */
    Cancellable every(Duration period, Runnable task);

    /** Runs {@code task} on the plugin's thread once, after {@code delay}. */
    Cancellable after(Duration delay, Runnable task);
  }

  /** A scheduled task. */
  interface Cancellable {
    void cancel();
  }

  /** A command the daemon refused, with Circus's errno and reason; or no reply in time (errno -1). */
  final class CommandException extends Exception {
    private final int errno;

    public CommandException(int errno, String reason) {
      super(reason);
      this.errno = errno;
    }

    public int errno() {
      return errno;
    }
  }
}
