package io.jcircus.fdpass;

import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The two descriptor flags a process handed a socket has to care about, without JNI of its own: FD_CLOEXEC on
 * a descriptor received over SCM_RIGHTS (Netty's recvmsg does not ask for MSG_CMSG_CLOEXEC), and O_NONBLOCK on
 * an inherited listening socket an event loop is to accept on (systemd, for one, hands sockets over in blocking
 * mode, and a blocking accept() would stall the loop whenever another worker took the connection first).
 *
 * <p>Netty exposes no fcntl and these modules use no jnr, so fcntl is called through the JDK's foreign function
 * API when the JVM has it (JDK 22 and later, reached reflectively since the code targets 17). On JDK 17 the
 * non-blocking flag is set through the JDK's own {@code sun.nio.ch.IOUtil}, which needs
 * {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED} (the
 * chaussette-java launcher passes them); without either, FD_CLOEXEC is left alone (the JDK's ProcessBuilder
 * closes inherited descriptors in children anyway) and {@link #setNonBlocking} reports that it cannot.
 */
public final class Fcntl {
  private static final int F_GETFD = 1;
  private static final int F_SETFD = 2;
  private static final int F_GETFL = 3;
  private static final int F_SETFL = 4;
  private static final int FD_CLOEXEC = 1;
  private static final int O_NONBLOCK = 04000;
  private static final MethodHandle FCNTL = lookup();

  private Fcntl() { }

  /** Sets FD_CLOEXEC; true if the flag is now set. */
  public static boolean setCloexec(int fd) {
    if (FCNTL == null) {
      return false;
    }
    try {
      int flags = (int) FCNTL.invokeWithArguments(fd, F_GETFD, 0);
      return flags >= 0 && (int) FCNTL.invokeWithArguments(fd, F_SETFD, flags | FD_CLOEXEC) == 0;
    } catch (Throwable t) {
      return false;
    }
  }

  /** Whether fcntl can be called here (JDK 22 and later). */
  public static boolean available() {
    return FCNTL != null;
  }

  /**
   * Whether O_NONBLOCK is set on the open file description of {@code fd}, read from
   * {@code /proc/self/fdinfo}. The flag belongs to the description, so it is shared with every process that
   * holds the same socket.
   */
  public static boolean isNonBlocking(int fd) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
      if (line.startsWith("flags:")) {
        return (Integer.parseInt(line.substring("flags:".length()).trim(), 8) & O_NONBLOCK) != 0;
      }
    }
    throw new IOException("/proc/self/fdinfo/" + fd + " has no flags line");
  }

  /**
   * Puts {@code fd} in non-blocking mode, as every event-driven server does with a socket it inherits.
   *
   * @throws IOException if the fd is in blocking mode and this JVM offers no way to change that
   */
  public static void setNonBlocking(int fd) throws IOException {
    if (isNonBlocking(fd)) {
      return;
    }
    if (FCNTL != null) {
      try {
        int flags = (int) FCNTL.invokeWithArguments(fd, F_GETFL, 0);
        if (flags >= 0 && (int) FCNTL.invokeWithArguments(fd, F_SETFL, flags | O_NONBLOCK) == 0) {
          return;
        }
      } catch (Throwable t) {
        // fall through to the JDK's own
      }
    }
    try {
      Constructor<java.io.FileDescriptor> c = java.io.FileDescriptor.class.getDeclaredConstructor(int.class);
      c.setAccessible(true);
      java.io.FileDescriptor jfd = c.newInstance(fd);
      Method configure = Class.forName("sun.nio.ch.IOUtil")
          .getDeclaredMethod("configureBlocking", java.io.FileDescriptor.class, boolean.class);
      configure.setAccessible(true);
      configure.invoke(null, jfd, false);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IOException("fd " + fd + " is in blocking mode and this JVM cannot change it: run on JDK 22+ or"
          + " with --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-opens java.base/java.io=ALL-UNNAMED ("
          + e + ")");
    }
    if (!isNonBlocking(fd)) {
      throw new IOException("fd " + fd + ": O_NONBLOCK did not stick");
    }
  }

  private static MethodHandle lookup() {
    try {
      Class<?> linkerClass = Class.forName("java.lang.foreign.Linker");
      Class<?> layoutClass = Class.forName("java.lang.foreign.MemoryLayout");
      Class<?> valueLayout = Class.forName("java.lang.foreign.ValueLayout");
      Class<?> descClass = Class.forName("java.lang.foreign.FunctionDescriptor");
      Class<?> optionClass = Class.forName("java.lang.foreign.Linker$Option");
      Class<?> symbolLookup = Class.forName("java.lang.foreign.SymbolLookup");
      Class<?> segment = Class.forName("java.lang.foreign.MemorySegment");
      Object linker = linkerClass.getMethod("nativeLinker").invoke(null);
      Object lookup = linkerClass.getMethod("defaultLookup").invoke(linker);
      Optional<?> fcntl = (Optional<?>) symbolLookup.getMethod("find", String.class).invoke(lookup, "fcntl");
      if (fcntl.isEmpty()) {
        return null;
      }
      Object javaInt = valueLayout.getField("JAVA_INT").get(null);
      Object args = Array.newInstance(layoutClass, 3);
      for (int i = 0; i < 3; i++) {
        Array.set(args, i, javaInt);
      }
      Object desc = descClass.getMethod("of", layoutClass, args.getClass()).invoke(null, javaInt, args);
      Object options = Array.newInstance(optionClass, 1);
      Array.set(options, 0, optionClass.getMethod("firstVariadicArg", int.class).invoke(null, 2));
      Method downcall = linkerClass.getMethod("downcallHandle", segment, descClass, options.getClass());
      return (MethodHandle) downcall.invoke(linker, fcntl.get(), desc, options);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      return null;
    }
  }
}
