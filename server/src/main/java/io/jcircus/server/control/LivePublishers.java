package io.jcircus.server.control;

import io.jcircus.protocol.Json;
import io.jcircus.protocol.Topics;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.ManagedProcess;
import io.jcircus.server.arbiter.ManagedSocket;
import io.jcircus.server.arbiter.Watcher;
import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.internal.posix.Posix;
import io.jcircus.server.stream.LiveOutput;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The two live streams, each on its own thread with its own ZeroMQ socket (in the controller's context, so
 * CURVE authentication covers them too):
 *
 * <ul>
 *   <li>the <b>stats stream</b> ({@code statsd = True} or a {@code stats_endpoint}): Circus's circusd-stats
 *       topics once a second, read from /proc in circusd itself rather than in a second process (no second
 *       runtime, no pid tracking through events: the arbiter hands over its process list each second);
 *   <li>the <b>output stream</b> ({@code output_endpoint}): each chunk of whole lines a child writes, as
 *       {@code [output.WATCHER.PID.STREAM, header JSON, raw bytes]}, from {@link LiveOutput}'s bounded queue.
 * </ul>
 *
 * Neither ever blocks the arbiter or a child: the publishers send with DONTWAIT under a high-water mark, so a
 * slow subscriber loses messages (it sees the gap in the sequence numbers) instead of holding anything up.
 */
public final class LivePublishers {
  private static final Logger LOG = LoggerFactory.getLogger(LivePublishers.class);
  /** Messages a subscriber may fall behind before the publisher drops for it. */
  static final int OUTPUT_HWM = 1000;
  /**
   * Output chunks (up to 64 KiB each) a subscriber may fall behind before the XPUB drops for it: 64, at most 4 MiB
   * held for one stalled subscriber. At 1 000 a stopped subscriber had circusd fill and churn up to 64 MB for it,
   * and the child writing paid 1.45x its time; at 64, about 1.1x (bench/live.py --only stopped).
   */
  static final int OUTPUT_CHUNKS_HWM = 64;
  private static final long TICK_MS = 100;

  private final CircusConfig cfg;
  private final Arbiter arbiter;
  private final ZContext ctx;
  private final byte[] secret;
  private final List<Thread> threads = new ArrayList<>();
  private volatile boolean running = true;

  private final Endpoints endpoints;

  LivePublishers(CircusConfig cfg, Arbiter arbiter, ZContext ctx, byte[] secret, Endpoints endpoints) {
    this.endpoints = endpoints;
    this.cfg = cfg;
    this.arbiter = arbiter;
    this.ctx = ctx;
    this.secret = secret;
  }

  /** Binds the enabled endpoints; throws naming the endpoint if one cannot be bound. */
  void start() throws java.io.IOException {
    if (cfg.statsd) {
      ZMQ.Socket pub = bind(SocketType.PUB, cfg.statsEndpoint, "stats_endpoint");
      spawn("jcircus-statsd", pub, () -> statsLoop(pub));
      LOG.info("stats stream on {}", cfg.statsEndpoint);
    }
    LiveOutput live = arbiter.liveOutput();
    if (live != null) {
      ZMQ.Socket xpub = bind(SocketType.XPUB, cfg.outputEndpoint, "output_endpoint");
      xpub.setSndHWM(OUTPUT_CHUNKS_HWM);
      live.endpoint(bound);
      spawn("jcircus-output", xpub, () -> outputLoop(xpub, live));
      LOG.info("process output on {}", live.endpoint());
    }
  }

