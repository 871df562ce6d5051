package io.jcircus.server.internal.proc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What circusd reads from /proc, in one place: a process's children and descendants, its start time (to recognise
 * a reused pid), argv[0], its uid, and the machine's total memory and boot time. The per-second stats sampling of
 * /proc/PID/stat, with its reused buffer, is {@code control.ProcStats}'s.
 */
public final class ProcFs {
  private ProcFs() {}

  /** Direct children of {@code pid}, from every thread's children list. */
  public static List<Integer> children(int pid) {
    List<Integer> out = new ArrayList<>();
    Path task = Path.of("/proc", Integer.toString(pid), "task");
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(task)) {
      for (Path t : ds) {
        try {
          String s = Files.readString(t.resolve("children"), StandardCharsets.US_ASCII).strip();
          if (!s.isEmpty()) {
            for (String p : s.split("\\s+")) {
              out.add(Integer.parseInt(p));
            }
          }
        } catch (IOException | NumberFormatException e) {
          // thread gone
        }
      }
    } catch (IOException e) {
      // process gone
    }
    return out;
  }

  /** Every descendant of {@code pid}, depth first, with its start time. */
  public static List<long[]> descendants(int pid) {
    List<long[]> out = new ArrayList<>();
    collect(pid, out, 0);
    return out;
  }

  private static void collect(int pid, List<long[]> out, int depth) {
    if (depth > 64) {
      return;
    }
    for (int c : children(pid)) {
      long st = startTime(c);
      if (st >= 0) {
        out.add(new long[] {c, st});
        collect(c, out, depth + 1);
      }
    }
  }

  /** Field 22 of /proc/PID/stat (clock ticks since boot), or -1 if the process is gone. */
  public static long startTime(int pid) {
    try {
      String s = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"), StandardCharsets.US_ASCII);
      int close = s.lastIndexOf(')');
      String[] f = s.substring(close + 2).split(" ");
      return Long.parseLong(f[19]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** The base name of argv[0], or "" if the process is gone. */
  public static String argv0(int pid) {
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

  /** The effective uid of {@code pid} (the second Uid: field), or -1 if it is gone. */
  public static int uid(int pid) {
    try {
      for (String l : Files.readAllLines(Path.of("/proc", Integer.toString(pid), "status"))) {
        if (l.startsWith("Uid:")) {
          return Integer.parseInt(l.substring(4).strip().split("\\s+")[1]);
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone
    }
    return -1;
  }

  /** MemTotal in bytes, or 1 if it cannot be read. */
  public static long memTotal() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (l.startsWith("MemTotal:")) {
          return Long.parseLong(l.replaceAll("\\D+", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // below
    }
    return 1;
  }

  /** The boot time, seconds since the epoch (btime of /proc/stat), or 0. */
  public static long bootTime() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/stat"))) {
        if (l.startsWith("btime ")) {
          return Long.parseLong(l.substring(6).strip());
        }
      }
    } catch (IOException | RuntimeException e) {
      // below
    }
    return 0;
  }
}
