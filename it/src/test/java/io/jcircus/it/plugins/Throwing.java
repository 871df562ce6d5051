package io.jcircus.it.plugins;

import io.jcircus.plugin.Plugin;
import java.util.Map;

/** A plugin with a bug: throws on every event. */
public class Throwing implements Plugin {
  @Override
  public void event(String watcher, String event, Map<String, Object> payload) {
    throw new IllegalStateException("a plugin's bug, on " + event);
  }
}