  void stop() {
    running = false;
    for (Thread t : threads) {
      try {
        t.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The endpoint the last {@link #bind} gave clients (an ephemeral port filled in). */
  private String bound;

  private ZMQ.Socket bind(SocketType type, String endpoint, String key) throws java.io.IOException {
    // Sockets are created here and then used only by their thread (the hand-over is a happens-before edge).
    ZMQ.Socket s = ctx.createSocket(type);
    ZmqSockets.bounded(s, cfg);
    s.setSndHWM(OUTPUT_HWM);
    if (secret != null) {
      s.setZAPDomain("jcircus");
      s.setCurveServer(true);
      s.setCurveSecretKey(secret);
    }
    try {
      bound = endpoints.bind(s, endpoint, key);
    } catch (java.io.IOException | IllegalArgumentException e) {
      s.close();
      throw e instanceof java.io.IOException io ? io
          : new java.io.IOException("cannot bind " + key + " " + endpoint + ": " + e.getMessage(), e);
    }
    return s;
  }

  private void spawn(String name, ZMQ.Socket socket, Runnable body) {
    Thread t = new Thread(() -> {
      try {
        body.run();
      } catch (RuntimeException e) {
        if (running) {
          LOG.error("{} stopped: {}", name, e.toString(), e);
        }
      } finally {
        socket.close();
      }
    }, name);
    t.setDaemon(true);
    threads.add(t);
    t.start();
  }

  // ------------------------------------------------------------------ output

  private void outputLoop(ZMQ.Socket xpub, LiveOutput live) {
    Set<String> topics = new HashSet<>();
    java.util.concurrent.BlockingQueue<LiveOutput.Chunk> q = live.queue();
    while (running) {
      LiveOutput.Chunk c;
      try {
        c = q.poll(50, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        return;
      }
      byte[] m;
      while ((m = xpub.recv(ZMQ.DONTWAIT)) != null) {
        // XPUB reports the first subscription to a topic (1) and the last one leaving it (0)
        if (m.length > 0) {
          String topic = new String(m, 1, m.length - 1, StandardCharsets.UTF_8);
          if (m[0] == 1) {
            topics.add(topic);
          } else {
            topics.remove(topic);
          }
        }
      }
      live.subscribed(topics);
      if (topics.isEmpty()) {
        q.clear();
        continue;
      }
      for (int i = 0; c != null && i < 4096; i++) {
        send(xpub, live, c);
        c = q.poll();
      }
    }
  }

  private static void send(ZMQ.Socket xpub, LiveOutput live, LiveOutput.Chunk c) {
    Map<String, Object> h = new LinkedHashMap<>();
    h.put("watcher", c.watcher());
    h.put("pid", c.pid());
    h.put("stream", c.stream());
    h.put("time", c.time());
    h.put("seq", c.seq());
    h.put("pseq", c.pseq());
    h.put("lines", c.lines());
    h.put("dropped", live.dropped());
    String topic = Topics.output(c.watcher(), c.pid(), c.stream());
    if (xpub.sendMore(topic) && xpub.sendMore(Json.write(h))) {
      xpub.send(c.data(), ZMQ.DONTWAIT);
    }
  }

  // ------------------------------------------------------------------- stats

  /** What the stats thread needs from the arbiter each second. */
  private record Snapshot(Map<String, List<long[]>> watchers, List<Object[]> sockets) { }

  /** Per socket figures over the current second, sampled every 100 ms. */
  private static final class SocketSample {
    int queue;
    int queueMax;
    int backlog;
    int busyTicks;
  }

  private Snapshot snapshot() throws Exception {
    return arbiter.loop().submit(() -> {
      Map<String, List<long[]>> ws = new LinkedHashMap<>();
      for (Watcher w : arbiter.watchers()) {
        List<long[]> ps = new ArrayList<>();
        for (ManagedProcess mp : w.processes()) {
          ps.add(new long[] {mp.pid(), mp.wid()});
        }
        ws.put(w.name().toLowerCase(Locale.ROOT), ps);
      }
      List<Object[]> socks = new ArrayList<>();
      for (ManagedSocket s : arbiter.sockets()) {
        if (s.isBound() && s.fd() >= 0) {
          String address = s.config().isUnix() ? s.config().path() : s.host() + ":" + s.port();
          socks.add(new Object[] {s.name(), s.fd(), address, s.config().isUnix()});
        }
      }
      return new Snapshot(ws, socks);
    }).get(2, TimeUnit.SECONDS);
  }

  private void statsLoop(ZMQ.Socket pub) {
    ProcStats ps = ProcStats.keepingOpen();
    try {
      statsLoop(pub, ps);
    } finally {
      ps.close();
    }
  }

  private void statsLoop(ZMQ.Socket pub, ProcStats ps) {
    Map<Integer, SocketSample> samples = new HashMap<>();
    List<Object[]> sockets = List.of();
    long next = System.nanoTime();
    long nextSecond = next + TimeUnit.MILLISECONDS.toNanos(1000);
    int self = (int) ProcessHandle.current().pid();
    SystemTotals system = null;
    try {
      system = new SystemTotals();
    } catch (RuntimeException | LinkageError e) {
      LOG.warn("stats: no system totals (OSHI: {})", e.toString());
    }
    while (running) {
      for (Object[] s : sockets) {
        sampleSocket(s, samples);
      }
      if (System.nanoTime() - nextSecond >= 0) {
        nextSecond += TimeUnit.MILLISECONDS.toNanos(1000);
        Snapshot snap;
        try {
          snap = snapshot();
        } catch (Exception e) {
          if (!running || !arbiter.isRunning()) {
            return;
          }
          LOG.debug("stats: no snapshot from the arbiter this second: {}", e.toString());
          continue;
        }
        sockets = snap.sockets();
        for (Object[] s : sockets) {
          if (!samples.containsKey((Integer) s[1])) {
            sampleSocket(s, samples); // new this second: one sample now rather than "N/A"
          }
        }
        publishStats(pub, ps, snap, samples, self, system);
        samples.clear();
      }
      next += TimeUnit.MILLISECONDS.toNanos(TICK_MS);
      long wait = next - System.nanoTime();
      if (wait < 0) {
        next = System.nanoTime(); // fell behind (a slow second): do not try to catch up
      } else {
        try {
          TimeUnit.NANOSECONDS.sleep(wait);
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  /** One 100 ms sample of a TCP socket's accept queue (unix sockets have no TCP_INFO). */
  private static void sampleSocket(Object[] s, Map<Integer, SocketSample> samples) {
    if ((Boolean) s[3]) {
      return;
    }
    int[] q = Posix.acceptQueue((Integer) s[1]);
    if (q != null) {
      SocketSample x = samples.computeIfAbsent((Integer) s[1], k -> new SocketSample());
      x.queue = q[0];
      x.backlog = q[1];
      x.queueMax = Math.max(x.queueMax, q[0]);
      if (q[0] > 0) {
        x.busyTicks++;
      }
    }
  }

  private static void publishStats(ZMQ.Socket pub, ProcStats ps, Snapshot snap, Map<Integer, SocketSample> samples,
      int self, SystemTotals system) {
    // Everything is read and encoded first and sent in one burst: JeroMQ's I/O thread then wakes a few times a
    // second rather than once per message (half of the stream's cost here was those wake-ups).
    List<String[]> out = new ArrayList<>(1024);
    collect(out, ps, snap, samples, self, system);
    for (String[] m : out) {
      if (pub.sendMore(m[0])) {
        pub.send(m[1], ZMQ.DONTWAIT);
      }
    }
  }

  private static void collect(List<String[]> pub, ProcStats ps, Snapshot snap, Map<Integer, SocketSample> samples,
      int self, SystemTotals system) {
    Set<Integer> alive = new HashSet<>();
    double now = System.currentTimeMillis() / 1000.0;
    StringBuilder sb = new StringBuilder(512);
    for (Map.Entry<String, List<long[]>> w : snap.watchers().entrySet()) {
      if (w.getValue().isEmpty()) {
        continue; // Circus streams a watcher only while it has processes
      }
      Aggregate agg = new Aggregate();
      for (long[] p : w.getValue()) {
        ProcStats.Sample x = ps.sample((int) p[0]);
        if (x != null) {
          alive.add(x.pid);
          pub.add(new String[] {Topics.stats(w.getKey(), x.pid), perProcess(sb, x, now, null, (int) p[1], agg)});
        }
      }
      pub.add(new String[] {Topics.stats(w.getKey()), Json.write(agg.toMap())});
    }
    ProcStats.Sample me = ps.sample(self);
    alive.add(self);
    if (me != null) {
      Aggregate agg = new Aggregate();
      pub.add(new String[] {Topics.stats("circus", self), perProcess(sb, me, now, "circusd", 0, agg)});
      Map<String, Object> m = agg.toMap();
      if (system != null) {
        m.put("system", system.sample()); // an extra key: Circus's clients read the ones they know
      }
      pub.add(new String[] {Topics.stats("circus"), Json.write(m)});
    }
    if (!snap.sockets().isEmpty()) {
      List<Object> addresses = new ArrayList<>();
      int reads = 0;
      for (Object[] s : snap.sockets()) {
        int fd = (Integer) s[1];
        SocketSample x = samples.get(fd);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("fd", fd);
        m.put("subtopic", fd);
        // Circus counts select() wake-ups here; this is the number of 100 ms samples with connections waiting
        m.put("reads", x == null ? 0 : x.busyTicks);
        m.put("address", s[2]);
        m.put("name", s[0]);
        m.put("queue", x == null ? "N/A" : (Object) x.queue);
        m.put("queue_max", x == null ? "N/A" : (Object) x.queueMax);
        m.put("backlog", x == null ? "N/A" : (Object) x.backlog);
        addresses.add(s[2]);
        reads += x == null ? 0 : x.busyTicks;
        send(pub, Topics.stats("sockets", fd), m);
      }
      Map<String, Object> all = new LinkedHashMap<>();
      all.put("addresses", addresses);
      all.put("reads", reads);
      send(pub, Topics.stats("sockets"), all);
    }
    ps.retain(alive);
  }

  /** The per-process payload, encoded straight from the sample; adds the process to {@code agg}. */
  private static String perProcess(StringBuilder sb, ProcStats.Sample x, double now, String name, int wid,
      Aggregate agg) {
    double age = Math.round((now - x.createTime) * 1000) / 1000.0; // Circus: now - create_time in the stream
    agg.add(x, age);
    sb.setLength(0);
    ProcStats.streamJson(sb, x, age, name, wid);
    return sb.toString();
  }

  /** Circus's aggregate: cpu is the mean, mem the sum, age the max (plus rss, the sum in bytes). */
  private static final class Aggregate {
    final List<Object> pids = new ArrayList<>();
    double cpu;
    double mem;
    double age;
    long rss;

    void add(ProcStats.Sample x, double a) {
      pids.add(x.pid);
      cpu += x.cpu;
      mem += x.mem;
      age = Math.max(age, a);
      rss += x.rss;
    }

    Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("pid", pids);
      m.put("cpu", pids.isEmpty() ? 0.0 : Math.round(cpu / pids.size() * 10) / 10.0);
      m.put("mem", Math.round(mem * 1000) / 1000.0);
      m.put("age", age);
      m.put("rss", rss);
      return m;
    }
  }

  private static void send(List<String[]> pub, String topic, Map<String, Object> payload) {
    pub.add(new String[] {topic, Json.write(payload)});
  }
}
