package io.jcircus.server.plugin;

import io.jcircus.plugin.Plugin;
import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.command.Registry;
import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.lifecycle.LifeCycle;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the in-process plugins of {@code [plugin:NAME]} sections: jcircus's built-ins under Circus's class names, and
 * Java classes ({@link Plugin}) from a {@code classpath}. Each runs on its own thread ({@link PluginRunner});
 * this host hands them the daemon's events from the arbiter loop without ever waiting, and a watchdog restarts one
 * whose call has run past its timeout. Plugins show in {@code list} and {@code status} as {@code plugin:NAME}, as
 * Circus's do.
 */
public final class PluginHost implements LifeCycle {
  private static final Logger LOG = LoggerFactory.getLogger(PluginHost.class);
  private final Arbiter arbiter;
  private final Registry registry;
  private final CircusConfig cfg;
  /** Read by the arbiter (events, list/status) and written by reloadconfig's changes: copy-on-write. */
  private volatile Map<String, PluginRunner> runners = Map.of();
  /** The sections the running plugins were made from, to tell what a reloadconfig changed. */
  private final Map<String, Map<String, String>> sections = new java.util.HashMap<>();
  /** reloadconfig's plugin changes: stopping one may wait for its stop(), never on the arbiter loop. */
  private final java.util.concurrent.ExecutorService changes = java.util.concurrent.Executors.newSingleThreadExecutor(
      r -> {
        Thread t = new Thread(r, "plugin-changes");
        t.setDaemon(true);
        return t;
      });
  /** Java plugins' class loaders by plugin name, closed when the plugin goes (reloadconfig) or circusd stops. */
  private final Map<String, URLClassLoader> loaders = new java.util.concurrent.ConcurrentHashMap<>();
  private ScheduledExecutorService watchdog;

  public PluginHost(Arbiter arbiter, Registry registry, CircusConfig cfg) {
    this.arbiter = arbiter;
    this.registry = registry;
    this.cfg = cfg;
  }

  @Override
  public String name() {
    return "plugins";
  }

