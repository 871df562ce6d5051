package io.jcircus.server.arbiter;

import io.jcircus.server.config.SocketConfig;
import io.jcircus.server.internal.posix.Posix;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

/**
 * A listening socket owned by circusd: bound by a Netty epoll server channel with AUTO_READ off, so the
 * daemon never accepts; children receive its fd. Stays open while workers come and go.
 */
public final class ManagedSocket {
  private final SocketConfig cfg;
  private final EventLoopGroup group;
  private Channel channel;
  private int fd = -1;
  private String host;
  private int port;
  /** A unix socket's file (its inode) as bound here: what its path should keep naming. */
  private Object unixInode;
  private boolean pathLostReported;

  ManagedSocket(SocketConfig cfg, EventLoopGroup group) {
    this.cfg = cfg;
    this.group = group;
  }

  public SocketConfig config() {
    return cfg;
  }

  public String name() {
    return cfg.name();
  }

  public int fd() {
    return fd;
  }

  /** The bound port (resolves port 0). */
  public int port() {
    return port;
  }

  public String host() {
    return host;
  }

  public boolean isBound() {
    return channel != null;
  }

  /** Binds at startup; so_reuseport sockets are bound per process instead. */
  void bind() throws IOException {
    if (cfg.reusePort()) {
      return;
    }
    channel = bindOne(false);
    fd = ((UnixChannel) channel).fd().intValue();
    if (cfg.isUnix()) {
      unixInode = inode(Path.of(cfg.path()));
    }
  }

  /** The inode of the file at {@code p} (not following a link), or null if there is none or it cannot be read. */
  private static Object inode(Path p) {
    try {
      return Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS);
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * For a unix socket bound here, what became of its path if it no longer names the socket (removed, or another
   * file in its place), said once; null while it does. The socket itself still listens, but clients that
   * connect by path cannot reach it any more, and no process can give the path back to it.
   */
  String pathLost() {
    if (!cfg.isUnix() || channel == null || unixInode == null || pathLostReported) {
      return null;
    }
    Path p = Path.of(cfg.path());
    Object now = inode(p);
    if (unixInode.equals(now)) {
      return null;
    }
    pathLostReported = true;
    return now == null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS) ? p + " was removed" : p + " names another file";
  }

  /** A fresh SO_REUSEPORT listener for one process; the caller closes it once the child holds it. */
  Channel bindForProcess() throws IOException {
    return bindOne(true);
  }

  static int fdOf(Channel ch) {
    return ((UnixChannel) ch).fd().intValue();
  }

  @SuppressWarnings("unchecked")
  private Channel bindOne(boolean reusePort) throws IOException {
    SocketAddress addr;
    ChannelFactory<ServerChannel> factory;
    Path unixPath = null;
    if (cfg.isUnix()) {
      unixPath = Path.of(cfg.path());
      if (Files.exists(unixPath, LinkOption.NOFOLLOW_LINKS)) {
        if (!cfg.replace()) {
          throw new IOException("socket '" + cfg.name() + "': " + unixPath + " already exists (set replace = true"
              + " to remove it at start)");
        }
        Files.delete(unixPath);
      }
      Path dir = unixPath.getParent();
      if (dir != null) {
        Files.createDirectories(dir);
      }
      addr = new DomainSocketAddress(unixPath.toFile());
      factory = () -> new EpollServerDomainSocketChannel();
    } else {
      InetAddress ia = resolve(cfg.host(), cfg.family());
      addr = new InetSocketAddress(ia, port != 0 && reusePort ? port : cfg.port());
      SocketProtocolFamily fam = ia instanceof Inet6Address ? SocketProtocolFamily.INET6 : SocketProtocolFamily.INET;
      factory = () -> new EpollServerSocketChannel(fam);
    }
    ServerBootstrap b = new ServerBootstrap()
        .group(group)
        .channelFactory((io.netty.channel.ChannelFactory<ServerChannel>) factory)
        .option(ChannelOption.AUTO_READ, false)
        .option(ChannelOption.SO_BACKLOG, cfg.backlog())
        .childHandler(new ChannelInboundHandlerAdapter());
    if (!cfg.isUnix()) {
      b.option(ChannelOption.SO_REUSEADDR, true);
    }
    if (reusePort) {
      b.option(EpollChannelOption.SO_REUSEPORT, true);
    }
    if (cfg.deferAccept() > 0) {
      b.option(EpollChannelOption.TCP_DEFER_ACCEPT, cfg.deferAccept());
    }
    Channel ch;
    try {
      ch = b.bind(addr).sync().channel();
    } catch (Exception e) {
      throw new IOException("socket '" + cfg.name() + "': cannot bind " + describe(addr) + ": " + e.getMessage(), e);
    }
    int chFd = fdOf(ch);
    try {
      if (cfg.iface() != null) {
        Posix.bindToDevice(chFd, cfg.iface());
      }
      if (cfg.blocking()) {
        Posix.setNonBlocking(chFd, false);
      }
      if (unixPath != null) {
        Files.setPosixFilePermissions(unixPath, permissions(0777 & ~cfg.umask()));
      }
    } catch (IOException e) {
      ch.close().awaitUninterruptibly();
      throw new IOException("socket '" + cfg.name() + "': " + e.getMessage(), e);
    }
    if (!cfg.isUnix()) {
      InetSocketAddress local = (InetSocketAddress) ch.localAddress();
      host = local.getAddress().getHostAddress();
      port = local.getPort();
    }
    return ch;
  }

  private static String describe(SocketAddress a) {
    return a instanceof DomainSocketAddress d ? d.path() : a.toString();
  }

  private static InetAddress resolve(String host, SocketConfig.Family family) throws IOException {
    try {
      InetAddress[] all = InetAddress.getAllByName(host);
      for (InetAddress a : all) {
        if (family == SocketConfig.Family.AF_INET6 ? a instanceof Inet6Address : !(a instanceof Inet6Address)) {
          return a;
        }
      }
      if (family == SocketConfig.Family.AF_INET6) {
        throw new IOException("host '" + host + "' has no IPv6 address (family = AF_INET6)");
      }
      return all[0];
    } catch (UnknownHostException e) {
      throw new IOException("cannot resolve host '" + host + "'", e);
    }
  }

  static Set<PosixFilePermission> permissions(int mode) {
    Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
    PosixFilePermission[] order = {
      PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
      PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
      PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ
    };
    for (int i = 0; i < 9; i++) {
      if ((mode & (1 << i)) != 0) {
        s.add(order[i]);
      }
    }
    return s;
  }

  void close() {
    if (channel != null) {
      if (channel.eventLoop().inEventLoop()) {
        channel.close();
      } else {
        channel.close().awaitUninterruptibly();
      }
      channel = null;
      fd = -1;
    }
    if (cfg.isUnix()) {
      Path p = Path.of(cfg.path());
      Object now = inode(p);
      if (now != null && (unixInode == null || unixInode.equals(now))) { // not a file someone put in its place
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          // best effort
        }
      }
    }
  }

  @Override
  public String toString() {
    return "socket '" + cfg.name() + "' at " + (cfg.isUnix() ? cfg.path() : host + ":" + port);
  }
}
