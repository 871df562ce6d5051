package io.jcircus.fdpass;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.PeerCredentials;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands named file descriptors to peers over an AF_UNIX stream socket (SCM_RIGHTS). The socket file is mode
 * 0600 from the start (bound under a temporary name, chmod-ed, then renamed into place), and every peer is
 * checked with SO_PEERCRED against an allow-list of uids before it may ask for anything.
 *
 * <p>Protocol (see {@link FdPassClient}), one text line per message, then the descriptor:
 * <pre>
 *   client: GET name          server: FD name key=value …      (or ERR reason)
 *   client: READY             server: one 1-byte message carrying the fd (SCM_RIGHTS)
 *   client: LIST              server: NAMES name name …
 * </pre>
 * The READY step exists because Netty carries one fd per message with a 1-byte payload, and a peer reading
 * in bytes mode would discard a descriptor that arrived together with text: the client switches to reading a
 * descriptor first, then says so.
 */
public final class FdPassServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FdPassServer.class);

  /** One descriptor on offer: its number in this process and what the client is told about it. */
  public record Entry(int fd, Map<String, String> info) { }

  private final Path path;
  private final Set<Integer> allowedUids;
  private final Map<String, Entry> entries = new ConcurrentHashMap<>();
  private Channel server;

  public FdPassServer(Path path, Set<Integer> allowedUids) {
    this.path = path;
    this.allowedUids = Set.copyOf(allowedUids);
  }

  /** Offers {@code fd} under {@code name} (replacing an earlier one). Thread-safe. */
  public void offer(String name, int fd, Map<String, String> info) {
    entries.put(name, new Entry(fd, new TreeMap<>(info)));
  }

  public void withdraw(String name) {
    entries.remove(name);
  }

  public Path path() {
    return path;
  }

  /** Binds the socket on {@code group}. */
  public void start(EventLoopGroup group) throws IOException {
    Path tmp = path.resolveSibling("." + path.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    Files.deleteIfExists(tmp);
    ServerBootstrap b = new ServerBootstrap().group(group).channel(EpollServerDomainSocketChannel.class)
        .childHandler(new ChannelInitializer<EpollDomainSocketChannel>() {
          @Override
          protected void initChannel(EpollDomainSocketChannel ch) {
            ch.pipeline().addLast(new LineBasedFrameDecoder(1024), new StringDecoder(StandardCharsets.UTF_8),
                new StringEncoder(StandardCharsets.UTF_8), new Peer());
          }
        });
    try {
      server = b.bind(new DomainSocketAddress(tmp.toString())).sync().channel();
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
      Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while binding " + path, e);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      if (server != null) {
        server.close();
      }
      throw new IOException("cannot serve file descriptors on " + path + ": " + e.getMessage(), e);
    }
    LOG.info("fdpass: serving {} on {} to uids {}", entries.keySet(), path, allowedUids);
  }

  @Override
  public void close() {
    if (server != null) {
      server.close().awaitUninterruptibly();
      server = null;
    }
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      LOG.warn("fdpass: cannot remove {}: {}", path, e.toString());
    }
  }

  /** One connected peer. */
  private final class Peer extends SimpleChannelInboundHandler<String> {
    private Entry pending;
    private String pendingName;
    private PeerCredentials cred;

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
      cred = ((EpollDomainSocketChannel) ctx.channel()).peerCredentials();
      refused = !allowedUids.contains(cred.uid());
      if (refused) {
        LOG.warn("fdpass: refused pid {} (uid {}): not in the allowed uids {}", cred.pid(), cred.uid(), allowedUids);
        // Answered once its request is read: closing with unread input would reset the connection and lose
        // the explanation. A peer that sends nothing is dropped after a while.
        ctx.executor().schedule(() -> ctx.close(), 5, java.util.concurrent.TimeUnit.SECONDS);
      }
      super.channelActive(ctx);
    }

    private boolean refused;

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, String line) {
      if (refused) {
        ctx.writeAndFlush("ERR uid " + cred.uid() + " may not fetch sockets here\n")
            .addListener(ChannelFutureListener.CLOSE);
        return;
      }
      String[] w = line.strip().split("\\s+", 2);
      switch (w[0]) {
        case "LIST":
          ctx.writeAndFlush("NAMES " + String.join(" ", new TreeMap<>(entries).keySet()) + "\n");
          break;
        case "GET": {
          String name = w.length > 1 ? w[1].strip() : "";
          Entry e = entries.get(name);
          if (e == null) {
            ctx.writeAndFlush("ERR no socket named '" + name + "'\n");
            break;
          }
          pending = e;
          pendingName = name;
          StringBuilder sb = new StringBuilder("FD ").append(name);
          e.info().forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
          ctx.writeAndFlush(sb.append('\n').toString());
          break;
        }
        case "READY":
          if (pending == null) {
            ctx.writeAndFlush("ERR READY without GET\n");
            break;
          }
          LOG.info("fdpass: handing '{}' (fd {}) to pid {} (uid {})", pendingName, pending.fd(), cred.pid(), cred.uid());
          ctx.writeAndFlush(new FileDescriptor(pending.fd())); // not closed here: FileDescriptor is not ref-counted
          pending = null;
          break;
        default:
          ctx.writeAndFlush("ERR unknown request '" + w[0] + "' (GET name, READY, LIST)\n")
              .addListener(ChannelFutureListener.CLOSE);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      LOG.debug("fdpass: peer error: {}", cause.toString());
      ctx.close();
    }
  }
}
