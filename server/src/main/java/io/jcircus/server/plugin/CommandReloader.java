package io.jcircus.server.plugin;

import io.jcircus.plugin.Plugin;
import io.jcircus.server.config.Shlex;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Circus's {@code circus.plugins.command_reloader.CommandReloader}: every {@code loop_rate} seconds (1) each
 * watcher's executable (the first word of its {@code cmd}, found on the PATH if it has no slash; Circus stat'ed the
 * whole command line and failed on arguments) and the files listed in {@code files} (space- or comma-separated) are
 * looked at; when one's real path or modification time changed, that watcher is reloaded ({@code reload}: a
 * rolling reload when the watcher asks for readiness). Circus restarted it.
 */
final class CommandReloader implements Plugin {
  private static final Logger LOG = LoggerFactory.getLogger(CommandReloader.class);
  private Context ctx;
  private List<String> files;
  /** watcher → what was seen last: "realpath@mtime" of each file. */
  private final Map<String, String> seen = new HashMap<>();

  @Override
  public void init(Context context) {
    ctx = context;
    files = List.of(context.options().getOrDefault("files", "").split("[\\s,]+")).stream()
        .filter(s -> !s.isBlank()).toList();
    double loopRate = Double.parseDouble(context.options().getOrDefault("loop_rate", "1").strip());
    context.every(Duration.ofMillis((long) (loopRate * 1000)), this::lookAfter);
  }

  private void lookAfter() {
    try {
      Map<String, Object> all = ctx.call("list", Map.of(), Duration.ofSeconds(5));
      for (Object n : (List<?>) all.getOrDefault("watchers", List.of())) {
        String w = String.valueOf(n);
        if (w.startsWith("plugin:")) {
          continue;
        }
        Map<String, Object> got = ctx.call("get", Map.of("name", w, "keys", List.of("cmd")), Duration.ofSeconds(5));
        Object cmd = got.get("options") instanceof Map<?, ?> o ? o.get("cmd") : null;
        if (cmd == null) {
          continue;
        }
        StringBuilder state = new StringBuilder();
        List<String> words = Shlex.split(cmd.toString());
        if (!words.isEmpty()) {
          state.append(stamp(executable(words.get(0))));
        }
        for (String f : files) {
          state.append('|').append(stamp(Path.of(f)));
        }
        String before = seen.put(w, state.toString());
        if (before != null && !before.equals(state.toString())) {
          LOG.info("command_reloader: {} changed ({}); reloading it", w, state);
          ctx.cast("reload", Map.of("name", w));
        }
      }
    } catch (CommandException e) {
      LOG.debug("command_reloader: {}", e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Path executable(String word) {
    if (word.contains("/")) {
      return Path.of(word);
    }
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path p = Path.of(dir.isEmpty() ? "." : dir, word);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return Path.of(word);
  }

  private static String stamp(Path p) {
    try {
      return p.toRealPath() + "@" + Files.getLastModifiedTime(p).toMillis();
    } catch (IOException e) {
      return p + "@missing";
    }
  }
}
