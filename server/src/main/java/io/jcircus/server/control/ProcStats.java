package io.jcircus.server.control;

import io.jcircus.protocol.Json;
import io.jcircus.server.internal.proc.ProcFs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Process figures in the shape Circus's {@code stats}/{@code dstats} report (psutil's), read from /proc:
 * humanised RSS/VMS, CPU percent since the previous sample (0.0 the first time, as psutil), memory percent,
 * {@code M:SS.cc} CPU time, nice, user, create time, basename of argv[0], direct children.
 */
public final class ProcStats {
  /** USER_HZ and the page size, read from sysconf at run time (aarch64 kernels often use 64 KiB pages). */
  private static final long TICKS = io.jcircus.server.internal.posix.Posix.clockTicks();
  private static final long PAGE = io.jcircus.server.internal.posix.Posix.pageSize();
  private final Map<Integer, double[]> last = new HashMap<>(); // pid → {cpu seconds, wall seconds}
  private final Map<Integer, String> users = new HashMap<>();
  /** What does not change while a process lives (its pid reused means a new start time). */
  private record Fixed(long start, String user, String cmdline) { }

  private final Map<Integer, Fixed> fixed = new HashMap<>();
  /** /proc/PID/stat is a few hundred bytes; fields 4..24 are parsed into fieldBuf[1..21]. */
  private final byte[] statBuf = new byte[1024];
  private final Map<Integer, byte[]> paths = new HashMap<>();
  /** With {@link #keepingOpen}: pid → its /proc/PID/stat, open (read with pread, no path lookup each time). */
  private final Map<Integer, Integer> open = new HashMap<>();
  private final boolean keepOpen;
  private final long[] fieldBuf = new long[22];
  private long memTotal = -1;
  private double bootTime = -1;

  /** Opens /proc/PID/stat for each sample (for occasional use: the {@code stats} command). */
  public ProcStats() {
    this(false);
  }

  private ProcStats(boolean keepOpen) {
    this.keepOpen = keepOpen;
  }

  /**
   * For samplers that come back every second or so (the stats stream, /metrics): each process's /proc/PID/stat
   * stays open until it is {@linkplain #forget forgotten} (one descriptor a process), and is read with pread —
   * half the kernel's work of an open/read/close, and never a reused pid's file. Call {@link #close} at the end.
   */
  public static ProcStats keepingOpen() {
    return new ProcStats(true);
  }

  /** Circus's bytes2human: "1000B", "2.00K", "10.00M". */
  public static String human(long n) {
    String symbols = "KMGTPE";
    for (int i = symbols.length() - 1; i >= 0; i--) {
      long prefix = 1L << (10 * (i + 1));
      if (n >= prefix) {
        long hundredths = Math.round(n * 100.0 / prefix);
        return (hundredths / 100) + "." + (char) ('0' + hundredths / 10 % 10) + (char) ('0' + hundredths % 10)
            + symbols.charAt(i);
      }
    }
    return n + "B";
  }

  /** Info for {@code pid}, or null if it is gone. */
  public Map<String, Object> info(int pid, boolean withChildren) {
    return info(pid, withChildren, CIRCUS);
  }

  /** Circus's fields exactly (the stats and dstats commands). */
  public static final int CIRCUS = 0;
  /** Plus threads, rss and vms in bytes (the stats stream). */
  public static final int STREAM = 1;
  /** Plus the open-descriptor count (a directory listing) and CPU seconds ({@code stats --extended}). */
  public static final int EXTENDED = 2;

