package io.jcircus.server.internal.posix;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.byref.IntByReference;

/**
 * The part of glibc circusd calls directly. posix_spawn's family returns an error number rather than
 * setting errno; the other calls return -1 and leave errno, which {@link SaveError} preserves.
 */
public interface LibC {
  @IgnoreError
  int posix_spawn_file_actions_init(Pointer fa);

  @IgnoreError
  int posix_spawn_file_actions_destroy(Pointer fa);

  @IgnoreError
  int posix_spawn_file_actions_adddup2(Pointer fa, int fd, int newfd);

  @IgnoreError
  int posix_spawn_file_actions_addclose(Pointer fa, int fd);

  @IgnoreError
  int posix_spawn_file_actions_addopen(Pointer fa, int fd, String path, int oflag, int mode);

  /** glibc 2.34+. */
  @IgnoreError
  int posix_spawn_file_actions_addclosefrom_np(Pointer fa, int from);

  /** glibc 2.29+. */
  @IgnoreError
  int posix_spawn_file_actions_addchdir_np(Pointer fa, String path);

  @IgnoreError
  int posix_spawnattr_init(Pointer attr);

  @IgnoreError
  int posix_spawnattr_destroy(Pointer attr);

  @IgnoreError
  int posix_spawnattr_setflags(Pointer attr, short flags);

  @IgnoreError
  int posix_spawnattr_setsigmask(Pointer attr, Pointer sigset);

  @IgnoreError
  int posix_spawnattr_setsigdefault(Pointer attr, Pointer sigset);

  @IgnoreError
  int sigemptyset(Pointer set);

  @IgnoreError
  int sigfillset(Pointer set);

  @IgnoreError
  int sigaddset(Pointer set, int signum);

  @SaveError
  int signalfd(int fd, Pointer mask, int flags);

  @IgnoreError
  int posix_spawn(IntByReference pid, String path, Pointer fa, Pointer attr, Pointer argv, Pointer envp);

  @SaveError
  int pipe2(int[] fds, int flags);

  @SaveError
  int fcntl(int fd, int cmd, int arg);

  @SaveError
  int close(int fd);

  @SaveError
  long write(int fd, byte[] buf, long count);

  @IgnoreError
  int open(@jnr.ffi.annotations.In byte[] path, int flags);

  @IgnoreError
  long read(int fd, @jnr.ffi.annotations.Out byte[] buf, long count);

  @IgnoreError
  long pread(int fd, @jnr.ffi.annotations.Out byte[] buf, long count, long offset);

  @SaveError
  int pidfd_open(int pid, int flags);

  @SaveError
  int pidfd_send_signal(int pidfd, int sig, Pointer info, int flags);

  @SaveError
  int waitid(int idtype, int id, Pointer infop, int options);

  @SaveError
  int kill(int pid, int sig);

  @SaveError
  int setsockopt(int fd, int level, int optname, Pointer optval, int optlen);

  @SaveError
  int getsockopt(int fd, int level, int optname, Pointer optval, jnr.ffi.byref.IntByReference optlen);

  @IgnoreError
  int getpid();

  @IgnoreError
  int umask(int mask);

  @IgnoreError
  int geteuid();

  @IgnoreError
  int getegid();

  long sysconf(int name);
}
