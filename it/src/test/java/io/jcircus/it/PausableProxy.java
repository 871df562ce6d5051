package io.jcircus.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback TCP relay to {@code target} that a test can pause: while paused nothing passes either way (bytes wait,
 * connections stay open), as in a network partition. Daemon threads; closed with the test.
 */
final class PausableProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int target;
  private volatile boolean paused;
  private volatile boolean closed;
  private final List<Socket> open = new CopyOnWriteArrayList<>();

  PausableProxy(int target) throws IOException {
    this.target = target;
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::accept, "proxy-accept");
    t.setDaemon(true);
    t.start();
  }

  int port() {
    return server.getLocalPort();
  }

  void pause() {
    paused = true;
  }

  void resume() {
    paused = false;
  }

  private void accept() {
    while (!closed) {
      try {
        Socket in = server.accept();
        Socket out = new Socket();
        out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), target), 5000);
        open.add(in);
        open.add(out);
        pump(in, out);
        pump(out, in);
      } catch (IOException e) {
        if (closed) {
          return;
        }
      }
    }
  }

  private void pump(Socket from, Socket to) throws IOException {
    InputStream i = from.getInputStream();
    OutputStream o = to.getOutputStream();
    Thread t = new Thread(() -> {
      byte[] buf = new byte[16384];
      try {
        int n;
        while ((n = i.read(buf)) >= 0) {
          while (paused && !closed) {
            Thread.sleep(10);
          }
          o.write(buf, 0, n);
          o.flush();
        }
      } catch (IOException | InterruptedException e) {
        // one side closed
      } finally {
        quietly(from);
        quietly(to);
      }
    }, "proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  private static void quietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    server.close();
    open.forEach(PausableProxy::quietly);
  }
}
