package io.jcircus.server.arbiter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** circusd's own directories (sd_notify sockets, output rings): made on first use, removed when circusd stops. */
final class RuntimeDirs {
  private static final Logger LOG = LoggerFactory.getLogger(Arbiter.class);

  private Path runtimeDir;

  /**
   * A directory for circusd's own socket files (sd_notify sockets): {@code $XDG_RUNTIME_DIR/jcircus-PID}, else
   * {@code java.io.tmpdir}; mode 0711 so workers running as another user can reach a socket file whose name
   * they were given, but nobody can list them. Removed when circusd stops.
   */
  synchronized Path runtime() throws IOException {
    if (runtimeDir == null) {
      String xdg = System.getenv("XDG_RUNTIME_DIR");
      Path base = xdg != null && Files.isDirectory(Path.of(xdg))
          ? Path.of(xdg) : Path.of(System.getProperty("java.io.tmpdir"));
      Path d = base.resolve("jcircus-" + ProcessHandle.current().pid());
      Files.createDirectories(d);
      Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx--x--x"));
      runtimeDir = d;
    }
    return runtimeDir;
  }

  private Path ringDir;

  /**
   * Where output ring files go: {@code /dev/shm/jcircus-PID} (mode 0700; memory, so the pages a ring file is
   * rewritten in are never written back to a disk), else the runtime directory. Removed when circusd stops.
   */
  synchronized Path rings() throws IOException {
    if (ringDir == null) {
      Path shm = Path.of("/dev/shm");
      if (Files.isDirectory(shm) && Files.isWritable(shm)) {
        Path d = shm.resolve("jcircus-" + ProcessHandle.current().pid());
        Files.createDirectories(d);
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx------"));
        ringDir = d;
      } else {
        ringDir = runtime();
      }
    }
    return ringDir;
  }

  synchronized void remove() {
    if (ringDir != null && !ringDir.equals(runtimeDir)) {
      removeDir(ringDir);
    }
    if (runtimeDir != null) {
      removeDir(runtimeDir);
    }
  }

  /** Removes a directory of circusd's own files (no subdirectories). */
  private static void removeDir(Path dir) {
    try (java.util.stream.Stream<Path> files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.deleteIfExists(f);
      }
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      LOG.warn("cannot remove {}: {}", dir, e.toString());
    }
  }
}
