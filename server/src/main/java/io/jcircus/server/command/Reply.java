package io.jcircus.server.command;

import java.util.Map;

/** Where a command's outcome goes: its reply fields, or a typed error. Exactly one call, possibly later. */
public interface Reply {
  void ok(Map<String, Object> fields);

  void error(CommandError e);
}