  /**
   * Info for {@code pid} at {@code level} ({@link #CIRCUS}, {@link #STREAM}, {@link #EXTENDED}), or null if it
   * is gone. One read of /proc/PID/stat per call (user and command line are read once per process).
   */
  public Map<String, Object> info(int pid, boolean withChildren, int level) {
    Sample x = sample(pid);
    if (x == null) {
      return null;
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mem_info1", human(x.rss));
    m.put("mem_info2", human(x.vms));
    m.put("cpu", x.cpu);
    m.put("mem", x.mem);
    m.put("ctime", ctime(x.cpuTicks));
    m.put("pid", pid);
    m.put("username", x.user);
    m.put("nice", x.zombie ? "Zombie" : x.nice);
    m.put("create_time", x.createTime);
    m.put("cmdline", x.cmdline);
    if (level >= STREAM) {
      m.put("threads", x.threads);
      m.put("rss", x.rss);
      m.put("vms", x.vms);
    }
    if (level >= EXTENDED) {
      String[] fds = new java.io.File("/proc/" + pid + "/fd").list();
      m.put("fds", fds == null ? "N/A" : (Object) fds.length);
      m.put("cpu_time", x.cpuTicks / (double) TICKS);
    }
    List<Object> children = new ArrayList<>();
    if (withChildren) {
      for (int c : ProcFs.children(pid)) {
        Map<String, Object> ci = info(c, false, level);
        if (ci != null) {
          ci.put("children", List.of());
          children.add(ci);
        }
      }
    }
    m.put("children", children);
    return m;
  }

  /** One process's figures, as plain numbers (the stream encodes them straight to JSON). */
  public static final class Sample {
    public int pid;
    public double cpu;
    public double mem;
    public long rss;
    public long vms;
    public long cpuTicks;
    public int nice;
    public boolean zombie;
    public int threads;
    public double createTime;
    public String user;
    public String cmdline;
  }

  /**
   * Samples {@code pid}, or null if it is gone: one open/read/close of /proc/PID/stat into a reused buffer,
   * fields parsed in place (the stats stream does this for every process every second); user and command
   * line are read once per process. CPU is the percent since the previous sample (0.0 the first time).
   */
  public Sample sample(int pid) {
    int n = keepOpen ? readOpen(pid) : io.jcircus.server.internal.posix.Posix.readSmall(path(pid), statBuf);
    int close = n - 1;
    while (close > 0 && statBuf[close] != ')') {
      close--;
    }
    if (n <= 0 || close <= 0 || close + 2 >= n) {
      forget(pid);
      return null;
    }
    // after "comm) ": the state (field 3), then fields 4.. into f[1..]
    long[] f = fieldBuf;
    char state = (char) statBuf[close + 2];
    int i = close + 4;
    for (int k = 1; k < f.length && i < n; k++) {
      long v = 0;
      boolean neg = false;
      if (statBuf[i] == '-') {
        neg = true;
        i++;
      }
      while (i < n && statBuf[i] >= '0' && statBuf[i] <= '9') {
        v = v * 10 + (statBuf[i++] - '0');
      }
      f[k] = neg ? -v : v;
      i++;
    }
    long start = f[19];
    Fixed fx = fixed.get(pid);
    if (fx == null || fx.start != start) {
      fx = new Fixed(start, user(pid), ProcFs.argv0(pid));
      fixed.put(pid, fx);
      last.remove(pid);
    }
    Sample x = new Sample();
    x.pid = pid;
    x.cpuTicks = f[11] + f[12];
    x.nice = (int) f[16];
    x.threads = (int) f[17];
    x.vms = f[20];
    x.rss = f[21] * PAGE;
    x.zombie = state == 'Z';
    x.user = fx.user;
    x.cmdline = fx.cmdline;
    x.createTime = Math.round((bootTime() + start / (double) TICKS) * 100) / 100.0;
    x.mem = Math.round(x.rss * 100.0 / memTotal() * 1000) / 1000.0;
    double cpuSec = x.cpuTicks / (double) TICKS;
    long nowNs = System.nanoTime();
    double[] prev = last.get(pid);
    if (prev == null) {
      last.put(pid, new double[] {cpuSec, nowNs});
    } else {
      double wall = (nowNs - prev[1]) / 1e9;
      if (wall > 0) {
        x.cpu = Math.round((cpuSec - prev[0]) / wall * 1000) / 10.0;
      }
      prev[0] = cpuSec;
      prev[1] = nowNs;
    }
    return x;
  }

  /**
   * Appends the stream's per-process payload for {@code x} as JSON: Circus's fields in circusd-stats' order,
   * then this daemon's extras, then {@code extra} (already-encoded {@code , "key": value} pairs) and the
   * closing brace.
   */
  public static void streamJson(StringBuilder sb, Sample x, double age, String name, int wid) {
    sb.append("{\"mem_info1\": \"").append(human(x.rss)).append("\", \"mem_info2\": \"").append(human(x.vms))
        .append("\", \"cpu\": ");
    Json.number(sb, x.cpu);
    sb.append(", \"mem\": ");
    Json.number(sb, x.mem);
    sb.append(", \"ctime\": \"").append(ctime(x.cpuTicks)).append("\", \"pid\": ").append(x.pid)
        .append(", \"username\": ");
    Json.quote(sb, x.user);
    sb.append(", \"nice\": ");
    if (x.zombie) {
      sb.append("\"Zombie\"");
    } else {
      sb.append(x.nice);
    }
    sb.append(", \"create_time\": ");
    Json.number(sb, x.createTime);
    sb.append(", \"age\": ");
    Json.number(sb, age);
    sb.append(", \"cmdline\": ");
    Json.quote(sb, x.cmdline);
    sb.append(", \"children\": [], \"subtopic\": ").append(x.pid).append(", \"name\": ");
    if (name == null) {
      sb.append("null");
    } else {
      Json.quote(sb, name);
    }
    sb.append(", \"threads\": ").append(x.threads).append(", \"rss\": ").append(x.rss).append(", \"vms\": ")
        .append(x.vms);
    if (wid > 0) {
      sb.append(", \"wid\": ").append(wid);
    }
    sb.append('}');
  }

  private String user(int pid) {
    int u = ProcFs.uid(pid);
    if (u < 0) {
      return "N/A";
    }
    return users.computeIfAbsent(u, k -> {
      try {
        for (String l : Files.readAllLines(Path.of("/etc/passwd"))) {
          String[] p = l.split(":");
          if (p.length > 2 && p[2].equals(Integer.toString(k))) {
            return p[0];
          }
        }
      } catch (IOException e) {
        // fall through
      }
      return Integer.toString(k);
    });
  }

  private long memTotal() {
    if (memTotal < 0) {
      memTotal = ProcFs.memTotal();
    }
    return memTotal;
  }

  private double bootTime() {
    if (bootTime < 0) {
      bootTime = ProcFs.bootTime();
    }
    return bootTime;
  }

  /** Drops what is kept about {@code pid} (it exited). */
  public void forget(int pid) {
    last.remove(pid);
    fixed.remove(pid);
    paths.remove(pid);
    Integer fd = open.remove(pid);
    if (fd != null) {
      io.jcircus.server.internal.posix.Posix.closeFd(fd);
    }
  }

  /** Forgets every pid not in {@code alive}: the caches never grow past the processes being watched. */
  public void retain(java.util.Set<Integer> alive) {
    last.keySet().retainAll(alive);
    fixed.keySet().retainAll(alive);
    paths.keySet().retainAll(alive);
    for (var it = open.entrySet().iterator(); it.hasNext();) {
      var e = it.next();
      if (!alive.contains(e.getKey())) {
        io.jcircus.server.internal.posix.Posix.closeFd(e.getValue());
        it.remove();
      }
    }
  }

  /** Closes what {@link #keepingOpen} holds. */
  public void close() {
    retain(java.util.Set.of());
  }

  private byte[] path(int pid) {
    return paths.computeIfAbsent(pid, k -> ("/proc/" + k + "/stat\0").getBytes(StandardCharsets.US_ASCII));
  }

  /** /proc/PID/stat through its open descriptor (opened the first time); -1 when the process is gone. */
  private int readOpen(int pid) {
    Integer fd = open.get(pid);
    if (fd == null) {
      int f = io.jcircus.server.internal.posix.Posix.openReadOnly(path(pid));
      if (f < 0) {
        return -1;
      }
      open.put(pid, f);
      fd = f;
    }
    return io.jcircus.server.internal.posix.Posix.readAtStart(fd, statBuf);
  }

  /** Total RAM in bytes (MemTotal). */
  public long memoryTotal() {
    return memTotal();
  }

  /** Circus's ctime format for {@code hundredths} of a second of CPU: "M:SS.cc", minutes wrapping at 60. */
  static String ctime(long cs) {
    long sec = (cs / 100) % 60;
    long hs = cs % 100;
    return ((cs / 6000) % 60) + ":" + (sec < 10 ? "0" : "") + sec + "." + (hs < 10 ? "0" : "") + hs;
  }
}
