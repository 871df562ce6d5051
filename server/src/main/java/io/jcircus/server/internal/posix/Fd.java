package io.jcircus.server.internal.posix;

/**
 * An open file descriptor with one owner: closing it twice is harmless, and {@link #release} hands the number
 * to a new owner (a reader, a child) so that this one no longer closes it. Use with try-with-resources so a failure
 * half-way through a spawn leaks nothing.
 */
public final class Fd implements AutoCloseable {
  private int fd;

  public Fd(int fd) {
    this.fd = fd;
  }

  /** The number, still owned here; -1 once closed or released. */
  public int get() {
    return fd;
  }

  /** Gives the number to the caller, who now closes it; this no longer will. */
  public int release() {
    int n = fd;
    fd = -1;
    return n;
  }

  public boolean isOpen() {
    return fd >= 0;
  }

  @Override
  public void close() {
    Posix.closeQuietly(release());
  }

  @Override
  public String toString() {
    return "fd " + fd;
  }

  /** A pipe: both ends close-on-exec, each owned. */
  public record Pipe(Fd read, Fd write) implements AutoCloseable {
    public static Pipe open() throws java.io.IOException {
      int[] p = Posix.pipeCloexec();
      return new Pipe(new Fd(p[0]), new Fd(p[1]));
    }

    @Override
    public void close() {
      read.close();
      write.close();
    }
  }
}
