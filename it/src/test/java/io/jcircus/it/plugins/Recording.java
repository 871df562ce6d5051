package io.jcircus.it.plugins;

import io.jcircus.plugin.Plugin;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Map;

/** A Java plugin for PluginIT: writes each event, and what the daemon says of the watcher, to the file {@code to}. */
public class Recording implements Plugin {
  private Context ctx;
  private Path to;

  @Override
  public void init(Context context) throws Exception {
    ctx = context;
    to = Path.of(context.options().get("to"));
    write("init " + context.name() + " " + new java.util.TreeMap<>(context.options()));
  }

  @Override
  public void event(String watcher, String event, Map<String, Object> payload) throws Exception {
    String status;
    try {
      status = String.valueOf(ctx.call("status", Map.of("name", watcher), Duration.ofSeconds(5)).get("status"));
    } catch (CommandException e) {
      status = "error " + e.errno() + " " + e.getMessage();
    }
    write(watcher + " " + event + " " + status);
  }

  private void write(String line) throws Exception {
    Files.writeString(to, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }
}
