package io.jcircus.plugin;

import java.util.Map;

/**
 * A watcher hook written in Java ({@code hooks.NAME = java:com.example.MyHook}, the class found on
 * {@code hooks.classpath}): Circus's hook, called with the hook's name, the watcher's and Circus's arguments
 * ({@code pid}, {@code signum}, {@code process_pid}, {@code exit_code}…). It runs on a hooks thread, never on
 * circusd's arbiter, within the hook's timeout; returning false (or throwing, or running out of time) is a failure,
 * which for a {@code before_*} hook stops what it guards, as in Circus.
 */
public interface Hook {
  boolean run(String hook, String watcher, Map<String, Object> args) throws Exception;
}
