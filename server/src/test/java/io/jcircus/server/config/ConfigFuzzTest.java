package io.jcircus.server.config;

import io.jcircus.protocol.ConfigException;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed circus.ini files, made by mutating a file that uses most keys: every one either loads or is refused
 * with a {@link ConfigException} that names the file; none escapes as another exception or hangs the loader.
 * Seeded, so a failure names the input that caused it.
 */
class ConfigFuzzTest {
  private static final String VALID = String.join("\n",
      "[circus]",
      "endpoint = tcp://127.0.0.1:5555",
      "pubsub_endpoint = tcp://127.0.0.1:5556",
      "stats_endpoint = tcp://127.0.0.1:5557",
      "check_delay = 5",
      "warmup_delay = 0",
      "umask = 022",
      "loglevel = info",
      "max_message_size = 16M",
      "[socket:web]",
      "host = 127.0.0.1",
      "port = 8080",
      "backlog = 128",
      "[env]",
      "A = $HOME/x",
      "[env:web]",
      "B = $(circus.env.a)",
      "[watcher:web]",
      "cmd = python3 app.py --fd $(circus.sockets.web) --wid $(circus.wid)",
      "args = --flag 'quoted arg'",
      "numprocesses = 3",
      "warmup_delay = 0.5",
      "graceful_timeout = 30",
      "max_retry = 5",
      "use_sockets = true",
      "priority = 2",
      "stop_signal = QUIT",
      "rlimit_nofile = 1024",
      "stdout_stream.class = FileStream",
      "stdout_stream.filename = out.log",
      "stdout_stream.max_bytes = 1000",
      "backoff_factor = 2",
      "readiness = tcp://127.0.0.1:8080",
      "handoff = systemd",
      "[watcher:other]",
      "cmd = sleep 1",
      "singleton = true",
      "max_age = 60",
      "[plugin:flapping]",
      "use = circus.plugins.flapping.Flapping",
      "");

  private static final String SPECIALS = "[]=:$()%\n\t#;'\"\\.-0123456789e+ ";

  private static final ConfigLoader.UserLookup USERS = new ConfigLoader.UserLookup() {
    @Override
    public User user(String nameOrId) {
      return null;
    }

    @Override
    public int group(String nameOrId) {
      return -1;
    }
  };

  @TempDir Path dir;

  static String mutate(String s, Random r) {
    StringBuilder b = new StringBuilder(s);
    int edits = 1 + r.nextInt(6);
    for (int i = 0; i < edits && b.length() > 0; i++) {
      int at = r.nextInt(b.length());
      switch (r.nextInt(6)) {
        case 0 -> b.deleteCharAt(at);
        case 1 -> b.insert(at, SPECIALS.charAt(r.nextInt(SPECIALS.length())));
        case 2 -> b.setCharAt(at, (char) (r.nextInt(0x2FF) + 1));
        case 3 -> b.setLength(at); // truncated
        case 4 -> { // a value replaced by an extreme one
          String[] extreme = {"-1", "1e308", "NaN", "99999999999999999999", "", "-0", "0x10", "\u00e9"};
          int eq = b.indexOf("=", at);
          int nl = eq < 0 ? -1 : b.indexOf("\n", eq);
          if (eq >= 0 && nl > eq) {
            b.replace(eq + 1, nl, " " + extreme[r.nextInt(extreme.length)]);
          }
        }
        default -> { // a line repeated elsewhere
          int ls = b.lastIndexOf("\n", at) + 1;
          int le = b.indexOf("\n", at);
          if (le > ls) {
            b.insert(r.nextInt(b.length()), b.substring(ls, le + 1));
          }
        }
      }
    }
    return b.toString();
  }

  @Test
  void everyMalformedFileLoadsOrIsRefusedWithItsName() throws Exception {
    Path file = dir.resolve("circus.ini");
    ConfigLoader loader = new ConfigLoader(Map.of("HOME", "/home/me"), USERS);
    assertThat(loader.loadText(file, VALID).watchers).hasSize(2);
    int refused = 0;
    for (int seed = 0; seed < 3000; seed++) {
      String text = mutate(VALID, new Random(seed));
      try {
        CircusConfig c = loader.loadText(file, text);
        for (WatcherConfig w : c.watchers) { // what loads is within the bounds
          assertThat(w.numprocesses).isBetween(0, Limits.MAX_NUMPROCESSES);
          assertThat(w.warmupDelay).isBetween(0.0, Limits.MAX_SECONDS);
          assertThat(w.gracefulTimeout).isBetween(0.0, Limits.MAX_SECONDS);
        }
      } catch (ConfigException e) {
        refused++;
        assertThat(e.getMessage()).as("seed " + seed).startsWith(file.toString());
      } catch (RuntimeException | StackOverflowError e) {
        throw new AssertionError("seed " + seed + ": " + e + " on:\n" + text, e);
      }
    }
    System.out.println("3000 mutated files: " + refused + " refused with their name, " + (3000 - refused) + " loaded");
  }
}
