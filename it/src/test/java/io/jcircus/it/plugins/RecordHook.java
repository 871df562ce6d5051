package io.jcircus.it.plugins;

import io.jcircus.plugin.Hook;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;

/** A Java hook for HookIT: records each call in $HOOK_LOG; refuses after_spawn when $HOOK_LOG.refuse exists. */
public class RecordHook implements Hook {
  @Override
  public boolean run(String hook, String watcher, Map<String, Object> args) throws Exception {
    Path log = Path.of(System.getenv("HOOK_LOG"));
    Files.writeString(log, hook + " " + watcher + " " + new TreeMap<>(args) + "\n", StandardCharsets.UTF_8,
        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    return !(hook.equals("after_spawn") && Files.exists(Path.of(log + ".refuse")));
  }
}
