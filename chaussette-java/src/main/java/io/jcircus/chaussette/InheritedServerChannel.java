package io.jcircus.chaussette;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.spi.SelectorProvider;

/**
 * A {@link ServerSocketChannel} over a listening TCP socket this process was handed at any fd, for servers that
 * take one (Jetty's {@code ServerConnector.open}).
 *
 * <p>The JDK's public way, {@link System#inheritedChannel()}, wraps fd 0 only, and when that channel is closed
 * it puts {@code /dev/null} on fds 0, 1 <em>and 2</em> ({@code sun.nio.ch.InheritedChannel.detachIOStreams}): a
 * worker that stops accepting at SIGTERM and then drains would write its last log lines, and its application's
 * shutdown messages, to nowhere. So the channel is made the way the JDK makes its own, with the JDK's
 * {@code ServerSocketChannelImpl(SelectorProvider, ProtocolFamily, FileDescriptor, boolean bound)} (the same in
 * JDK 17 through 25), which needs {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED} (the launcher passes
 * it). Closing it closes this process's copy of the socket and nothing else. Without that access, fd 0 falls
 * back to {@code System.inheritedChannel()} with the JDK's caveat; another fd is then refused, saying why.
 */
final class InheritedServerChannel {
  private InheritedServerChannel() { }

  /**
   * @throws IllegalArgumentException if {@code fd} is not a TCP listening socket, or cannot be wrapped here
   */
  static ServerSocketChannel of(int fd) throws IOException {
    ServerSocketChannel ch;
    try {
      ch = wrap(fd);
    } catch (ReflectiveOperationException | RuntimeException e) {
      Throwable why = e instanceof InvocationTargetException ite ? ite.getCause() : e;
      if (why instanceof IOException io) {
        throw new IllegalArgumentException("fd " + fd + " is not a listening socket: " + io.getMessage(), io);
      }
      if (fd != 0) {
        throw new IllegalArgumentException("cannot serve fd " + fd + " with the servlet backend on this JVM ("
            + why + "); run it with --add-opens java.base/sun.nio.ch=ALL-UNNAMED, as bin/chaussette-java does,"
            + " or hand the socket over on fd 0 (stdin_socket) and serve fd://0", e);
      }
      Channel inherited = System.inheritedChannel();
      if (!(inherited instanceof ServerSocketChannel ssc)) {
        throw new IllegalArgumentException("fd 0 is not a listening socket (" + inherited + ")");
      }
      ch = ssc;
    }
    if (!(ch.getLocalAddress() instanceof InetSocketAddress)) {
      ch.close();
      throw new IllegalArgumentException("fd " + fd + " is not a TCP socket: the servlet backend serves TCP");
    }
    return ch;
  }

  private static ServerSocketChannel wrap(int fd) throws ReflectiveOperationException {
    Method newFd = Class.forName("sun.nio.ch.IOUtil").getDeclaredMethod("newFD", int.class);
    newFd.setAccessible(true);
    Constructor<?> c = Class.forName("sun.nio.ch.ServerSocketChannelImpl").getDeclaredConstructor(
        SelectorProvider.class, ProtocolFamily.class, FileDescriptor.class, boolean.class);
    c.setAccessible(true);
    // the family the JDK gives its own channels when IPv6 is there: an AF_INET socket's addresses read the same
    Method ipv6 = Class.forName("sun.nio.ch.Net").getDeclaredMethod("isIPv6Available");
    ipv6.setAccessible(true);
    ProtocolFamily family = (boolean) ipv6.invoke(null) ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
    return (ServerSocketChannel) c.newInstance(SelectorProvider.provider(), family, newFd.invoke(null, fd), true);
  }
}
