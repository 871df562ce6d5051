package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * The same commands, byte for byte the same replies as the command layer gave before it was rebuilt: a script of
 * every command family (and their errors) runs against circusd, and each raw reply, with what differs from run to
 * run masked (pids, times, ports, paths, measured figures), is compared with the transcript recorded from the
 * build of 7ade708 ({@code -Dreplies.record=FILE} writes one instead, to record it again from any build). Uses
 * nothing of the protocol module, so the recording run compiles against an older tree.
 */
class RecordedRepliesIT extends ItBase {
  private static final String[][] SCRIPT = {
      {"list", "{}"},
      {"list", "{\"name\": \"alpha\"}"},
      {"status", "{}"},
      {"status", "{\"name\": \"alpha\"}"},
      {"numwatchers", "{}"},
      {"numprocesses", "{}"},
      {"numprocesses", "{\"name\": \"alpha\"}"},
      {"options", "{\"name\": \"alpha\"}"},
      {"get", "{\"name\": \"alpha\", \"keys\": [\"numprocesses\", \"cmd\", \"graceful_timeout\", \"env\"]}"},
      {"get", "{\"name\": \"alpha\", \"keys\": [\"nope\"]}"},
      {"get", "{\"name\": \"alpha\"}"},
      {"globaloptions", "{}"},
      {"globaloptions", "{\"option\": \"check_delay\"}"},
      {"listsockets", "{}"},
      {"incr", "{\"name\": \"alpha\", \"nb\": 1, \"waiting\": true}"},
      {"decr", "{\"name\": \"alpha\", \"waiting\": true}"},
      {"set", "{\"name\": \"alpha\", \"options\": {\"graceful_timeout\": 5}, \"waiting\": true}"},
      {"set", "{\"name\": \"alpha\", \"options\": {\"respawn\": \"yes\"}}"},
      {"set", "{\"name\": \"alpha\", \"options\": {\"numprocesses\": \"2\"}}"},
      {"set", "{\"name\": \"alpha\", \"options\": {\"nope\": 1}}"},
      {"set", "{\"name\": \"alpha\", \"options\": {\"max_age\": -1}}"},
      {"set", "{\"name\": \"alpha\"}"},
      {"get", "{\"name\": \"alpha\", \"keys\": [\"graceful_timeout\", \"respawn\", \"numprocesses\"]}"},
      {"add", "{\"name\": \"gamma\", \"cmd\": \"sleep 3602\", \"start\": true, \"waiting\": true}"},
      {"add", "{\"name\": \"gamma\", \"cmd\": \"sleep 3602\"}"},
      {"add", "{\"name\": \"delta\", \"cmd\": \"sleep 1\", \"options\": {\"numprocesses\": \"four\"}}"},
      {"options", "{\"name\": \"gamma\"}"},
      {"rm", "{\"name\": \"gamma\", \"waiting\": true}"},
      {"start", "{\"name\": \"beta\", \"waiting\": true}"},
      {"status", "{\"name\": \"beta\"}"},
      {"stop", "{\"name\": \"beta\", \"waiting\": true}"},
      {"reload", "{\"name\": \"alpha\", \"waiting\": true}"},
      {"restart", "{\"name\": \"alpha\", \"waiting\": true}"},
      {"signal", "{\"name\": \"alpha\", \"signum\": \"CONT\"}"},
      {"signal", "{\"name\": \"alpha\", \"signum\": \"NOPE\"}"},
      {"kill", "{\"name\": \"alpha\", \"waiting\": true}"},
      {"stats", "{\"name\": \"alpha\"}"},
      {"list", "{\"name\": \"nosuch\"}"},
      {"nosuchcommand", "{}"},
      {"reloadconfig", "{\"waiting\": true}"},
      {"status", "{}"},
  };

  /** Keys whose numbers are measured or clock-dependent. */
  private static final Pattern VOLATILE = Pattern.compile(
      "\"(time|create_time|age|cpu|mem|mem_info1|mem_info2|ctime|started|nice|children|fd)\": (-?[0-9.e+-]+|\"[^\"]*\")");
  private static final Pattern NUMBER = Pattern.compile("(?<![\\w.<])\\d{3,}(?![\\w.])");

