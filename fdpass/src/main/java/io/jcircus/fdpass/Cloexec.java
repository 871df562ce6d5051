package io.jcircus.fdpass;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.lang.reflect.Method;
import java.util.Optional;

/**
 * Sets FD_CLOEXEC on a descriptor received over SCM_RIGHTS (Netty's recvmsg does not ask for
 * MSG_CMSG_CLOEXEC). Netty exposes no fcntl and this module uses no jnr, so it calls fcntl through the JDK's
 * foreign function API when the JVM has it (JDK 22 and later, reached reflectively since the code targets 17).
 * On older JVMs the descriptor stays inheritable; the JDK's own ProcessBuilder closes it in children anyway.
 */
final class Cloexec {
  private static final int F_GETFD = 1;
  private static final int F_SETFD = 2;
  private static final int FD_CLOEXEC = 1;
  private static final MethodHandle FCNTL = lookup();

  private Cloexec() { }

  /** True if the flag is now set. */
  static boolean set(int fd) {
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

  static boolean available() {
    return FCNTL != null;
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
