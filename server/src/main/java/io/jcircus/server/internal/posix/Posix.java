package io.jcircus.server.internal.posix;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import jnr.constants.platform.Errno;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * Thin, exception-raising wrappers over {@link LibC}. Loaded once, eagerly, at daemon start: the first
 * jnr-ffi binding costs about a second and must not land on a spawn.
 */
public final class Posix {
  public static final int O_RDONLY = 0;
  public static final int O_WRONLY = 1;
  public static final int O_RDWR = 2;
  public static final int O_NONBLOCK = 04000;
  public static final int O_CLOEXEC = 02000000;

  public static final int F_GETFD = 1;
  public static final int F_SETFD = 2;
  public static final int F_GETFL = 3;
  public static final int F_SETFL = 4;
  public static final int F_SETPIPE_SZ = 1031;
  public static final int FD_CLOEXEC = 1;

  public static final int P_PIDFD = 3;
  public static final int WEXITED = 4;
  public static final int WNOHANG = 1;

  public static final int CLD_EXITED = 1;
  public static final int CLD_KILLED = 2;
  public static final int CLD_DUMPED = 3;

  public static final int ESRCH = 3;
  public static final int EAGAIN = 11;
  public static final int ECHILD = 10;

  private static final class Holder {
    static final LibC C = LibraryLoader.create(LibC.class).load("c");
    static final Runtime RT = Runtime.getRuntime(C);
  }

  private Posix() {}

  /** Loads the binding now; returns the time it took in milliseconds. */
  public static long preload() {
    long t0 = System.nanoTime();
    Holder.C.getpid();
    return (System.nanoTime() - t0) / 1_000_000;
  }

  public static LibC libc() {
    return Holder.C;
  }

  public static Runtime runtime() {
    return Holder.RT;
  }

  public static int errno() {
    return Holder.RT.getLastError();
  }

  /** "ENOENT (No such file or directory)" for 2. */
  public static String errnoName(int errno) {
    Errno e = Errno.valueOf(errno);
    if (e == null || e == Errno.__UNKNOWN_CONSTANT__) {
      return "errno " + errno;
    }
    return e.name() + " (" + e.description() + ")";
  }

  public static IOException error(String call, int errno) {
    return new IOException(call + ": " + errnoName(errno));
  }

  public static int getpid() {
    return Holder.C.getpid();
  }

  public static int umask(int mask) {
    return Holder.C.umask(mask);
  }

  public static int geteuid() {
    return Holder.C.geteuid();
  }

  private static final int SC_CLK_TCK = 2;
  private static final int SC_PAGESIZE = 30;

  /** sysconf(_SC_CLK_TCK): the unit of /proc's times (USER_HZ, 100 on most Linux builds); 100 if unknown. */
  public static long clockTicks() {
    long v = Holder.C.sysconf(SC_CLK_TCK);
    return v > 0 ? v : 100;
  }

  /** sysconf(_SC_PAGESIZE): the unit of /proc's page counts (4096 on x86_64, 16384 or 65536 on some ARM). */
  public static long pageSize() {
    long v = Holder.C.sysconf(SC_PAGESIZE);
    return v > 0 ? v : 4096;
  }

  public static int getegid() {
    return Holder.C.getegid();
  }

  /** A pipe whose both ends are close-on-exec: [read, write]. */
  public static int[] pipeCloexec() throws IOException {
    int[] fds = new int[2];
    if (Holder.C.pipe2(fds, O_CLOEXEC) != 0) {
      throw error("pipe2", errno());
    }
    return fds;
  }

  public static void setNonBlocking(int fd, boolean on) throws IOException {
    int fl = Holder.C.fcntl(fd, F_GETFL, 0);
    if (fl < 0) {
      throw error("fcntl(F_GETFL, " + fd + ")", errno());
    }
    int nfl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (nfl != fl && Holder.C.fcntl(fd, F_SETFL, nfl) < 0) {
      throw error("fcntl(F_SETFL, " + fd + ")", errno());
    }
  }

  public static boolean isNonBlocking(int fd) throws IOException {
    int fl = Holder.C.fcntl(fd, F_GETFL, 0);
    if (fl < 0) {
      throw error("fcntl(F_GETFL, " + fd + ")", errno());
    }
    return (fl & O_NONBLOCK) != 0;
  }

