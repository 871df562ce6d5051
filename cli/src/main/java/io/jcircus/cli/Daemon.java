package io.jcircus.cli;

import io.jcircus.protocol.Json;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * One circusd as the console sees it: its control endpoint (commands, one at a time, as Circus's clients send
 * them), its health (asked every {@link #PROBE_MS}), and its three publishers followed for the browsers that
 * watch it. Everything it reads from the daemon goes through one follower thread: events always, stats only while
 * a page shows them, output only while a log view is open (circusd then sends nothing it need not).
 *
 * <p>Browsers are subscribers of a stream: a message is encoded once and written to every subscriber whose
 * prefix it matches, flushed once per burst; a subscriber that cannot take it at once loses it (counted, and
 * told in a {@code : dropped N} comment), so no browser slows the console, and the console never slows circusd.
 */
final class Daemon implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);
  /** How often the follower asks the daemon how it is. */
  static final long PROBE_MS = 2000;
  /** Commands waiting for the daemon before new ones are refused. */
  static final int MAX_WAITING = 64;

  /** What the console knows of the daemon's health: the last probe's outcome. */
  record Health(String state, long since, int watchers, int active, int processes, String reason) {
    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("state", state);
      m.put("since", since / 1000.0);
      m.put("watchers", watchers);
      m.put("active", active);
      m.put("processes", processes);
      m.put("reason", reason);
      return m;
    }
  }

  /** A browser following a stream: the topics it wants (a prefix) and what it has lost since it was last told. */
  record Subscriber(String prefix, AtomicLong dropped) {
    Subscriber(String prefix) {
      this(prefix, new AtomicLong());
    }
  }

  final String name;
  final String endpoint;
  final CurveOptions.Keys curve;
  /** Added from the page (and saved to the console's config file, if it has one). */
  final boolean added;
  private final ZContext ctx;
  private final long timeoutMs;
  private final ThreadPoolExecutor commands;
  private final ControlClient control;
  private final Thread follower;
  private volatile boolean closed;
  private volatile Health health = new Health("connecting", System.currentTimeMillis(), 0, 0, 0, null);

  final Map<Channel, Subscriber> events = new ConcurrentHashMap<>();
  final Map<Channel, Subscriber> stats = new ConcurrentHashMap<>();
  /** Pages: one message per stats burst, every topic's latest figures in it (see {@link #digest}). */
  final Map<Channel, Subscriber> digests = new ConcurrentHashMap<>();
  final Map<Channel, Subscriber> logs = new ConcurrentHashMap<>();
  /** The daemon's output endpoint, learnt from its output command; null until a log view asked. */
  private volatile String outputEndpoint;

  Daemon(ZContext ctx, String name, String endpoint, CurveOptions.Keys curve, long timeoutMs, boolean added) {
    this.ctx = ctx;
    this.name = name;
    this.endpoint = endpoint;
    this.curve = curve;
    this.timeoutMs = timeoutMs;
    this.added = added;
    this.control = new ControlClient(ctx, false, IpcShim.connectable(endpoint), timeoutMs, curve);
    this.commands = new ThreadPoolExecutor(1, 1, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(MAX_WAITING),
        r -> {
          Thread t = new Thread(r, "circus-httpd-commands-" + name);
          t.setDaemon(true);
          return t;
        });
    this.commands.allowCoreThreadTimeOut(true);
    this.follower = new Thread(this::follow, "circus-httpd-follow-" + name);
    this.follower.setDaemon(true);
  }

  Daemon start() {
    follower.start();
    return this;
  }

  Health health() {
    return health;
  }

  /** Runs {@code task} on this daemon's commands thread; false when too many wait. */
  boolean submit(Runnable task) {
    try {
      commands.execute(task);
      return true;
    } catch (RejectedExecutionException e) {
      return false;
    }
  }

  /** The daemon's reply to {@code command}, raw; only on the commands thread (see {@link #submit}). */
  String call(String command, Map<String, Object> props) throws Exception {
    Map<String, Object> reply = control.call(command, props);
    if ("output".equals(command) && reply.get("endpoint") != null) {
      outputEndpoint = String.valueOf(reply.get("endpoint"));
    }
    return Json.write(reply);
  }

  // ---------------------------------------------------------------------------------------------- the follower

  /**
   * A subscription to one of the daemon's publishers: connected without waiting (so that one publisher nobody
   * answers on cannot hold up the others), and replaced by a fresh socket if its handshake has not completed
   * within {@link #HANDSHAKE_MS} (a JeroMQ 0.6.0 client now and then never completes a connection).
   */
  private static final class Sub {
    final String prefix;
    final int hwm;
    ZMQ.Socket socket;
    ControlClient.Events events;
    String at;
    boolean ready;
    long retryAt;

    Sub(String prefix, int hwm) {
      this.prefix = prefix;
      this.hwm = hwm;
    }
  }

  static final long HANDSHAKE_MS = 2000;

  private void follow() {
    ControlClient probe = null;
    Sub ev = new Sub("", 10_000);
    Sub st = new Sub("", 10_000);
    Sub out = new Sub("output.", 1000);
    String pubAt = null;
    String statsAt = null;
    long nextProbe = 0;
    ZMQ.Poller poller = null;
    boolean rebuild = true;
    while (!closed) {
      try {
        if (System.nanoTime() - nextProbe >= 0) {
          nextProbe = System.nanoTime() + PROBE_MS * 1_000_000L;
          if (probe == null) {
            probe = new ControlClient(ctx, false, IpcShim.connectable(endpoint), Math.min(timeoutMs, PROBE_MS), curve);
          }
          try {
            if (pubAt == null) {
              Map<String, Object> r = probe.call("globaloptions", Map.of());
              Map<?, ?> o = r.get("options") instanceof Map<?, ?> m ? m : Map.of();
              pubAt = text(o.get("pubsub_endpoint"));
              statsAt = text(o.get("stats_endpoint"));
            }
            probed(probe.call("status", Map.of()), probe.call("numprocesses", Map.of()));
          } catch (Exception e) {
            if (!"down".equals(health.state())) {
              LOG.info("circusd '{}' at {} is unreachable: {}", name, endpoint, e.getMessage());
            }
            health = new Health("down", "down".equals(health.state()) ? health.since() : System.currentTimeMillis(),
                0, 0, 0, String.valueOf(e.getMessage()));
            probe.close();
            probe = null;
            pubAt = null; // asked again when it is back: it may come back elsewhere
            statsAt = null;
          }
        }
        boolean up = "up".equals(health.state());
        rebuild |= reconcile(ev, up ? pubAt : null);
        rebuild |= reconcile(st, up && !(stats.isEmpty() && digests.isEmpty()) ? statsAt : null);
        rebuild |= reconcile(out, up && !logs.isEmpty() ? outputEndpoint : null);
        if (rebuild) {
          if (poller != null) {
            poller.close();
          }
          poller = ctx.createPoller(3);
          for (Sub s : new Sub[] {ev, st, out}) {
            if (s.socket != null) {
              poller.register(s.socket, ZMQ.Poller.POLLIN);
            }
          }
          rebuild = false;
        }
        if (poller.getNext() == 0) {
          Thread.sleep(200);
          continue;
        }
        poller.poll(200);
        Set<Channel> dirty = new HashSet<>();
        if (ev.socket != null) {
          drain(ev.socket, (topic, body, rest) -> fanOut(events, topic, body, dirty));
        }
        if (st.socket != null) {
          StringBuilder digest = digests.isEmpty() ? null : new StringBuilder(64 * 1024).append('{');
          drain(st.socket, (topic, body, rest) -> {
            fanOut(stats, topic, body, dirty);
            if (digest != null) {
              if (digest.length() > 1) {
                digest.append(',');
              }
              Json.quote(digest, topic);
              digest.append(':').append(body);
            }
          });
          if (digest != null && digest.length() > 1) {
            fanOut(digests, "digest", digest.append('}').toString(), dirty);
          }
        }
        if (out.socket != null) {
          drain(out.socket, (topic, header, lines) -> output(topic, header, lines, dirty));
        }
        for (Channel ch : dirty) {
          ch.flush();
        }
      } catch (InterruptedException e) {
        break;
      } catch (Exception e) {
        // a publisher that went wrong: start over with fresh sockets
        LOG.debug("following circusd '{}': {}", name, e.toString());
        for (Sub s : new Sub[] {ev, st, out}) {
          unsubscribe(s);
        }
        rebuild = true;
        pubAt = null;
        nextProbe = System.nanoTime();
        try {
          Thread.sleep(1000);
        } catch (InterruptedException ie) {
          break;
        }
      }
    }
    for (Sub s : new Sub[] {ev, st, out}) {
      unsubscribe(s);
    }
    if (poller != null) {
      poller.close();
    }
    if (probe != null) {
      probe.close();
    }
  }

  private void probed(Map<String, Object> status, Map<String, Object> numprocesses) {
    int watchers = 0;
    int active = 0;
    if (status.get("statuses") instanceof Map<?, ?> m) {
      watchers = m.size();
      for (Object state : m.values()) {
        active += "active".equals(state) ? 1 : 0;
      }
    }
    int processes = numprocesses.get("numprocesses") instanceof Number n ? n.intValue() : 0;
    Health was = health;
    if (!"up".equals(was.state())) {
      LOG.info("circusd '{}' at {} is up", name, endpoint);
    }
    health = new Health("up", "up".equals(was.state()) ? was.since() : System.currentTimeMillis(), watchers, active,
        processes, null);
  }

  private static String text(Object o) {
    return o == null || o.toString().isEmpty() ? null : o.toString();
  }

  /** Subscribes {@code s} to {@code want} (null: to nothing); true if its socket changed. */
  private boolean reconcile(Sub s, String want) {
    long now = System.nanoTime();
    if (want == null) {
      boolean had = s.socket != null;
      unsubscribe(s);
      return had;
    }
    if (want.equals(s.at) && s.socket != null) {
      if (s.ready || ControlClient.handshaken(s.events)) {
        s.ready = true;
        return false;
      }
      if (now - s.retryAt < 0) {
        return false;
      }
    }
    unsubscribe(s);
    ControlClient.Connection c = ControlClient.connect(ctx, SocketType.SUB, want, curve, z -> {
      z.setLinger(0);
      z.setRcvHWM(s.hwm);
      z.subscribe(s.prefix.getBytes(StandardCharsets.UTF_8));
    });
    s.socket = c.socket();
    s.events = c.events();
    s.at = want;
    s.ready = false;
    s.retryAt = now + HANDSHAKE_MS * 1_000_000L;
    return true;
  }

  private void unsubscribe(Sub s) {
    if (s.socket != null) {
      ctx.destroySocket(s.socket);
      s.socket = null;
      s.events = null;
      s.at = null;
      s.ready = false;
    }
  }

  private interface Frames {
    void accept(String topic, String second, String third);
  }

  /** What has arrived on {@code s}, without waiting: at most 5 000 messages, then the others get their turn. */
  private static void drain(ZMQ.Socket s, Frames sink) {
    for (int n = 0; n < 5000; n++) {
      byte[] topic = s.recv(ZMQ.DONTWAIT);
      if (topic == null) {
        return;
      }
      String second = s.hasReceiveMore() ? s.recvStr() : "";
      String third = s.hasReceiveMore() ? s.recvStr() : "";
      while (s.hasReceiveMore()) {
        s.recv(); // frames past the third (none on circusd's publishers) are not forwarded
      }
      sink.accept(new String(topic, StandardCharsets.UTF_8), second, third);
    }
  }

  /** One chunk of a process's output: topic, circusd's JSON header (seq, lines, dropped…) and the lines. */
  private void output(String topic, String header, String text, Set<Channel> dirty) {
    if (logs.isEmpty()) {
      return;
    }
    Object meta;
    try {
      meta = Json.parse(header);
    } catch (IllegalArgumentException e) {
      return;
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("meta", meta);
    m.put("text", text);
    fanOut(logs, topic, Json.write(m), dirty);
  }

  /** Writes one message to every subscriber whose prefix it matches; the caller flushes {@code dirty}. */
  static void fanOut(Map<Channel, Subscriber> subscribers, String topic, String json, Set<Channel> dirty) {
    byte[] message = null; // encoded once, shared by every subscriber
    for (Map.Entry<Channel, Subscriber> e : subscribers.entrySet()) {
      Channel ch = e.getKey();
      Subscriber s = e.getValue();
      if (!topic.startsWith(s.prefix())) {
        continue;
      }
      if (!ch.isActive()) {
        subscribers.remove(ch);
        continue;
      }
      if (!ch.isWritable()) {
        s.dropped().incrementAndGet();
        continue;
      }
      if (message == null) {
        message = ("event: " + topic + "\ndata: " + json.replace("\n", "\ndata: ") + "\n\n")
            .getBytes(StandardCharsets.UTF_8);
      }
      long lost = s.dropped().getAndSet(0);
      if (lost > 0) {
        ch.write(Unpooled.copiedBuffer(": dropped " + lost + "\n\n", StandardCharsets.UTF_8));
      }
      ch.write(Unpooled.wrappedBuffer(message));
      dirty.add(ch);
    }
  }

  /** Stops following and closes every stream's browsers (removed from the console, or the console stops). */
  @Override
  public void close() {
    closed = true; // the follower sees it within a poll (200 ms) or a probe (2 s); not interrupted: an
    // interrupt inside JeroMQ closes the NIO channels its sockets signal on
    try {
      follower.join(3000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    commands.getQueue().clear();
    try {
      commands.execute(control::close); // after the command in flight, on the thread that owns the socket
    } catch (RejectedExecutionException e) {
      // shut down already
    }
    commands.shutdown();
    for (Map<Channel, Subscriber> m : java.util.List.of(events, stats, digests, logs)) {
      for (Channel ch : m.keySet()) {
        ch.close();
      }
      m.clear();
    }
  }
}
