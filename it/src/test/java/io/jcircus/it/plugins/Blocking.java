package io.jcircus.it.plugins;

import io.jcircus.plugin.Plugin;
import java.util.Map;

/** A plugin that never returns from its first event, and ignores interrupts. */
public class Blocking implements Plugin {
  @Override
  public void event(String watcher, String event, Map<String, Object> payload) {
    while (true) {
      try {
        Thread.sleep(60_000);
      } catch (InterruptedException e) {
        // deaf to it, as a plugin stuck in a library call would be
      }
    }
  }
}