  public static void setCloexec(int fd, boolean on) throws IOException {
    if (Holder.C.fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0) < 0) {
      throw error("fcntl(F_SETFD, " + fd + ")", errno());
    }
  }

  /** Best effort: a larger pipe means fewer wake-ups for a chatty child. */
  public static void trySetPipeSize(int fd, int size) {
    Holder.C.fcntl(fd, F_SETPIPE_SZ, size);
  }

  /** write(2) of the whole array; returns bytes written or -errno. */
  public static long write(int fd, byte[] buf) {
    long n = Holder.C.write(fd, buf, buf.length);
    return n < 0 ? -errno() : n;
  }

  public static void closeQuietly(int fd) {
    if (fd >= 0) {
      Holder.C.close(fd);
    }
  }

  public static int pidfdOpen(int pid) throws IOException {
    int fd = Holder.C.pidfd_open(pid, 0);
    if (fd < 0) {
      throw error("pidfd_open(" + pid + ")", errno());
    }
    return fd;
  }

  /** Returns 0, or the errno (ESRCH once the process has been reaped). */
  public static int pidfdSendSignal(int pidfd, int sig) {
    return Holder.C.pidfd_send_signal(pidfd, sig, null, 0) == 0 ? 0 : errno();
  }

  /** kill(2); returns 0 or the errno. */
  public static int kill(int pid, int sig) {
    return Holder.C.kill(pid, sig) == 0 ? 0 : errno();
  }

  /** The result of a successful waitid. */
  public record ExitStatus(int pid, int code, int status) {
    /** Circus's exit_code: the exit status, or minus the signal number. */
    public int exitCode() {
      return code == CLD_EXITED ? status : -status;
    }

    public boolean signalled() {
      return code != CLD_EXITED;
    }
  }

  /**
   * Reaps the child behind a pidfd without blocking. Returns null if it is still running.
   */
  public static ExitStatus waitPidfd(int pidfd) throws IOException {
    Pointer info = Memory.allocateDirect(Holder.RT, 128, true);
    if (Holder.C.waitid(P_PIDFD, pidfd, info, WEXITED | WNOHANG) != 0) {
      throw error("waitid(P_PIDFD)", errno());
    }
    int pid = info.getInt(16);
    if (pid == 0) {
      return null;
    }
    return new ExitStatus(pid, info.getInt(8), info.getInt(24));
  }

  /** A non-blocking, close-on-exec signalfd for {@code signals} (which must be blocked in every thread). */
  public static int signalfd(int... signals) throws IOException {
    Pointer set = Memory.allocateDirect(Holder.RT, 128, true);
    Holder.C.sigemptyset(set);
    for (int s : signals) {
      Holder.C.sigaddset(set, s);
    }
    int fd = Holder.C.signalfd(-1, set, O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      throw error("signalfd", errno());
    }
    return fd;
  }

  /** Whether every one of {@code signals} is blocked in the calling thread (read from /proc). */
  public static boolean blockedInThisThread(int... signals) {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/thread-self/status"))) {
        if (line.startsWith("SigBlk:")) {
          long mask = Long.parseUnsignedLong(line.substring(7).strip(), 16);
          for (int s : signals) {
            if ((mask & (1L << (s - 1))) == 0) {
              return false;
            }
          }
          return true;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return false;
    }
    return false;
  }

  /** SO_BINDTODEVICE. */
  public static void bindToDevice(int fd, String iface) throws IOException {
    byte[] name = (iface + "\0").getBytes(StandardCharsets.US_ASCII);
    Pointer p = Memory.allocateDirect(Holder.RT, name.length);
    p.put(0, name, 0, name.length);
    if (Holder.C.setsockopt(fd, 1 /* SOL_SOCKET */, 25 /* SO_BINDTODEVICE */, p, name.length) != 0) {
      throw error("setsockopt(SO_BINDTODEVICE, " + iface + ")", errno());
    }
  }

  /**
   * A listening TCP socket's accept queue from TCP_INFO: {@code {connections waiting, backlog}} (for a socket in
   * LISTEN state the kernel reports them in tcpi_unacked and tcpi_sacked). Null if the fd is not TCP.
   */
  public static int[] acceptQueue(int fd) {
    Pointer p = Memory.allocateDirect(Holder.RT, 232);
    jnr.ffi.byref.IntByReference len = new jnr.ffi.byref.IntByReference(232);
    if (Holder.C.getsockopt(fd, 6 /* IPPROTO_TCP */, 11 /* TCP_INFO */, p, len) != 0 || len.intValue() < 32) {
      return null;
    }
    return new int[] {p.getInt(24), p.getInt(28)};
  }

  /**
   * Reads up to {@code buf.length} bytes of a small file (a /proc entry) with one open, read and close and no
   * Java stream objects; {@code pathz} is the path in ASCII ending with a NUL. Returns the byte count, or -1.
   */
  /** Opens {@code pathz} (NUL-terminated) read-only and close-on-exec; the fd, or -1. */
  public static int openReadOnly(byte[] pathz) {
    return Holder.C.open(pathz, 0 /* O_RDONLY */ | 02000000 /* O_CLOEXEC */);
  }

  /** pread(2) from offset 0: a /proc file kept open is generated anew; -1 once its process is gone (ESRCH). */
  public static int readAtStart(int fd, byte[] buf) {
    return (int) Holder.C.pread(fd, buf, buf.length, 0);
  }

  /** close(2), errors ignored. */
  public static void closeFd(int fd) {
    Holder.C.close(fd);
  }

  public static int readSmall(byte[] pathz, byte[] buf) {
    int fd = Holder.C.open(pathz, 0 /* O_RDONLY */ | 02000000 /* O_CLOEXEC */);
    if (fd < 0) {
      return -1;
    }
    try {
      return (int) Holder.C.read(fd, buf, buf.length);
    } finally {
      Holder.C.close(fd);
    }
  }
}
