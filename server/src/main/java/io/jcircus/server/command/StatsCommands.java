package io.jcircus.server.command;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.arbiter.Watcher;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import io.jcircus.server.control.ProcStats;

/** Commands that read /proc or the output rings: stats, dstats, output. /proc is read on a thread of its own. */
final class StatsCommands extends Family {
  /** Confined to {@link #statsThread}. */
  private final ProcStats stats = new ProcStats();
  private final java.util.concurrent.ExecutorService statsThread =
      java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "jcircus-stats");
        t.setDaemon(true);
        return t;
      });

  StatsCommands(Arbiter arbiter) {
    super(arbiter);
  }

  @Override
  void register(Registry r) {
    r.register("stats", this::stats);
    r.register("output", this::output);
    r.register("dstats", (p, out) -> {
      boolean ext = bool(p, "extended", false);
      offLoop(() -> kv("info", stats.info((int) ProcessHandle.current().pid(), false,
          ext ? ProcStats.EXTENDED : ProcStats.CIRCUS)), out);
    });
  }

  /** What stats needs of one process, taken on the arbiter loop so /proc can be read elsewhere. */
  private record Target(int pid, double started, int wid) { }

  private static List<Target> targets(Watcher w) {
    List<Target> out = new ArrayList<>();
    for (io.jcircus.server.arbiter.ManagedProcess mp : w.processes()) {
      out.add(new Target(mp.pid(), mp.started(), mp.wid()));
    }
    return out;
  }

  /**
   * Reads /proc for {@code work} on the stats thread and hands the reply back to the arbiter loop: a stats
   * call over 500 processes takes about 100 ms of file reads, which must not hold up the arbiter.
   */
  void offLoop(java.util.function.Supplier<Map<String, Object>> work, Reply r) {
    offLoop(work, r, (out, done) -> done.run());
  }

  /** The same, {@code then} given the reply on the loop (to amend it) and what sends it once it is done. */
  private void offLoop(java.util.function.Supplier<Map<String, Object>> work, Reply r,
      java.util.function.BiConsumer<Map<String, Object>, Runnable> then) {
    statsThread.execute(() -> {
      Map<String, Object> out = work.get();
      arbiter.loop().execute(() -> then.accept(out, () -> r.ok(out)));
    });
  }

  /**
   * stats --extended: each process's figures amended by its watcher's extended_stats hook (Circus's), {@code done}
   * once every hook has answered. On the loop.
   */
  @SuppressWarnings("unchecked")
  private static void amend(Watcher w, Map<String, Object> byPid, Runnable done) {
    List<String> pids = new ArrayList<>();
    byPid.forEach((pid, info) -> {
      if (info instanceof Map) {
        pids.add(pid);
      }
    });
    if (pids.isEmpty()) {
      done.run();
      return;
    }
    int[] left = {pids.size()};
    for (String pid : pids) {
      w.extendedStats(Integer.parseInt(pid), (Map<String, Object>) byPid.get(pid)).addListener(f -> {
        if (f.isSuccess()) {
          byPid.put(pid, f.getNow());
        }
        if (--left[0] == 0) {
          done.run();
        }
      });
    }
  }

  /** Stats thread only. */
  private Object processInfo(Target t, boolean extended) {
    Map<String, Object> i = stats.info(t.pid, true, extended ? ProcStats.EXTENDED : ProcStats.CIRCUS);
    if (i == null) {
      return "No such process (stopped?)";
    }
    i.put("age", System.currentTimeMillis() / 1000.0 - t.started);
    i.put("started", t.started);
    i.put("wid", t.wid);
    return i;
  }

  /** Stats thread only. */
  private Map<String, Object> watcherInfo(List<Target> ts, boolean extended) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Target t : ts) {
      out.put(Integer.toString(t.pid), processInfo(t, extended));
    }
    return out;
  }

  void stats(Map<String, Object> p, Reply r) throws CommandError {
    // extended: open descriptors and CPU seconds, and what the watcher's extended_stats hook adds (Circus's)
    boolean ext = bool(p, "extended", false);
    if (p.get("name") == null) {
      Map<String, List<Target>> all = new LinkedHashMap<>();
      for (Watcher w : arbiter.watchers()) {
        all.put(w.name().toLowerCase(Locale.ROOT), targets(w));
      }
      Map<String, Watcher> byName = new LinkedHashMap<>();
      for (Watcher w : arbiter.watchers()) {
        byName.put(w.name().toLowerCase(Locale.ROOT), w);
      }
      offLoop(() -> {
        Map<String, Object> infos = new LinkedHashMap<>();
        all.forEach((name, ts) -> infos.put(name, watcherInfo(ts, ext)));
        return kv("infos", infos);
      }, r, !ext ? (out, done) -> done.run() : (out, done) -> {
        @SuppressWarnings("unchecked")
        Map<String, Object> infos = (Map<String, Object>) out.get("infos");
        int[] left = {infos.size()};
        if (left[0] == 0) {
          done.run();
        }
        infos.forEach((name, byPid) -> {
          @SuppressWarnings("unchecked")
          Map<String, Object> m = (Map<String, Object>) byPid;
          amend(byName.get(name), m, () -> {
            if (--left[0] == 0) {
              done.run();
            }
          });
        });
      });
      return;
    }
    Watcher w = watcher(p);
    Integer pid = integer(p, "process");
    List<Target> ts = targets(w);
    if (pid != null) {
      for (Target t : ts) {
        if (t.pid == pid) {
          offLoop(() -> kv("process", pid, "info", processInfo(t, ext)), r, !ext ? (out, done) -> done.run()
              : (out, done) -> {
                Map<String, Object> one = new LinkedHashMap<>();
                one.put(Integer.toString(pid), out.get("info"));
                amend(w, one, () -> {
                  out.put("info", one.get(Integer.toString(pid)));
                  done.run();
                });
              });
          return;
        }
      }
      throw CommandError.message("process " + pid + " not found in '" + w.name() + "'");
    }
    String name = w.name();
    offLoop(() -> kv("name", name, "info", watcherInfo(ts, ext)), r, !ext ? (out, done) -> done.run()
        : (out, done) -> {
          @SuppressWarnings("unchecked")
          Map<String, Object> byPid = (Map<String, Object>) out.get("info");
          amend(w, byPid, done);
        });
  }

  /**
   * {@code output} (jcircus): recent lines of a watcher's processes from its ring, and where to follow them.
   * Properties: {@code name}; optional {@code pid}, {@code stream} (stdout|stderr), {@code lines} (default 10,
   * at most the ring's {@value io.jcircus.server.stream.LiveOutput#RING_LINES}), {@code since} (a seq: every
   * line after it still in the ring, instead of the last {@code lines}), {@code prefix} (answers
   * {@code subscribed}: whether the output publisher has seen a subscription to that topic prefix).
   */
  void output(Map<String, Object> p, Reply r) throws CommandError {
    io.jcircus.server.stream.LiveOutput live = arbiter.liveOutput();
    if (live == null) {
      throw CommandError.message("live output is off (output_endpoint is empty in [circus])");
    }
    Watcher w = watcher(p);
    Integer pid = integer(p, "pid");
    Object stream = p.get("stream");
    if (stream != null && !stream.equals("stdout") && !stream.equals("stderr")) {
      throw CommandError.message("stream must be stdout or stderr, not " + stream);
    }
    Integer n = integer(p, "lines");
    Object since = p.get("since");
    Long sinceSeq = null;
    if (since != null) {
      if (!(since instanceof Number)) {
        throw CommandError.message("since must be a number");
      }
      sinceSeq = ((Number) since).longValue();
    }
    String name = w.name().toLowerCase(Locale.ROOT);
    List<Object> lines = new ArrayList<>();
    for (io.jcircus.server.stream.LiveOutput.Line l : live.lines(name, pid, (String) stream,
        Math.max(0, Math.min(n == null ? 10 : n, io.jcircus.server.stream.LiveOutput.RING_LINES)), sinceSeq)) {
      lines.add(kv("seq", l.seq(), "pseq", l.pseq(), "pid", l.pid(), "stream", l.stream(), "time", l.time(),
          "data", l.data()));
    }
    Map<String, Object> out = kv("name", name, "lines", lines, "next_seq", live.nextSeq(name), "endpoint",
        live.endpoint(), "dropped", live.dropped());
    if (p.get("prefix") != null) {
      out.put("subscribed", live.isSubscribed(String.valueOf(p.get("prefix")))); // see circusctl tail
    }
    io.jcircus.server.stream.RingFile ring = live.ringFile(name);
    if (ring != null) { // for a follower on this machine (subscribed to ring.NAME): read it there
      out.put("ring", kv("path", ring.path().toString(), "token", Long.toString(ring.token())));
    }
    r.ok(out);
  }
}
