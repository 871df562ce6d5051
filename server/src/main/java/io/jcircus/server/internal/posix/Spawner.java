package io.jcircus.server.internal.posix;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.byref.IntByReference;

/**
 * Spawns clean children through glibc's posix_spawn: the child gets exactly the fds it is given (two-phase
 * dup2, then closefrom), an empty signal mask, default dispositions for every signal, and its own session (or,
 * on request, its own process group).
 * Unlike jnr-posix's posix_spawnp, nothing the JVM holds leaks in and SIGQUIT is not left blocked.
 */
public final class Spawner {
  private static final short POSIX_SPAWN_SETSIGDEF = 0x04;
  private static final short POSIX_SPAWN_SETSIGMASK = 0x08;
  private static final short POSIX_SPAWN_SETSID = 0x80;
  /** With the attribute's process group left at 0: the child leads a new group, its pid. */
  private static final short POSIX_SPAWN_SETPGROUP = 0x02;

  /** What to run and which fds it receives. */
  public static final class Request {
    final String path;
    final List<String> argv;
    final List<String> env;
    String workingDir;
    int[] blocked = new int[0];
    boolean ownSession = true;
    /** child fd → parent fd to dup onto it. */
    final TreeMap<Integer, Integer> fds = new TreeMap<>();
    /** child fds that get /dev/null. */
    final TreeMap<Integer, Integer> devNull = new TreeMap<>();

    public Request(String path, List<String> argv, List<String> env) {
      this.path = path;
      this.argv = argv;
      this.env = env;
    }

    /** Signals left blocked in the child (default: none). */
    public Request blockSignals(int... signals) {
      this.blocked = signals;
      return this;
    }

    /**
     * Whether the child starts a session of its own (the default) or only a process group of its own in the
     * caller's session; either way it leads a group whose id is its pid, so {@code kill(-pid)} reaches it.
     */
    public Request ownSession(boolean own) {
      this.ownSession = own;
      return this;
    }

    public Request workingDir(String dir) {
      this.workingDir = dir;
      return this;
    }

    /** The child sees {@code parentFd} at {@code childFd}. */
    public Request fd(int childFd, int parentFd) {
      devNull.remove(childFd);
      fds.put(childFd, parentFd);
      return this;
    }

    /** The child sees /dev/null at {@code childFd}, opened with {@code oflag}. */
    public Request devNull(int childFd, int oflag) {
      fds.remove(childFd);
      devNull.put(childFd, oflag);
      return this;
    }

    public Map<Integer, Integer> fds() {
      return fds;
    }

    @Override
    public String toString() {
      return path + " " + argv;
    }
  }

  private Spawner() {}

  /** Returns the child's pid; the child has exec'd (or failed to) when this returns. */
  public static int spawn(Request r) throws IOException {
    LibC c = Posix.libc();
    jnr.ffi.Runtime rt = Posix.runtime();
    Pointer fa = Memory.allocateDirect(rt, 256, true);
    Pointer attr = Memory.allocateDirect(rt, 512, true);
    Pointer set = Memory.allocateDirect(rt, 128, true);
    check(c.posix_spawn_file_actions_init(fa), "posix_spawn_file_actions_init", r);
    check(c.posix_spawnattr_init(attr), "posix_spawnattr_init", r);
    try {
      int maxTarget = 2;
      int maxFd = 2;
      for (Map.Entry<Integer, Integer> e : r.fds.entrySet()) {
        maxTarget = Math.max(maxTarget, e.getKey());
        maxFd = Math.max(maxFd, Math.max(e.getKey(), e.getValue()));
      }
      for (int t : r.devNull.keySet()) {
        maxTarget = Math.max(maxTarget, t);
        maxFd = Math.max(maxFd, t);
      }
      // Phase 1: every source onto a temporary fd above everything involved, so no dup clobbers a
      // source that is another entry's target, and dup2(x, x) never has to clear CLOEXEC in place.
      int temp = maxFd + 1;
      int[] temps = new int[r.fds.size()];
      int i = 0;
      for (int src : r.fds.values()) {
        temps[i] = temp++;
        check(c.posix_spawn_file_actions_adddup2(fa, src, temps[i]), "adddup2", r);
        i++;
      }
      // Phase 2: temporaries onto their targets.
      i = 0;
      for (int target : r.fds.keySet()) {
        check(c.posix_spawn_file_actions_adddup2(fa, temps[i], target), "adddup2", r);
        i++;
      }
      for (Map.Entry<Integer, Integer> e : r.devNull.entrySet()) {
        check(
            c.posix_spawn_file_actions_addopen(fa, e.getKey(), "/dev/null", e.getValue(), 0),
            "addopen(/dev/null)",
            r);
      }
      // Gaps below the highest target, then everything above it.
      for (int fd = 0; fd < maxTarget; fd++) {
        if (!r.fds.containsKey(fd) && !r.devNull.containsKey(fd)) {
          check(c.posix_spawn_file_actions_addclose(fa, fd), "addclose", r);
        }
      }
      check(c.posix_spawn_file_actions_addclosefrom_np(fa, maxTarget + 1), "addclosefrom_np", r);
      if (r.workingDir != null) {
        check(c.posix_spawn_file_actions_addchdir_np(fa, r.workingDir), "addchdir_np", r);
      }
      c.sigemptyset(set);
      for (int sig : r.blocked) {
        c.sigaddset(set, sig);
      }
      check(c.posix_spawnattr_setsigmask(attr, set), "setsigmask", r);
      c.sigfillset(set);
      check(c.posix_spawnattr_setsigdefault(attr, set), "setsigdefault", r);
      check(
          c.posix_spawnattr_setflags(
              attr, (short) (POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
                  | (r.ownSession ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP))),
          "setflags",
          r);

      Pointer argv = stringArray(rt, r.argv);
      Pointer envp = stringArray(rt, r.env);
      IntByReference pid = new IntByReference();
      int rc = c.posix_spawn(pid, r.path, fa, attr, argv, envp);
      if (rc != 0) {
        String where = r.workingDir == null ? "" : " in " + r.workingDir;
        throw new IOException("posix_spawn(" + r.path + ")" + where + ": " + Posix.errnoName(rc));
      }
      return pid.getValue();
    } finally {
      c.posix_spawn_file_actions_destroy(fa);
      c.posix_spawnattr_destroy(attr);
    }
  }

  private static void check(int rc, String what, Request r) throws IOException {
    if (rc != 0) {
      throw new IOException("posix_spawn " + what + " for " + r.path + ": " + Posix.errnoName(rc));
    }
  }

  /** A NULL-terminated char*[] with every string in one block. */
  private static Pointer stringArray(jnr.ffi.Runtime rt, List<String> strings) {
    byte[][] bytes = new byte[strings.size()][];
    int total = 1;
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = strings.get(i).getBytes(StandardCharsets.UTF_8);
      total += bytes[i].length + 1;
    }
    int ptr = rt.addressSize();
    Pointer block = Memory.allocateDirect(rt, total + ptr * (bytes.length + 1), true);
    long base = ptr * (bytes.length + 1L);
    long off = base;
    for (int i = 0; i < bytes.length; i++) {
      block.putAddress((long) i * ptr, block.address() + off);
      block.put(off, bytes[i], 0, bytes[i].length);
      off += bytes[i].length + 1; // zeroed memory supplies the terminator
    }
    block.putAddress((long) bytes.length * ptr, 0L);
    return block;
  }
}
