package io.jcircus.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/** Reads processes from /proc, the way a test must verify them: not by asking the daemon. */
final class Proc {
  private Proc() {}

  static List<Long> children(long pid) {
    List<Long> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path t : ds) {
        try {
          for (String s : Files.readString(t.resolve("children")).strip().split("\\s+")) {
            if (!s.isEmpty()) {
              out.add(Long.parseLong(s));
            }
          }
        } catch (IOException e) {
          // thread gone
        }
      }
    } catch (IOException e) {
      // process gone
    }
    return out;
  }

  /** Alive and not a zombie. */
  static boolean alive(long pid) {
    String st = stat(pid);
    if (st == null) {
      return false;
    }
    char state = st.charAt(st.lastIndexOf(')') + 2);
    return state != 'Z' && state != 'X';
  }

  static String stat(long pid) {
    try {
      return Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
    } catch (IOException e) {
      return null;
    }
  }

  static String cmdline(long pid) {
    try {
      return new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")), StandardCharsets.UTF_8)
          .replace('\0', ' ').strip();
    } catch (IOException e) {
      return "";
    }
  }

  /** fd number → link target, e.g. 0 → /dev/null, 3 → socket:[1234]. */
  static TreeMap<Integer, String> fds(long pid) throws IOException {
    TreeMap<Integer, String> out = new TreeMap<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
      for (Path p : ds) {
        try {
          out.put(Integer.parseInt(p.getFileName().toString()), Files.readSymbolicLink(p).toString());
        } catch (IOException e) {
          // closed meanwhile
        }
      }
    }
    return out;
  }

  static String status(long pid, String field) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith(field + ":")) {
        return line.substring(field.length() + 1).strip();
      }
    }
    return null;
  }

  static void kill(long pid, int sig) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    p.waitFor();
  }
}
