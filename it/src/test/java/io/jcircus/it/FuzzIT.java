package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Every command with random properties (types, extremes, unknown keys, bad names), and frames that are not
 * requests at all, from a libzmq client. Seeded: a failure prints the seed and the request. After the run,
 * circusd answers status within 100 ms, lists every process it runs, and holds no more descriptors than before.
 */
class FuzzIT extends ItBase {
  private static final String[] COMMANDS = {
      "list", "status", "numwatchers", "numprocesses", "globaloptions", "listsockets", "options", "get", "start",
      "stop", "restart", "reload", "incr", "decr", "signal", "kill", "stats", "dstats", "output", "add", "rm", "set",
      "reloadconfig", "listen", "STATUS", "nosuchcommand", ""};
  private static final String[] KEYS = {
      "name", "waiting", "match", "nb", "signum", "pid", "childpid", "children", "recursive", "graceful_timeout",
      "keys", "options", "extended", "process", "since", "lines", "stream", "prefix", "start", "cmd", "args",
      "nostop", "sequential", "graceful", "option", "numprocesses", "warmup_delay", "env", "\u00e9\u0000"};
  private static final String[] OPTION_KEYS = {
      "numprocesses", "warmup_delay", "graceful_timeout", "max_retry", "max_age", "priority", "respawn",
      "stop_signal", "cmd", "args", "env", "backoff_factor", "unknown", "working_dir", "copy_env"};

  private final Random r;
  private final long seed;

  FuzzIT() {
    seed = Long.getLong("fuzz.seed", System.nanoTime());
    r = new Random(seed);
  }