  @Test
  void everyCommandFamilyRepliesAsBefore() throws Exception {
    int port = freePort();
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = " + port,
        "[watcher:alpha]", "cmd = sleep 3600", "numprocesses = 2", "graceful_timeout = 3",
        "[watcher:beta]", "cmd = sleep 3601", "autostart = false",
        "[env:alpha]", "FOO = bar", ""));
    await(java.time.Duration.ofSeconds(30), "2 processes", () -> d.children().size() == 2);
    Set<String> pids = new TreeSet<>();
    List<String> transcript = new ArrayList<>();
    try (ZContext ctx = new ZContext()) {
      ZMQ.Socket s = ctx.createSocket(SocketType.DEALER);
      s.setReceiveTimeOut(60_000);
      s.connect(d.endpoint());
      int n = 0;
      for (String[] step : SCRIPT) {
        String request = "{\"id\": \"r" + (++n) + "\", \"command\": \"" + step[0] + "\", \"properties\": " + step[1]
            + "}";
        s.send(request);
        String reply = s.recvStr();
        assertThat(reply).as("reply to " + request).isNotNull();
        for (long p : d.children()) {
          pids.add(Long.toString(p));
        }
        Matcher m = Pattern.compile("\\b\\d{2,7}\\b").matcher(reply);
        while (m.find()) { // pids that were born and gone between two looks (reload, restart, kill)
          if (Path.of("/proc", m.group()).toFile().exists() || d.seen.contains(Long.parseLong(m.group()))) {
            pids.add(m.group());
          }
        }
        transcript.add(request);
        transcript.add(reply);
      }
    }
    pids.add(Long.toString(d.pid()));
    List<String> masked = new ArrayList<>();
    for (String line : transcript) {
      masked.add(mask(line, pids, port, d));
    }
    String record = System.getProperty("replies.record");
    if (record != null && !record.isEmpty()) {
      Files.write(Path.of(record), masked, StandardCharsets.UTF_8);
      return;
    }
    List<String> expected;
    try (var in = RecordedRepliesIT.class.getResourceAsStream("/replies/recorded.txt")) {
      expected = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    }
    for (int i = 0; i < Math.max(expected.size(), masked.size()); i++) {
      assertThat(i < masked.size() ? masked.get(i) : "<missing>").as("line %d of the transcript", i + 1)
          .isEqualTo(i < expected.size() ? expected.get(i) : "<missing>");
    }
  }

  /** {@code "key": } right before a number: whose value it is. */
  private static final Pattern VALUE_OF = Pattern.compile("\"(\\w+)\": $");
  private static final Set<String> PID_KEYS = Set.of("pid", "process_pid", "childpid", "os_pid", "process");

  private String mask(String line, Set<String> pids, int port, Daemon d) throws Exception {
    String out = line.replace(dir.toString(), "<dir>").replace(Daemon.HOME.toString(), "<home>");
    for (String ep : new String[] {d.endpoint()}) {
      out = out.replace(ep, "<endpoint>");
    }
    out = out.replaceAll("tcp://127\\.0\\.0\\.1:\\d+", "tcp://127.0.0.1:<port>");
    out = VOLATILE.matcher(out).replaceAll("\"$1\": <v>");
    out = out.replace(Integer.toString(port), "<port>");
    Matcher m = NUMBER.matcher(out);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      // a pid is masked where pids are written (lists, pid keys, stats' keys), not where a setting's value merely
      // equals one (a child once had pid 2048, the sockets' backlog)
      Matcher key = VALUE_OF.matcher(out.substring(Math.max(0, m.start() - 40), m.start()));
      boolean setting = key.find() && !PID_KEYS.contains(key.group(1));
      m.appendReplacement(sb, pids.contains(m.group()) && !setting ? "<pid>" : m.group());
    }
    m.appendTail(sb);
    return sb.toString();
  }
}
