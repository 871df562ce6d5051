package io.jcircus.server.plugin;

import io.jcircus.plugin.Plugin;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Circus's {@code circus.plugins.watchdog.WatchDog}: processes send UDP heartbeats ({@code msg_regex}, default
 * {@code PID;TIMESTAMP}) to {@code ip}:{@code port} (127.0.0.1:1664); every {@code loop_rate} seconds (60) a process
 * of a watcher matching {@code watchers_regex} (.*) that has sent none for {@code loop_rate × max_count} (3) is
 * signalled ({@code watchers_stop_signal}, default SIGKILL) and circusd replaces it. Monitored processes come from
 * a {@code list} at the first loop and from spawn and reap events after. Python's {@code (?P<name>…)} groups in the
 * regex are read as Java's {@code (?<name>…)}.
 */
final class WatchDog implements Plugin {
  private static final Logger LOG = LoggerFactory.getLogger(WatchDog.class);

  private Context ctx;
  private Pattern watchers;
  private Pattern message;
  private double loopRate;
  private double maxCount;
  private Object signal;
  private boolean starting = true;
  /** pid → watcher and the last heartbeat (ms); heartbeats are written by the UDP thread. */
  private final Map<String, String> watcherOf = new ConcurrentHashMap<>();
  private final Map<String, Long> lastActivity = new ConcurrentHashMap<>();
  private DatagramChannel udp;
  private Thread reader;

  @Override
  public void init(Context context) throws Exception {
    ctx = context;
    Map<String, String> o = context.options();
    loopRate = Double.parseDouble(o.getOrDefault("loop_rate", "60").strip());
    maxCount = Double.parseDouble(o.getOrDefault("max_count", "3").strip());
    watchers = Pattern.compile(o.getOrDefault("watchers_regex", ".*"));
    message = Pattern.compile(o.getOrDefault("msg_regex", "^(?P<pid>.*);(?P<timestamp>.*)$").replace("(?P<", "(?<"));
    String sig = o.get("watchers_stop_signal");
    signal = sig == null || sig.isBlank() ? 9 : sig.strip();
    udp = DatagramChannel.open();
    try {
      udp.bind(new InetSocketAddress(o.getOrDefault("ip", "127.0.0.1"), Integer.parseInt(o.getOrDefault("port",
          "1664").strip())));
    } catch (IOException e) {
      udp.close();
      throw new IOException("watchdog: cannot bind UDP " + o.getOrDefault("ip", "127.0.0.1") + ":"
          + o.getOrDefault("port", "1664") + ": " + e.getMessage(), e);
    }
    LOG.info("watchdog listening on UDP {}", udp.getLocalAddress());
    reader = new Thread(this::receive, "plugin-" + context.name() + "-udp");
    reader.setDaemon(true);
    reader.start();
    context.every(Duration.ofMillis((long) (loopRate * 1000)), this::lookAfter);
  }

  /** The UDP thread: heartbeats of 1 024 bytes at most, as Circus reads them. */
  private void receive() {
    ByteBuffer buf = ByteBuffer.allocate(1024);
    while (udp.isOpen()) {
      try {
        buf.clear();
        udp.receive(buf);
        buf.flip();
        String text = StandardCharsets.UTF_8.decode(buf).toString();
        Matcher m = message.matcher(text);
        if (!m.lookingAt()) {
          continue;
        }
        String pid;
        try {
          pid = m.group("pid").strip();
        } catch (IllegalArgumentException e) {
          continue; // a msg_regex with no pid group
        }
        if (lastActivity.containsKey(pid)) {
          lastActivity.put(pid, System.currentTimeMillis());
        } else {
          LOG.debug("watchdog: a heartbeat from pid {}, not a monitored process", pid);
        }
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  @Override
  public void event(String watcher, String event, Map<String, Object> payload) {
    if (!watchers.matcher(watcher).lookingAt() || payload.get("process_pid") == null) {
      return;
    }
    String pid = String.valueOf(payload.get("process_pid"));
    if (event.equals("spawn")) {
      watcherOf.put(pid, watcher);
      lastActivity.put(pid, System.currentTimeMillis());
    } else if (event.equals("reap")) {
      watcherOf.remove(pid);
      lastActivity.remove(pid);
    }
  }

  private void lookAfter() {
    if (starting) {
      starting = false;
      discover();
    }
    long tooOld = System.currentTimeMillis() - (long) (loopRate * maxCount * 1000);
    for (Map.Entry<String, Long> e : lastActivity.entrySet()) {
      if (e.getValue() < tooOld) {
        String w = watcherOf.get(e.getKey());
        LOG.info("watcher {}, pid {} sent no heartbeat for {} s: signalling it", w, e.getKey(), loopRate * maxCount);
        ctx.cast("signal", Map.of("name", w, "pid", Integer.parseInt(e.getKey()), "signum", signal));
        e.setValue(System.currentTimeMillis()); // once a period, until it is reaped
      }
    }
  }

  private void discover() {
    try {
      Map<String, Object> all = ctx.call("list", Map.of(), Duration.ofSeconds(5));
      for (Object name : (List<?>) all.getOrDefault("watchers", List.of())) {
        String w = String.valueOf(name);
        if (!watchers.matcher(w).lookingAt() || w.startsWith("plugin:")) {
          continue;
        }
        Map<String, Object> procs = ctx.call("list", Map.of("name", w), Duration.ofSeconds(5));
        for (Object pid : (List<?>) procs.getOrDefault("pids", List.of())) {
          watcherOf.putIfAbsent(String.valueOf(pid), w);
          lastActivity.putIfAbsent(String.valueOf(pid), System.currentTimeMillis());
        }
      }
    } catch (CommandException e) {
      LOG.warn("watchdog: discovering the processes: {}", e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void stop() throws Exception {
    if (udp != null) {
      udp.close();
    }
  }
}
