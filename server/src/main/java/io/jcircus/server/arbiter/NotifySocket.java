package io.jcircus.server.arbiter;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.IoEventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainDatagramChannel;
import io.netty.channel.unix.DomainDatagramPacket;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The daemon side of sd_notify for one process: an AF_UNIX datagram socket whose path is the process's
 * {@code NOTIFY_SOCKET}. One socket per process, so a datagram's sender needs no credentials check: only that
 * process was told the path (the directory is not listable). Bound before the spawn, so a worker that reports
 * at once is heard; read on the arbiter loop once the process exists; closed after {@code READY=1} or exit (kept
 * until exit when {@code liveness = notify} listens for {@code WATCHDOG=1}).
 */
final class NotifySocket {
  final Path path;
  private final Socket socket;
  private EpollDomainDatagramChannel channel;

  private NotifySocket(Path path, Socket socket) {
    this.path = path;
    this.socket = socket;
  }

  /** Binds {@code path}; {@code uid}/{@code gid} (≥ 0) own the file so a worker running as them can send. */
  static NotifySocket bind(Path path, int uid, int gid) throws IOException {
    Files.deleteIfExists(path);
    Socket s = Socket.newSocketDomainDgram();
    try {
      s.bind(new DomainSocketAddress(path.toString()));
      if (uid >= 0) {
        Files.setAttribute(path, "unix:uid", uid);
      }
      if (gid >= 0) {
        Files.setAttribute(path, "unix:gid", gid);
      }
    } catch (IOException | RuntimeException e) {
      s.close();
      Files.deleteIfExists(path);
      throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
    }
    return new NotifySocket(path, s);
  }

  /** What a process reports: {@code READY=1}; {@code WATCHDOG=1}; {@code WATCHDOG=trigger} (it asks to be acted on). */
  interface Listener {
    void ready();

    void watchdog();

    void trigger();
  }

  /** Starts reading on {@code loop}; {@code to} hears there what each datagram carries, line by line. */
  void watch(IoEventLoop loop, Listener to) {
    channel = new EpollDomainDatagramChannel(socket.intValue());
    channel.pipeline().addLast(new SimpleChannelInboundHandler<DomainDatagramPacket>() {
      @Override
      protected void channelRead0(ChannelHandlerContext ctx, DomainDatagramPacket packet) {
        for (String line : packet.content().toString(StandardCharsets.UTF_8).split("\n")) {
          switch (line.strip()) {
            case "READY=1" -> to.ready();
            case "WATCHDOG=1" -> to.watchdog();
            case "WATCHDOG=trigger" -> to.trigger();
            default -> { }
          }
        }
      }

      @Override
      public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // a datagram socket closed while its read loop ran: nothing to report
      }
    });
    loop.register(channel);
  }

  void close() {
    try {
      if (channel != null) {
        EpollDomainDatagramChannel ch = channel;
        ch.eventLoop().execute(ch::close); // after the read in progress, if close() is called from it
      } else {
        socket.close();
      }
    } catch (IOException e) {
      // closing a datagram socket does not fail in a way that matters
    }
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      // the directory goes with circusd
    }
  }
}
