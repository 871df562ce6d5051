package io.jcircus.cli;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Lets this process's JeroMQ sockets reach a real {@code ipc://} endpoint (a Unix-domain socket, as libzmq and
 * circusd make them): JeroMQ has no such transport, so a connect to {@code ipc://PATH} goes to a loopback port
 * of this process, whose connections are copied byte for byte to PATH. The ZMTP session is the socket's own,
 * end to end (CURVE included). The loopback port takes connections from this process only (each accepted
 * connection's peer socket must be one of this process's descriptors), so it lends nobody else this user's
 * access to PATH.
 */
final class IpcShim {
  private static final Map<String, String> SHIMS = new ConcurrentHashMap<>();

  private IpcShim() {}

  /** {@code endpoint} itself, or for {@code ipc://PATH} the loopback endpoint that reaches PATH. */
  static String connectable(String endpoint) {
    if (!endpoint.startsWith("ipc://")) {
      return endpoint;
    }
    Path path = Path.of(endpoint.substring("ipc://".length())).toAbsolutePath();
    return SHIMS.computeIfAbsent(path.toString(), p -> {
      try {
        return start(path);
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot relay to " + endpoint + ": " + e.getMessage(), e);
      }
    });
  }

  private static String start(Path path) throws IOException {
    ServerSocketChannel server = ServerSocketChannel.open();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
    int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
    Thread t = new Thread(() -> {
      while (server.isOpen()) {
        SocketChannel in;
        try {
          in = server.accept();
        } catch (IOException e) {
          return;
        }
        try {
          int peerPort = ((InetSocketAddress) in.getRemoteAddress()).getPort();
          if (!ownConnection(peerPort)) {
            in.close(); // another process found the port: it gets nothing
            continue;
          }
          SocketChannel out = SocketChannel.open(StandardProtocolFamily.UNIX);
          out.connect(UnixDomainSocketAddress.of(path));
          pump(in, out, "ipc-shim-out");
          pump(out, in, "ipc-shim-in");
        } catch (IOException e) {
          try {
            in.close(); // JeroMQ sees the connection fail and retries as it would on a refused ipc path
          } catch (IOException ignored) {
            // closed already
          }
        }
      }
    }, "ipc-shim-accept");
    t.setDaemon(true);
    t.start();
    return "tcp://127.0.0.1:" + port;
  }

  private static void pump(SocketChannel from, SocketChannel to, String name) {
    Thread t = new Thread(() -> {
      ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024);
      try {
        while (from.read(buf) >= 0) {
          buf.flip();
          while (buf.hasRemaining()) {
            to.write(buf);
          }
          buf.clear();
        }
      } catch (IOException e) {
        // either side closed
      } finally {
        try {
          from.close();
          to.close();
        } catch (IOException ignored) {
          // closed already
        }
      }
    }, name);
    t.setDaemon(true);
    t.start();
  }

  /**
   * Whether the TCP connection from loopback port {@code peerPort} is one of this process's: its socket inode
   * (from /proc/net/tcp) is one of this process's descriptors.
   */
  static boolean ownConnection(int peerPort) {
    String local = String.format(Locale.ROOT, ":%04X", peerPort);
    String inode = null;
    try {
      for (String table : new String[] {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
        Path t = Path.of(table);
        if (inode != null || !Files.exists(t)) {
          continue;
        }
        for (String line : Files.readAllLines(t)) { // IPv4, or IPv4-mapped on a dual-stack socket
          String[] f = line.trim().split("\\s+");
          if (f.length > 9 && f[1].endsWith("0100007F" + local)) {
            inode = f[9];
            break;
          }
        }
      }
      if (inode == null || inode.equals("0")) {
        return false;
      }
      String want = "socket:[" + inode + "]";
      try (var fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
        for (Path fd : fds) {
          try {
            if (Files.readSymbolicLink(fd).toString().equals(want)) {
              return true;
            }
          } catch (IOException gone) {
            // closed meanwhile
          }
        }
      }
    } catch (IOException e) {
      return false;
    }
    return false;
  }
}
