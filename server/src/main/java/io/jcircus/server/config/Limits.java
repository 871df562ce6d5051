package io.jcircus.server.config;

/**
 * The bounds that every way of giving circusd a value checks the same way: circus.ini, {@code set}, {@code add},
 * {@code reloadconfig}. Each check returns the value or throws {@link IllegalArgumentException} whose message is
 * the rule ("must be between 0 and 10000; got 100000"); the caller adds where the value came from (file, line
 * and key, or the command and key).
 *
 * <p>The first piece of the shared option table: a value that passes here cannot wedge a watcher (a
 * {@code warmup_delay} of 1e308 seconds, 100 000 processes) or be read differently by two front ends.
 */
public final class Limits {
  /** Longest duration any watcher option may name, in seconds (one day). */
  public static final double MAX_SECONDS = 86_400;
  /** Most processes one watcher may run, unless {@code RLIMIT_NPROC} allows fewer. */
  public static final int MAX_NUMPROCESSES = 10_000;
  /** Largest {@code backoff_factor}. */
  public static final double MAX_BACKOFF_FACTOR = 100;

  /** Default {@code max_message_size}: a command of Circus's is a few hundred bytes, an {@code add} a few KiB. */
  public static final int DEFAULT_MESSAGE_SIZE = 16 * 1024 * 1024;
  /** How long a ZeroMQ peer has to finish its greeting and handshake before it is dropped, in milliseconds. */
  public static final int HANDSHAKE_MS = 10_000;

  private Limits() {}

  /** {@code max_message_size}: 4 KiB to 1 GiB. */
  public static int messageSize(long v) {
    if (v < 4096 || v > 1L << 30) {
      throw new IllegalArgumentException("must be between 4096 bytes and 1G; got " + v);
    }
    return (int) v;
  }

  /** A duration in seconds: finite, not negative, at most {@link #MAX_SECONDS}. */
  public static double seconds(double v) {
    if (Double.isNaN(v) || v < 0) {
      throw new IllegalArgumentException("must be a non-negative number of seconds; got " + format(v));
    }
    if (v > MAX_SECONDS) {
      throw new IllegalArgumentException("must be at most " + (long) MAX_SECONDS + " seconds (one day); got "
          + format(v));
    }
    return v + 0.0; // -0.0 reads as 0
  }

  /** {@code backoff_factor}: 1 to {@link #MAX_BACKOFF_FACTOR}. */
  public static double backoffFactor(double v) {
    if (Double.isNaN(v) || v < 1 || v > MAX_BACKOFF_FACTOR) {
      throw new IllegalArgumentException("must be between 1 and " + (long) MAX_BACKOFF_FACTOR + "; got " + format(v));
    }
    return v;
  }

  /** {@code numprocesses}: 0 to {@link #maxNumprocesses()}. */
  public static int numprocesses(long v) {
    int max = maxNumprocesses();
    if (v < 0 || v > max) {
      throw new IllegalArgumentException("must be between 0 and " + max + (max < MAX_NUMPROCESSES
          ? " (RLIMIT_NPROC of circusd's user)" : "") + "; got " + v);
    }
    return (int) v;
  }

  /** {@code max_retry}: -1 (for ever) or more. */
  public static int maxRetry(long v) {
    if (v < -1 || v > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("must be -1 (retry for ever) or a number of retries; got " + v);
    }
    return (int) v;
  }

  /** {@code max_age}, {@code max_age_variance}: whole seconds, 0 to {@link #MAX_SECONDS}·365 (a year). */
  public static int ageSeconds(long v) {
    if (v < 0 || v > (long) MAX_SECONDS * 365) {
      throw new IllegalArgumentException("must be between 0 and " + (long) MAX_SECONDS * 365 + " seconds; got " + v);
    }
    return (int) v;
  }

  /** {@code liveness_failures}: 1 to 1 000. */
  public static int failures(long v) {
    if (v < 1 || v > 1000) {
      throw new IllegalArgumentException("must be between 1 and 1000; got " + v);
    }
    return (int) v;
  }

  /** {@code priority}: any int. */
  public static int priority(long v) {
    if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("must fit in 32 bits; got " + v);
    }
    return (int) v;
  }

  /** {@code cmd}: not blank. */
  public static String cmd(String v) {
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException("must not be empty: every watcher needs a command");
    }
    return v;
  }

  private static volatile int nprocCeiling;

  /**
   * {@link #MAX_NUMPROCESSES}, or circusd's soft {@code RLIMIT_NPROC} when that is lower and circusd is not root
   * (the kernel does not apply it to root): asking for more processes than the user may have only makes every
   * spawn past it fail.
   */
  public static int maxNumprocesses() {
    int c = nprocCeiling;
    if (c == 0) {
      c = MAX_NUMPROCESSES;
      try {
        if (io.jcircus.server.internal.posix.Posix.geteuid() != 0) {
          long soft = softNproc();
          if (soft > 0 && soft < c) {
            c = (int) soft;
          }
        }
      } catch (RuntimeException | LinkageError e) {
        // no native access (a unit test without the library): the fixed ceiling
      }
      nprocCeiling = c;
    }
    return c;
  }

  /** The soft "Max processes" of /proc/self/limits, or -1 (unlimited or unknown). */
  static long softNproc() {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/limits"))) {
        if (line.startsWith("Max processes")) {
          String[] f = line.substring("Max processes".length()).trim().split("\\s+");
          return f[0].equals("unlimited") ? -1 : Long.parseLong(f[0]);
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux, or an unexpected layout: no ceiling from it
    }
    return -1;
  }

  private static String format(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }
}
