package io.jcircus.server.arbiter;

import java.util.List;

/** Public access to the /proc helpers for the command layer. */
public final class ProcFsAccess {
  private ProcFsAccess() {}

  public static List<Integer> children(int pid) {
    return ProcFs.children(pid);
  }
}