  @Override
  public void start() throws IOException {
    Map<String, PluginRunner> made = new LinkedHashMap<>();
    for (Map.Entry<String, Map<String, String>> e : cfg.plugins.entrySet()) {
      if (Builtins.inProcess(e.getValue())) {
        made.put(e.getKey(), make(e.getKey(), e.getValue()));
        sections.put(e.getKey(), e.getValue());
      }
    }
    runners = java.util.Collections.unmodifiableMap(made);
    arbiter.addListener((watcher, event, payload) -> {
      Map<String, PluginRunner> now = runners;
      if (now.isEmpty()) {
        return;
      }
      Map<String, Object> copy = Map.copyOf(withoutNulls(payload)); // the plugin's, read on its own thread
      for (PluginRunner r : now.values()) {
        r.offer(watcher, event, copy);
      }
    });
    arbiter.addConfigListener(next -> changes.execute(() -> reconfigure(next)));
    arbiter.execute(() -> arbiter.setPlugins(this::states));
    watchdog = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "plugin-watchdog");
      t.setDaemon(true);
      return t;
    });
    watchdog.scheduleWithFixedDelay(() -> runners.values().forEach(PluginRunner::checkStuck), 1, 1, TimeUnit.SECONDS);
  }

  /** A runner for a section, started unless {@code active} is false. */
  private PluginRunner make(String name, Map<String, String> section) throws IOException {
    String active = section.getOrDefault("active", "true").strip().toLowerCase(java.util.Locale.ROOT);
    Map<String, String> options = new LinkedHashMap<>(section);
    Builtins.HOST_KEYS.forEach(options::remove);
    Duration timeout = Duration.ofMillis((long) (Double.parseDouble(section.getOrDefault("timeout", "30")) * 1000));
    PluginRunner r = new PluginRunner(name, factory(name, section), options, registry, timeout);
    if (java.util.Set.of("1", "yes", "true", "on").contains(active)) {
      r.start();
      LOG.info("plugin {} ({}) started", name, section.get("use"));
    } else {
      LOG.info("plugin {} is not active (active = {})", name, section.get("active"));
    }
    return r;
  }

  /**
   * reloadconfig: a plugin whose section is gone or changed is stopped, a new or changed one started; the others
   * run on untouched. On the changes thread.
   */
  private void reconfigure(CircusConfig next) {
    Map<String, PluginRunner> now = new LinkedHashMap<>(runners);
    Map<String, Map<String, String>> wanted = new LinkedHashMap<>();
    next.plugins.forEach((name, section) -> {
      if (Builtins.inProcess(section)) {
        wanted.put(name, section);
      }
    });
    for (String name : new ArrayList<>(now.keySet())) {
      if (!section(wanted, name).equals(sections.get(name))) {
        PluginRunner old = now.remove(name);
        runners = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(now));
        old.stop();
        close(loaders.remove(name));
        sections.remove(name);
        LOG.info("plugin {} stopped (reloadconfig)", name);
      }
    }
    for (Map.Entry<String, Map<String, String>> e : wanted.entrySet()) {
      if (!now.containsKey(e.getKey())) {
        try {
          now.put(e.getKey(), make(e.getKey(), e.getValue()));
          sections.put(e.getKey(), e.getValue());
        } catch (IOException | RuntimeException ex) {
          LOG.error("plugin {}: not started: {}", e.getKey(), ex.getMessage());
        }
      }
    }
    runners = java.util.Collections.unmodifiableMap(now);
  }

  private static Map<String, String> section(Map<String, Map<String, String>> m, String name) {
    return m.getOrDefault(name, Map.of());
  }

  private static Map<String, Object> withoutNulls(Map<String, Object> m) {
    Map<String, Object> out = new LinkedHashMap<>();
    m.forEach((k, v) -> {
      if (v != null) {
        out.put(k, v);
      }
    });
    return out;
  }

  /** {@code plugin:NAME} → Circus's state word, for list and status. */
  private Map<String, String> states() {
    Map<String, String> m = new LinkedHashMap<>();
    runners.forEach((n, r) -> m.put("plugin:" + n, r.state().name()));
    return m;
  }

  /** How to make the plugin: a built-in, or the class from its own class loader over {@code classpath}. */
  private Supplier<Plugin> factory(String name, Map<String, String> section) throws IOException {
    String use = section.get("use");
    String builtIn = Builtins.BUILT_IN.get(use);
    if (builtIn != null) {
      double checkDelay = cfg.checkDelay;
      switch (builtIn) {
        case "flapping": return () -> new Flapping(checkDelay);
        case "watchdog": return WatchDog::new;
        case "statsd": return () -> new Statsd(false);
        case "resource_watcher": return ResourceWatcher::new;
        case "http_observer": return HttpObserver::new;
        case "command_reloader": return CommandReloader::new;
        default: return () -> new Statsd(true);
      }
    }
    List<URL> urls = new ArrayList<>();
    for (String part : section.get("classpath").split(":")) {
      if (!part.isBlank()) {
        urls.add(Path.of(part.strip()).toUri().toURL());
      }
    }
    URLClassLoader loader = new URLClassLoader("plugin-" + name, urls.toArray(new URL[0]),
        PluginHost.class.getClassLoader());
    close(loaders.put(name, loader));
    Class<? extends Plugin> type;
    try {
      type = Class.forName(use, false, loader).asSubclass(Plugin.class);
      type.getConstructor();
    } catch (ClassNotFoundException e) {
      throw new IOException("[plugin:" + name + "] use: no class " + use + " in " + section.get("classpath"));
    } catch (ClassCastException e) {
      throw new IOException("[plugin:" + name + "] use: " + use + " does not implement " + Plugin.class.getName());
    } catch (NoSuchMethodException e) {
      throw new IOException("[plugin:" + name + "] use: " + use + " has no public no-argument constructor");
    } catch (LinkageError e) {
      throw new IOException("[plugin:" + name + "] use: " + use + " cannot be loaded: " + e);
    }
    return () -> {
      try {
        return type.getConstructor().newInstance();
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException(use + ": " + (e.getCause() != null ? e.getCause() : e), e);
      }
    };
  }

  @Override
  public void stop() {
    changes.shutdownNow();
    if (watchdog != null) {
      watchdog.shutdownNow();
    }
    for (PluginRunner r : runners.values()) {
      r.stop();
    }
    loaders.values().forEach(PluginHost::close);
    loaders.clear();
  }

  private static void close(URLClassLoader l) {
    if (l != null) {
      try {
        l.close();
      } catch (IOException e) {
        LOG.debug("closing {}'s class loader: {}", l.getName(), e.toString());
      }
    }
  }

  @Override
  public Duration stopTimeout() {
    return Duration.ofSeconds(2L * Math.max(1, runners.size()) + 1);
  }
}
