package io.jcircus.chaussette;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How many connections each worker on a shared listening socket has open, in a small table the workers share,
 * so that one well above the average steps aside and lets the others accept.
 *
 * <p>Every worker accepts from the one queue, and the kernel gives a connection to whichever waiter is idle
 * first ({@link SharedAcceptor}). Connections that come one at a time spread evenly that way; a burst of
 * long-lived ones (a load tester or a pool of keep-alive clients opening at once) does not: whichever worker
 * the scheduler happens to run takes many, one that is off the CPU few (wrk's 64 connections over 4 workers
 * came out as 31/13/10/10 here). Nothing in one process knows how many the others hold, so each worker
 * publishes its count.
 *
 * <p>The table is a file in {@code /dev/shm} (or {@code java.io.tmpdir}) named after the listening socket's
 * inode, which every process sharing the socket sees the same, whoever handed it over (circusd, systemd,
 * fdpass); it is mapped by each worker and holds one slot per worker: its pid and its open connections. A slot
 * is claimed with a compare-and-set of the pid, retired (pid negated) when the worker stops accepting, and
 * reclaimed once that process is gone; a worker killed outright leaves a slot that the next one to join, or
 * the next one deciding to step aside, finds dead and frees; a table nobody alive is in (its last worker was
 * killed outright) is deleted by the next worker to join any table. The file is created 0600: workers of one socket
 * run as one user; where the file cannot be opened the worker serves without balancing.
 *
 * <p>The rule is the acceptor's ({@link SharedAcceptor}): a worker with at least {@link #MIN_OPEN} connections
 * and more than {@link #SLACK} above the average of the workers accepting stops accepting until it is back
 * near the average, or for {@link SharedAcceptor#PAUSE_MS} at most. The worker with the fewest connections is
 * never above the average, so someone always accepts; the bound covers a table that is wrong (a worker
 * stopped in a debugger, a reused pid). Workers with a handful of connections each (short requests, a new
 * connection each) are never held back: there the kernel's order is already fair, and stepping aside costs two
 * system calls.
 */
final class Balance {
  /** Below this many open connections a worker never steps aside. */
  static final int MIN_OPEN = 8;
  /** How far above the average a worker may be before it steps aside. */
  static final int SLACK = 2;

  static final int SLOTS = 64;
  private static final int HEADER = 64;
  /** A cache line per slot: each worker writes its own count on every connection, and must not slow the others. */
  private static final int SLOT = 64;
  private static final int SIZE = HEADER + SLOTS * SLOT;
  /** Header int 0: one more than the highest slot ever claimed, so readers scan only that far. */
  private static final int HIGH = 0;
  /** Header int 4: non-zero once the last worker to leave has deleted the file. */
  private static final int DELETED = 4;

  private static final VarHandle INT =
      MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.nativeOrder());
  private static final Pattern SOCKET = Pattern.compile("socket:\\[(\\d+)]");

  /** No table: counts nothing, never above the average. */
  static final Balance NONE = new Balance(null, null, null, -1, 0, "not balancing");

  private final Path file;
  private final FileChannel channel;
  private final MappedByteBuffer table;
  private final int slot;
  private final String describe;
  private final int pid;
  private volatile boolean retired;
  private boolean left;

  private Balance(Path file, FileChannel channel, MappedByteBuffer table, int slot, int pid, String describe) {
    this.file = file;
    this.channel = channel;
    this.table = table;
    this.slot = slot;
    this.pid = pid;
    this.describe = describe;
  }

  private static Balance none(String why) {
    return new Balance(null, null, null, -1, 0, "not balancing: " + why);
  }

  /**
   * Joins the table of the listening socket {@code fd}, or returns a table of none (saying why in
   * {@link #describe()}) if there is none to be had.
   */
  static Balance join(int fd) {
    return join(fd, tableDir(), (int) ProcessHandle.current().pid());
  }

  /** Joins in the name of {@code pid} (this process's, but for tests), the table being in {@code dir}. */
  static Balance join(int fd, Path dir, int pid) {
    String inode = inode(fd);
    if (inode == null) {
      return none("fd " + fd + " is not a socket");
    }
    Path file = dir.resolve("jcircus-balance-" + inode);
    sweep(dir, file);
    // The last worker to leave deletes the file (under the lock, marking it deleted first); one that opened it
    // just before then finds the mark and makes a new one.
    for (int attempt = 0; attempt < 5; attempt++) {
      FileChannel ch = null;
      try {
        try {
          Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (FileAlreadyExistsException e) {
          // another worker made it
        }
        ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        // mapping past the end grows the file; workers growing it at once all write zeros
        MappedByteBuffer table = ch.map(FileChannel.MapMode.READ_WRITE, 0, SIZE);
        int mine;
        try (FileLock lock = ch.lock()) {
          if ((int) INT.getVolatile(table, DELETED) != 0) {
            ch.close();
            continue;
          }
          mine = claim(table, pid);
        }
        if (mine < 0) {
          ch.close();
          return none(file + " has no free slot");
        }
        return new Balance(file, ch, table, mine, pid, "balancing with the other workers through " + file);
      } catch (IOException | RuntimeException e) {
        closeQuietly(ch);
        return none(file + ": " + e);
      }
    }
    return none(file + " keeps being deleted");
  }

  /**
   * Deletes the tables in {@code dir} (but {@code mine}) that no live process is in: those of sockets whose
   * last worker was killed outright (kill -9, an OOM kill), which no {@link #leave} deleted.
   */
  private static void sweep(Path dir, Path mine) {
    try (java.util.stream.Stream<Path> files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files.filter(f -> f.getFileName().toString().startsWith("jcircus-balance-")
          && !f.equals(mine))::iterator) {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
          if (ch.size() < SIZE) {
            continue;
          }
          MappedByteBuffer table = ch.map(FileChannel.MapMode.READ_WRITE, 0, SIZE);
          try (FileLock lock = ch.lock()) {
            if ((int) INT.getVolatile(table, DELETED) == 0 && !anyAlive(table)) {
              INT.setVolatile(table, DELETED, 1);
              Files.deleteIfExists(f);
            }
          }
        } catch (IOException | RuntimeException e) {
          // another user's, or gone meanwhile: not ours to clean
        }
      }
    } catch (IOException | RuntimeException e) {
      // nothing to sweep
    }
  }

  /** Whether any slot of {@code table} belongs to a live process. */
  private static boolean anyAlive(MappedByteBuffer table) {
    int high = Math.min(SLOTS, (int) INT.getVolatile(table, HIGH));
    for (int i = 0; i < high; i++) {
      int owner = (int) INT.getVolatile(table, HEADER + i * SLOT);
      if (owner != 0 && alive(Math.abs(owner))) {
        return true;
      }
    }
    return false;
  }

  /** The inode of the socket {@code fd} ("socket:[N]" in /proc/self/fd), or null if it is none. */
  static String inode(int fd) {
    try {
      Matcher m = SOCKET.matcher(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString());
      return m.matches() ? m.group(1) : null;
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    }
  }

  /**
   * Whether another live worker accepts on the socket {@code fd} now, by its table (false if there is none: no
   * worker has joined, or the last one has left, as in a restart; true if the table cannot be read). Reads
   * only; creates nothing.
   */
  static boolean othersAccepting(int fd) {
    return othersAccepting(fd, tableDir(), (int) ProcessHandle.current().pid());
  }

  static boolean othersAccepting(int fd, Path dir, int pid) {
    String inode = inode(fd);
    if (inode == null) {
      return false;
    }
    try (FileChannel ch = FileChannel.open(dir.resolve("jcircus-balance-" + inode), StandardOpenOption.READ)) {
      if (ch.size() < SIZE) {
        return false;
      }
      MappedByteBuffer table = ch.map(FileChannel.MapMode.READ_ONLY, 0, SIZE);
      if ((int) INT.getVolatile(table, DELETED) != 0) {
        return false;
      }
      int high = Math.min(SLOTS, (int) INT.getVolatile(table, HIGH));
      for (int i = 0; i < high; i++) {
        int owner = (int) INT.getVolatile(table, HEADER + i * SLOT);
        if (owner > 0 && owner != pid && alive(owner)) {
          return true;
        }
      }
      return false;
    } catch (java.nio.file.NoSuchFileException e) {
      return false; // no table (yet, or any more)
    } catch (IOException | RuntimeException e) {
      return true; // cannot tell
    }
  }

  private static void closeQuietly(FileChannel ch) {
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException e) {
        // nothing to keep
      }
    }
  }

  private static Path tableDir() {
    Path shm = Path.of("/dev/shm");
    return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
  }

  /**
   * A free slot (never used, its process gone, or left by an earlier process with this pid) claimed for this
   * process; -1 if all are taken. Called with the file locked.
   */
  private static int claim(MappedByteBuffer table, int me) {
    for (int i = 0; i < SLOTS; i++) {
      int at = HEADER + i * SLOT;
      int owner = (int) INT.getVolatile(table, at);
      if ((owner == 0 || Math.abs(owner) == me || !alive(Math.abs(owner))) && INT.compareAndSet(table, at, owner, me)) {
        INT.setVolatile(table, at + 4, 0);
        if ((int) INT.getVolatile(table, HIGH) <= i) {
          INT.setVolatile(table, HIGH, i + 1);
        }
        return i;
      }
    }
    return -1;
  }

  private static boolean alive(int pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  String describe() {
    return describe;
  }

  /** Publishes this worker's open connections (called as they change; a late store is put right by the next). */
  void publish(int open) {
    if (table != null && !retired) {
      INT.setRelease(table, HEADER + slot * SLOT + 4, open);
    }
  }

  /**
   * Whether this worker, with {@code open} connections, is more than {@code slack} above the average of the
   * workers accepting and should let the others take the next connections.
   */
  boolean above(int open, int slack) {
    if (table == null || retired || open < MIN_OPEN) {
      return false;
    }
    int high = Math.min(SLOTS, (int) INT.getVolatile(table, HIGH));
    long sum = 0;
    int members = 0;
    for (int i = 0; i < high; i++) {
      int at = HEADER + i * SLOT;
      if ((int) INT.getAcquire(table, at) > 0) {
        sum += i == slot ? open : (int) INT.getAcquire(table, at + 4);
        members++;
      }
    }
    if (members < 2 || open * (long) members <= sum + (long) slack * members) {
      return false;
    }
    // Stepping aside: first make sure the workers counted are alive, as one killed outright (kill -9) keeps its
    // slot, and one frozen at few connections would hold the others back.
    for (int i = 0; i < high; i++) {
      int at = HEADER + i * SLOT;
      int owner = (int) INT.getAcquire(table, at);
      if (owner > 0 && i != slot && !alive(owner)) {
        INT.compareAndSet(table, at, owner, -owner); // retired on its behalf; reclaimable, as it is gone
        return above(open, slack);
      }
    }
    return true;
  }

  /** The worker stops accepting: it no longer counts in the average. Its slot stays its own until {@link #leave}. */
  void retire() {
    if (table != null && !retired) {
      retired = true;
      INT.compareAndSet(table, HEADER + slot * SLOT, pid, -pid);
    }
  }

  /** The worker is done (drained): frees its slot, and deletes the file if no other worker is in it. */
  synchronized void leave() {
    if (table == null || left) {
      return;
    }
    left = true;
    retire();
    try (FileLock lock = channel.lock()) {
      INT.compareAndSet(table, HEADER + slot * SLOT, -pid, 0); // unless it was found dead and reused meanwhile
      if (anyAlive(table)) {
        return; // another worker serves, or is still draining
      }
      INT.setVolatile(table, DELETED, 1);
      Files.deleteIfExists(file);
    } catch (IOException | RuntimeException e) {
      // left for the next worker to reuse
    } finally {
      closeQuietly(channel);
    }
  }
}
