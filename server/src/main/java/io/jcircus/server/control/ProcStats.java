package io.jcircus.server.control;

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
  private static final long TICKS = 100; // USER_HZ on Linux
  private static final long PAGE = 4096;
  private final Map<Integer, double[]> last = new HashMap<>(); // pid → {cpu seconds, wall seconds}
  private final Map<Integer, String> users = new HashMap<>();
  /** What does not change while a process lives (its pid reused means a new start time). */
  private record Fixed(long start, String user, String cmdline) { }

  private final Map<Integer, Fixed> fixed = new HashMap<>();
  private long memTotal = -1;
  private double bootTime = -1;

  /** Circus's bytes2human: "1000B", "2.00K", "10.00M". */
  public static String human(long n) {
    String symbols = "KMGTPEZY";
    for (int i = symbols.length() - 1; i >= 0; i--) {
      double prefix = Math.pow(1024, i + 1);
      if (n >= prefix) {
        return String.format(java.util.Locale.ROOT, "%.2f%c", (double) n / prefix, symbols.charAt(i));
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
    String stat;
    try {
      stat = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"), StandardCharsets.US_ASCII);
    } catch (IOException e) {
      forget(pid);
      return null;
    }
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    long utime = Long.parseLong(f[11]);
    long stime = Long.parseLong(f[12]);
    int nice = Integer.parseInt(f[16]);
    int threads = Integer.parseInt(f[17]);
    long start = Long.parseLong(f[19]);
    Fixed fx = fixed.get(pid);
    if (fx == null || fx.start != start) {
      fx = new Fixed(start, user(pid), cmdline(pid));
      fixed.put(pid, fx);
      last.remove(pid);
    }
    long vsize = Long.parseLong(f[20]);
    long rss = Long.parseLong(f[21]) * PAGE;
    double cpuSec = (utime + stime) / (double) TICKS;
    double now = System.currentTimeMillis() / 1000.0;
    double[] prev = last.put(pid, new double[] {cpuSec, now});
    double cpu = 0.0;
    if (prev != null && now > prev[1]) {
      cpu = Math.round((cpuSec - prev[0]) / (now - prev[1]) * 1000) / 10.0;
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mem_info1", human(rss));
    m.put("mem_info2", human(vsize));
    m.put("cpu", cpu);
    m.put("mem", Math.round(rss * 100.0 / memTotal() * 1000) / 1000.0);
    long cs = utime + stime; // hundredths of a second
    m.put("ctime", ctime(cs));
    m.put("pid", pid);
    m.put("username", fx.user);
    m.put("nice", f[0].equals("Z") ? "Zombie" : nice);
    m.put("create_time", Math.round((bootTime() + start / (double) TICKS) * 100) / 100.0);
    m.put("cmdline", fx.cmdline);
    if (level >= STREAM) {
      m.put("threads", threads);
      m.put("rss", rss);
      m.put("vms", vsize);
    }
    if (level >= EXTENDED) {
      String[] fds = new java.io.File("/proc/" + pid + "/fd").list();
      m.put("fds", fds == null ? "N/A" : (Object) fds.length);
      m.put("cpu_time", cpuSec);
    }
    List<Object> children = new ArrayList<>();
    if (withChildren) {
      for (int c : io.jcircus.server.arbiter.ProcFsAccess.children(pid)) {
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

  private static String cmdline(int pid) {
    try {
      byte[] b = Files.readAllBytes(Path.of("/proc", Integer.toString(pid), "cmdline"));
      int end = 0;
      while (end < b.length && b[end] != 0) {
        end++;
      }
      String argv0 = new String(b, 0, end, StandardCharsets.UTF_8);
      return argv0.substring(argv0.lastIndexOf('/') + 1);
    } catch (IOException e) {
      return "";
    }
  }

  private String user(int pid) {
    int uid = -1;
    try {
      for (String l : Files.readAllLines(Path.of("/proc", Integer.toString(pid), "status"))) {
        if (l.startsWith("Uid:")) {
          uid = Integer.parseInt(l.substring(4).strip().split("\\s+")[1]);
          break;
        }
      }
    } catch (IOException | RuntimeException e) {
      return "N/A";
    }
    int u = uid;
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
      memTotal = 1;
      try {
        for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
          if (l.startsWith("MemTotal:")) {
            memTotal = Long.parseLong(l.replaceAll("\\D+", "")) * 1024;
          }
        }
      } catch (IOException e) {
        // keep 1
      }
    }
    return memTotal;
  }

  private double bootTime() {
    if (bootTime < 0) {
      bootTime = 0;
      try {
        for (String l : Files.readAllLines(Path.of("/proc/stat"))) {
          if (l.startsWith("btime ")) {
            bootTime = Long.parseLong(l.substring(6).strip());
          }
        }
      } catch (IOException e) {
        // keep 0
      }
    }
    return bootTime;
  }

  /** Drops what is kept about {@code pid} (it exited). */
  public void forget(int pid) {
    last.remove(pid);
    fixed.remove(pid);
  }

  /** Forgets every pid not in {@code alive}: the caches never grow past the processes being watched. */
  public void retain(java.util.Set<Integer> alive) {
    last.keySet().retainAll(alive);
    fixed.keySet().retainAll(alive);
  }

  /** Total RAM in bytes (MemTotal). */
  public long memoryTotal() {
    return memTotal();
  }

  /** Circus's ctime format for {@code hundredths} of a second of CPU: "M:SS.cc", minutes wrapping at 60. */
  static String ctime(long cs) {
    return String.format(java.util.Locale.ROOT, "%d:%02d.%02d", (cs / 6000) % 60, (cs / 100) % 60, cs % 100);
  }
}
