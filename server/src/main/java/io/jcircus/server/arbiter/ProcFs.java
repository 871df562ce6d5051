package io.jcircus.server.arbiter;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What circusd reads from /proc: a process's children and its start time (to recognise a reused pid). */
final class ProcFs {
  private ProcFs() {}

  /** Direct children of {@code pid}, from every thread's children list. */
  static List<Integer> children(int pid) {
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
  static List<long[]> descendants(int pid) {
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
  static long startTime(int pid) {
    try {
      String s = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"), StandardCharsets.US_ASCII);
      int close = s.lastIndexOf(')');
      String[] f = s.substring(close + 2).split(" ");
      return Long.parseLong(f[19]);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