  /** A value of any JSON type, biased to the edges; strings never name a program that exists. */
  private Object value(int depth) {
    switch (r.nextInt(depth > 2 ? 9 : 11)) {
      case 0: return null;
      case 1: return r.nextBoolean();
      case 2: return new long[] {0, 1, 3, -1, -5, Integer.MAX_VALUE + 1L, Long.MIN_VALUE, 1_000_000_000_000L}[r.nextInt(8)];
      case 3: return new double[] {0.5, -0.5, 1e308, -1e308, 2.0, 1e-9, 0.0}[r.nextInt(7)];
      case 4: return "fz";
      case 5: return new String[] {"*", "nope", "f?", "^f.*", "TERM", "KILL", "CONT", "SIGHUP", "NOPE", "99", "stdout",
          "regex", "glob", "simple", "true", "", " "}[r.nextInt(17)];
      case 6: {
        StringBuilder b = new StringBuilder("/nonexistent/");
        int n = r.nextInt(40);
        for (int i = 0; i < n; i++) {
          b.append((char) (r.nextInt(0x7FF) + 1));
        }
        return b.toString();
      }
      case 7: return "x".repeat(r.nextInt(20_000));
      case 8: return "[circus.sockets.web] $(circus.env.x) \n [watcher:evil]";
      case 9: {
        List<Object> l = new ArrayList<>();
        for (int i = r.nextInt(4); i > 0; i--) {
          l.add(value(depth + 1));
        }
        return l;
      }
      default: {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = r.nextInt(4); i > 0; i--) {
          m.put(r.nextBoolean() ? OPTION_KEYS[r.nextInt(OPTION_KEYS.length)] : "k" + r.nextInt(9), value(depth + 1));
        }
        return m;
      }
    }
  }

  private Map<String, Object> properties() {
    Map<String, Object> p = new LinkedHashMap<>();
    if (r.nextInt(4) > 0) {
      p.put("name", r.nextInt(3) > 0 ? "fz" : value(3));
    }
    for (int i = r.nextInt(5); i > 0; i--) {
      String k = KEYS[r.nextInt(KEYS.length)];
      if (k.equals("options") && r.nextBoolean()) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put(OPTION_KEYS[r.nextInt(OPTION_KEYS.length)], value(3));
        p.put(k, o);
      } else {
        p.put(k, value(0));
      }
    }
    return p;
  }

  /** Frames that are not requests: broken JSON, other types, deep nesting, bytes that are not UTF-8 text. */
  private String junk() {
    switch (r.nextInt(8)) {
      case 0: return "{\"command\": \"status\"";
      case 1: return "[".repeat(5000) + "]".repeat(5000);
      case 2: return "{\"command\": " + "{\"a\":".repeat(3000) + "1" + "}".repeat(3000) + "}";
      case 3: return "\"just a string\"";
      case 4: return "{\"command\": \"status\", \"properties\": [1, 2]}";
      case 5: return "{\"id\": {\"nested\": true}, \"command\": 12}";
      case 6: return "{\"command\": \"status\", \"id\": 1e999999}";
      default: {
        StringBuilder b = new StringBuilder();
        for (int i = r.nextInt(200); i > 0; i--) {
          b.append((char) (r.nextInt(0xD7FF) + 1));
        }
        return b.toString();
      }
    }
  }

  /** The pids circusd says it left running for {@code rm --nostop}. */
  private static Set<Long> letGo(Daemon d) {
    Set<Long> out = new TreeSet<>();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("leaving pid (\\d+) running \\(rm --nostop\\)")
        .matcher(d.logText());
    while (m.find()) {
      out.add(Long.parseLong(m.group(1)));
    }
    return out;
  }

  private static Set<Long> listed(Probe p) throws IOException {
    Set<Long> out = new TreeSet<>();
    for (JsonNode n : p.call("list", Map.of()).reply().get("watchers")) {
      Probe.Reply l = p.call("list", Map.of("name", n.asText()));
      if (l.ok()) {
        l.reply().get("pids").forEach(x -> out.add(x.asLong()));
      }
    }
    return out;
  }

  @Test
  void randomPropertiesForEveryCommandLeaveCircusdServing() throws Exception {
    System.out.println("FuzzIT seed " + seed + " (rerun with -Dfuzz.seed=" + seed + ")");
    Daemon d = start("[watcher:fz]\ncmd = sleep 3600\nnumprocesses = 2\ngraceful_timeout = 2\n");
    try (Probe p = new Probe(dir, d.endpoint(), 15_000)) {
      p.statusMs(3);
      int fds = d.fdCount();
      int answered = 0;
      int errors = 0;
      for (int i = 0; i < 600; i++) {
        String line;
        if (r.nextInt(10) == 0) {
          line = junk();
        } else {
          Map<String, Object> req = new LinkedHashMap<>();
          req.put("id", "f" + i);
          req.put("command", COMMANDS[r.nextInt(COMMANDS.length)]);
          req.put("properties", properties());
          if (r.nextInt(20) == 0) {
            req.put("msg_type", "cast");
          }
          line = Probe.JSON.writeValueAsString(req);
        }
        Probe.Reply rep = p.raw(line);
        if (rep.reply() != null) {
          answered++;
          if ("error".equals(rep.reply().path("status").asText())) {
            errors++;
            assertThat(rep.reply().path("reason").asText()).as("seed " + seed + ": " + line).isNotBlank();
          }
        }
        if (i % 50 == 49) {
          assertThat(p.statusMs(1)).as("seed " + seed + ", after request " + i).isLessThan(100.0);
        }
      }
      System.out.println("FuzzIT: 600 frames, " + answered + " answered, " + errors + " errors");
      assertThat(answered).isGreaterThan(300);

      // the invariants: status in 100 ms, every running child listed, no descriptor kept
      assertThat(p.statusMs(3)).as("seed " + seed).isLessThan(100.0);
      try {
        await(Duration.ofSeconds(30), "every child of circusd listed (seed " + seed + ")", () -> {
          try {
            Set<Long> l = listed(p);
            l.addAll(letGo(d)); // rm --nostop leaves them running, unmanaged, as Circus does (and says so)
            return d.children().stream().allMatch(c -> l.contains(c) || !Proc.alive(c));
          } catch (IOException e) {
            throw new AssertionError(e);
          }
        });
      } catch (AssertionError e) {
        Set<Long> l = listed(p);
        l.addAll(letGo(d));
        for (long c : d.children()) {
          if (!l.contains(c) && Proc.alive(c)) {
            String cmd = new String(java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/proc/" + c + "/cmdline")))
                .replace('\0', ' ');
            System.out.println("UNLISTED pid " + c + ": " + cmd + "; the log on it: " + d.logText().lines()
                .filter(x -> x.contains(Long.toString(c)) && !x.contains("Controller")).toList());
          }
        }
        throw e;
      }
      // processes rm --nostop let go still hold their pidfd and output pipes in circusd until they exit: end them
      List<Long> children = d.children();
      for (long pid : letGo(d)) {
        if (children.contains(pid)) { // still circusd's child: not a pid reused since
          Proc.kill(pid, 9);
        }
      }
      // back to the starting state, then compare descriptors
      Probe.Reply ws = p.call("list", Map.of());
      for (JsonNode n : ws.reply().get("watchers")) {
        if (!n.asText().equals("fz")) {
          p.call("rm", Map.of("name", n.asText(), "waiting", true));
        }
      }
      if (p.call("status", Map.of("name", "fz")).reply().path("status").asText().equals("error")) {
        p.call("add", Map.of("name", "fz", "cmd", "sleep 3600"));
      }
      p.call("stop", Map.of("name", "fz", "waiting", true));
      p.call("set", Map.of("name", "fz", "options", Map.of("numprocesses", 2, "cmd", "sleep 3600", "args", "",
          "env", Map.of(), "graceful_timeout", 2)));
      assertThat(p.call("start", Map.of("name", "fz", "waiting", true)).ok()).as("seed " + seed).isTrue();
      await(Duration.ofSeconds(10), "descriptors back to " + fds + " (seed " + seed + ", now " + d.fdCount() + ")",
          () -> d.fdCount() <= fds);
      assertThat(d.logText()).as("seed " + seed).doesNotContain("Exception in thread").doesNotContain("StackOverflowError");
    }
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(30))).isZero();
  }
}
