package io.jcircus.server.arbiter;

import io.jcircus.plugin.Hook;
import io.jcircus.server.config.Shlex;
import io.jcircus.server.config.WatcherConfig;
import io.netty.channel.IoEventLoop;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A watcher's hooks, Circus's names and moments: {@code hooks.NAME = exec:COMMAND ARGS} runs a command (the hook's
 * name, the watcher and the pid appended to its argv, every argument in its environment as {@code CIRCUS_KEY}; exit
 * code 0 is success) and {@code hooks.NAME = java:CLASS} a {@link Hook} from {@code hooks.classpath}; a trailing
 * {@code , true} makes a failure count as success (Circus's flag). A hook runs on a hooks thread within
 * {@code hooks.NAME.timeout} seconds (default 30; past it the command is killed), never on the arbiter loop: the
 * watcher's state machine waits for a {@code before_*} hook's answer as for any other event. Every run publishes
 * Circus's {@code hook_success} or {@code hook_failure} event.
 */
final class Hooks {
  private static final Logger LOG = LoggerFactory.getLogger(Hooks.class);
  /** Circus's hook names. */
  static final Set<String> NAMES = Set.of("before_start", "after_start", "before_spawn", "after_spawn", "before_stop",
      "after_stop", "before_signal", "after_signal", "before_reap", "after_reap", "extended_stats");
  static final double DEFAULT_TIMEOUT = 30;
  /** Hooks running at once, all watchers together; more wait (up to 256), then fail. */
  private static final ThreadPoolExecutor RUNNERS = new ThreadPoolExecutor(8, 8, 30, TimeUnit.SECONDS,
      new ArrayBlockingQueue<>(256), r -> {
        Thread t = new Thread(r, "jcircus-hook");
        t.setDaemon(true);
        return t;
      });
  /** Java hooks' calls, so that their runner can time them out. */
  private static final java.util.concurrent.ExecutorService JAVA = java.util.concurrent.Executors.newCachedThreadPool(
      r -> {
        Thread t = new Thread(r, "jcircus-hook-java");
        t.setDaemon(true);
        return t;
      });

  static {
    RUNNERS.allowCoreThreadTimeOut(true);
  }

  /** Hook commands running now (at most their timeout): killed, with what they started, when circusd stops. */
  private static final Set<Process> RUNNING = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** circusd is stopping: no hook command outlives it. */
  static void killAll() {
    for (Process p : RUNNING) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }

  record Spec(String name, boolean java, String target, boolean ignoreFailure, double timeout) { }

  private final Map<String, Spec> specs;
  private final String classpath;
  /** One watcher's hooks run one at a time, in the order they were called (Circus calls them in line). */
  private final Serial serial = new Serial();

  /** Runs tasks one after another on {@link #RUNNERS}, taking a thread only while it has work. */
  private static final class Serial implements java.util.concurrent.Executor {
    private final java.util.ArrayDeque<Runnable> queue = new java.util.ArrayDeque<>();
    private boolean running;

    @Override
    public synchronized void execute(Runnable task) {
      if (queue.size() >= 256) {
        throw new RejectedExecutionException("256 hooks of this watcher are waiting");
      }
      queue.add(task);
      if (!running) {
        try {
          RUNNERS.execute(this::drain);
        } catch (RejectedExecutionException e) {
          queue.removeLast();
          throw e;
        }
        running = true;
      }
    }

    private void drain() {
      while (true) {
        Runnable next;
        synchronized (this) {
          next = queue.poll();
          if (next == null) {
            running = false;
            return;
          }
        }
        next.run();
      }
    }
  }
  private URLClassLoader loader;

  private Hooks(Map<String, Spec> specs, String classpath) {
    this.specs = specs;
    this.classpath = classpath;
  }

  /** The hooks of {@code cfg} ({@code hooks.*} keys, checked when the file was read). */
  static Hooks of(WatcherConfig cfg) {
    Map<String, Spec> specs = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : cfg.hooks.entrySet()) {
      if (!NAMES.contains(e.getKey())) {
        continue; // NAME.timeout, classpath
      }
      String v = e.getValue().strip();
      boolean ignore = false;
      int comma = v.lastIndexOf(',');
      if (comma > 0 && v.substring(comma + 1).strip().matches("(?i)true|false|yes|no|1|0")) {
        ignore = v.substring(comma + 1).strip().toLowerCase(Locale.ROOT).matches("true|yes|1");
        v = v.substring(0, comma).strip();
      }
      double timeout = DEFAULT_TIMEOUT;
      String t = cfg.hooks.get(e.getKey() + ".timeout");
      if (t != null) {
        timeout = Double.parseDouble(t.strip());
      }
      boolean java = v.startsWith("java:");
      specs.put(e.getKey(), new Spec(e.getKey(), java, v.substring(v.indexOf(':') + 1).strip(), ignore, timeout));
    }
    return new Hooks(specs, cfg.hooks.get("classpath"));
  }

  boolean has(String name) {
    return specs.containsKey(name);
  }

  /**
   * Runs hook {@code name} of watcher {@code w} with {@code args}; the future completes on {@code loop} with whether
   * to go on (true when there is no such hook).
   */
  Future<Boolean> run(Watcher w, IoEventLoop loop, String name, Map<String, Object> args) {
    return submit(w, loop, name, args, null);
  }

  /**
   * extended_stats: {@code stats} of process {@code pid} with what the hook adds (a command prints a JSON object; a
   * Java hook puts into the {@code stats} map it is given); {@code stats} unchanged when the hook fails.
   */
  Future<Map<String, Object>> extendedStats(Watcher w, IoEventLoop loop, int pid, Map<String, Object> stats) {
    Promise<Map<String, Object>> p = loop.newPromise();
    Map<String, Object> mutable = new LinkedHashMap<>(stats);
    StringBuilder out = new StringBuilder();
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("pid", pid);
    args.put("stats", mutable);
    submit(w, loop, "extended_stats", args, out).addListener(f -> {
      if (!Boolean.TRUE.equals(f.getNow())) {
        p.trySuccess(stats);
        return;
      }
      Map<String, Object> result = mutable;
      String printed = out.toString().strip();
      if (!printed.isEmpty()) {
        try {
          if (io.jcircus.protocol.Json.parse(printed) instanceof Map<?, ?> m) {
            m.forEach((k, v) -> result.put(String.valueOf(k), v));
          }
        } catch (IllegalArgumentException e) {
          LOG.warn("watcher {}: extended_stats hook printed no JSON object: {}", w.name(), e.getMessage());
        }
      }
      p.trySuccess(result);
    });
    return p;
  }

  private Future<Boolean> submit(Watcher w, IoEventLoop loop, String name, Map<String, Object> args,
      StringBuilder out) {
    Spec spec = specs.get(name);
    if (spec == null) {
      return loop.newSucceededFuture(true);
    }
    Promise<Boolean> p = loop.newPromise();
    String watcher = w.name();
    try {
      serial.execute(() -> {
        String error;
        try {
          error = spec.java() ? callJava(spec, watcher, args) : exec(spec, watcher, args, out);
        } catch (Exception | LinkageError e) {
          error = String.valueOf(e);
        }
        String failure = error;
        loop.execute(() -> {
          boolean ok = failure == null;
          Map<String, Object> ev = new LinkedHashMap<>();
          ev.put("name", name);
          ev.put("time", Payload.now());
          if (!ok) {
            ev.put("error", failure);
            LOG.warn("watcher {}: hook {} failed{}: {}", watcher, name, spec.ignoreFailure() ? " (ignored)" : "",
                failure);
          }
          w.event(ok ? "hook_success" : "hook_failure", ev);
          p.trySuccess(ok || spec.ignoreFailure());
        });
      });
    } catch (RejectedExecutionException e) {
      LOG.warn("watcher {}: hook {} not run: too many hooks are running", watcher, name);
      p.trySuccess(spec.ignoreFailure());
    }
    return p;
  }

  /** Runs the command; null on success, else why not. */
  private static String exec(Spec spec, String watcher, Map<String, Object> args, StringBuilder out)
      throws IOException, InterruptedException {
    List<String> argv = new ArrayList<>(Shlex.split(spec.target()));
    argv.add(spec.name());
    argv.add(watcher);
    Object pid = args.containsKey("pid") ? args.get("pid") : args.get("process_pid");
    if (pid != null) {
      argv.add(String.valueOf(pid));
    }
    ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(
        new java.io.File("/dev/null")));
    pb.environment().put("CIRCUS_HOOK", spec.name());
    pb.environment().put("CIRCUS_WATCHER", watcher);
    for (Map.Entry<String, Object> a : args.entrySet()) {
      Object v = a.getValue();
      pb.environment().put("CIRCUS_" + a.getKey().toUpperCase(Locale.ROOT),
          v instanceof Map<?, ?> ? io.jcircus.protocol.Json.write(v) : String.valueOf(v));
    }
    Process proc = pb.start();
    RUNNING.add(proc);
    try {
      return await(proc, spec, out);
    } finally {
      RUNNING.remove(proc);
    }
  }

  private static String await(Process proc, Spec spec, StringBuilder out) throws InterruptedException {
    // what it says, read on a thread of its own so that a chatty hook never blocks; the last 2 KiB kept for the log
    java.io.ByteArrayOutputStream tail = new java.io.ByteArrayOutputStream();
    Thread reader = new Thread(() -> {
      byte[] buf = new byte[2048];
      try (InputStream in = proc.getInputStream()) {
        for (int n; (n = in.read(buf)) > 0; ) {
          synchronized (tail) {
            if (tail.size() > 65536) { // the last 32 KiB kept: an extended_stats hook's JSON, a failure's last words
              byte[] keep = java.util.Arrays.copyOfRange(tail.toByteArray(), tail.size() - 32768, tail.size());
              tail.reset();
              tail.write(keep, 0, keep.length);
            }
            tail.write(buf, 0, n);
          }
        }
      } catch (IOException e) {
        // closed
      }
    }, "jcircus-hook-output");
    reader.setDaemon(true);
    reader.start();
    if (!proc.waitFor((long) (spec.timeout() * 1e9), TimeUnit.NANOSECONDS)) {
      proc.descendants().forEach(ProcessHandle::destroyForcibly);
      proc.destroyForcibly();
      proc.waitFor(5, TimeUnit.SECONDS);
      return "timed out after " + spec.timeout() + " s (killed)";
    }
    reader.join(1000);
    int code = proc.exitValue();
    if (code == 0) {
      if (out != null) {
        synchronized (tail) {
          out.append(tail.toString(StandardCharsets.UTF_8));
        }
      }
      return null;
    }
    String said;
    synchronized (tail) {
      said = tail.toString(StandardCharsets.UTF_8).strip();
    }
    return "exit code " + code + (said.isEmpty() ? "" : ": " + said.substring(Math.max(0, said.length() - 300)));
  }

  private String callJava(Spec spec, String watcher, Map<String, Object> args) throws Exception {
    Hook hook = (Hook) load(spec.target()).getConstructor().newInstance();
    java.util.concurrent.Future<Boolean> f = JAVA.submit(() -> hook.run(spec.name(), watcher, Map.copyOf(args)));
    try {
      return f.get((long) (spec.timeout() * 1000), TimeUnit.MILLISECONDS) ? null : "returned false";
    } catch (TimeoutException e) {
      f.cancel(true);
      return "timed out after " + spec.timeout() + " s";
    } catch (ExecutionException e) {
      return String.valueOf(e.getCause());
    }
  }

  private synchronized Class<?> load(String name) throws ClassNotFoundException, IOException {
    if (loader == null) {
      List<URL> urls = new ArrayList<>();
      if (classpath != null) {
        for (String part : classpath.split(":")) {
          if (!part.isBlank()) {
            urls.add(Path.of(part.strip()).toUri().toURL());
          }
        }
      }
      loader = new URLClassLoader("hooks", urls.toArray(new URL[0]), Hooks.class.getClassLoader());
    }
    return Class.forName(name, true, loader);
  }
}
