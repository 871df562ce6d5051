package io.jcircus.server.control;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real {@code ipc://} endpoint for a JeroMQ socket: a Unix-domain socket at the endpoint's path that libzmq
 * clients (pyzmq, Circus's circusctl and plugins) reach, relayed to the JeroMQ socket on a loopback port.
 *
 * <p>JeroMQ 0.6.0 has no Unix-domain transport (its {@code ipc://} is loopback TCP that any local user can
 * reach), so the access control an {@code ipc://} endpoint gives in Circus (file ownership and mode) would be
 * lost. Here the loopback side is closed to everyone but this relay: the JeroMQ socket is a ZMTP PLAIN server
 * whose ZAP handler accepts one user, with a password made at start and held only in circusd's memory. The
 * relay speaks ZMTP 3.0 on both sides of the handshake: the client's NULL greeting and READY (its socket type
 * and identity) become a PLAIN HELLO and INITIATE towards JeroMQ, and JeroMQ's READY becomes the client's; from
 * then on bytes pass unchanged, so every frame, subscription and multipart message is the client's own.
 *
 * <p>With CURVE configured the relay is transparent from the first byte: CURVE already keeps out a peer that
 * holds no authorised key, on the loopback port as on the path.
 *
 * <p>Bounds: the handshake must end within {@code handshakeMs} and its commands are at most 4 KiB; a peer
 * that reads slowly stops the relay reading the other side (no unbounded buffering in either direction).
 */
final class IpcRelay implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(IpcRelay.class);
  static final String USER = "jcircus-ipc";
  private static final int MAX_COMMAND = 4096;

  private final Path path;
  private final int internalPort;
  private final boolean transparent;
  private final byte[] password;
  private final int handshakeMs;
  private final EventLoopGroup group;
  private Channel server;

  IpcRelay(Path path, int internalPort, boolean transparent, byte[] password, int handshakeMs, EventLoopGroup group) {
    this.path = path;
    this.internalPort = internalPort;
    this.transparent = transparent;
    this.password = password.clone();
    this.handshakeMs = handshakeMs;
    this.group = group;
  }

  /** Binds the path (a stale socket file left by a killed daemon is replaced, as libzmq does). */
  void start() throws IOException {
    if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      if (!"socket".equals(fileType(path))) {
        throw new IOException(path + " exists and is not a socket");
      }
      Files.delete(path);
    }
    ServerBootstrap b = new ServerBootstrap().group(group).channel(EpollServerDomainSocketChannel.class)
        .childOption(ChannelOption.AUTO_READ, true)
        .childHandler(new ChannelInitializer<EpollDomainSocketChannel>() {
          @Override
          protected void initChannel(EpollDomainSocketChannel ch) {
            ch.pipeline().addLast(new ClientSide());
          }
        });
    ChannelFuture f = b.bind(new DomainSocketAddress(path.toFile())).awaitUninterruptibly();
    if (!f.isSuccess()) {
      throw new IOException("cannot bind " + path + ": " + f.cause().getMessage(), f.cause());
    }
    server = f.channel();
  }

  private static String fileType(Path p) {
    try {
      Object mode = Files.getAttribute(p, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
      return ((Integer) mode & 0170000) == 0140000 ? "socket" : "other";
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return "unknown";
    }
  }

  Path path() {
    return path;
  }

  @Override
  public void close() {
    if (server != null) {
      server.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
      server = null;
    }
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      LOG.warn("cannot remove {}: {}", path, e.toString());
    }
  }

  // ------------------------------------------------------------------ ZMTP 3.0 pieces

  /** A ZMTP 3.0 greeting naming {@code mechanism}. */
  static ByteBuf greeting(String mechanism) {
    ByteBuf g = Unpooled.buffer(64);
    g.writeByte(0xFF);
    g.writeZero(8);
    g.writeByte(0x7F);
    g.writeByte(3);
    g.writeByte(0);
    byte[] m = mechanism.getBytes(StandardCharsets.US_ASCII);
    g.writeBytes(m);
    g.writeZero(20 - m.length);
    g.writeByte(0);
    g.writeZero(31);
    return g;
  }

  /** A command frame: name, then {@code body} as it is. */
  static ByteBuf command(String name, ByteBuf body) {
    byte[] n = name.getBytes(StandardCharsets.US_ASCII);
    int size = 1 + n.length + body.readableBytes();
    ByteBuf c = Unpooled.buffer(size + 9);
    if (size <= 255) {
      c.writeByte(0x04);
      c.writeByte(size);
    } else {
      c.writeByte(0x06);
      c.writeLong(size);
    }
    c.writeByte(n.length);
    c.writeBytes(n);
    c.writeBytes(body, body.readerIndex(), body.readableBytes());
    return c;
  }

  /** A greeting's mechanism, or null if {@code g} (64 bytes) is not a ZMTP 3.x greeting. */
  static String mechanismOf(ByteBuf g) {
    int at = g.readerIndex();
    if (g.getUnsignedByte(at) != 0xFF || (g.getByte(at + 9) & 1) != 1 || g.getUnsignedByte(at + 10) < 3) {
      return null;
    }
    StringBuilder m = new StringBuilder();
    for (int i = 0; i < 20; i++) {
      byte b = g.getByte(at + 12 + i);
      if (b == 0) {
        break;
      }
      m.append((char) b);
    }
    return m.toString();
  }

  /**
   * The next command in {@code in} as [name, body], consumed; null if it has not all arrived. Throws if the
   * bytes are not a command or it is larger than {@link #MAX_COMMAND}.
   */
  static ByteBuf[] nextCommand(ByteBuf in) throws IOException {
    if (in.readableBytes() < 2) {
      return null;
    }
    int at = in.readerIndex();
    int flags = in.getUnsignedByte(at);
    if ((flags & 0x04) == 0) {
      throw new IOException("expected a command, got a message frame");
    }
    long size;
    int header;
    if ((flags & 0x02) != 0) {
      if (in.readableBytes() < 9) {
        return null;
      }
      size = in.getLong(at + 1);
      header = 9;
    } else {
      size = in.getUnsignedByte(at + 1);
      header = 2;
    }
    if (size < 1 || size > MAX_COMMAND) {
      throw new IOException("a handshake command of " + size + " bytes (at most " + MAX_COMMAND + ")");
    }
    if (in.readableBytes() < header + size) {
      return null;
    }
    in.skipBytes(header);
    ByteBuf body = in.readSlice((int) size);
    int nameLen = body.readUnsignedByte();
    if (nameLen > body.readableBytes()) {
      throw new IOException("a command whose name runs past its end");
    }
    ByteBuf name = body.readSlice(nameLen);
    return new ByteBuf[] {name, body};
  }

  static boolean is(ByteBuf name, String expected) {
    return name.toString(StandardCharsets.US_ASCII).equals(expected);
  }

  // ------------------------------------------------------------------ the two sides

  /** Pipes {@code msg} to {@code to}, pausing reads on {@code from} while {@code to} cannot take more. */
  private static void forward(Object msg, Channel from, Channel to) {
    to.writeAndFlush(msg).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    if (!to.isWritable()) {
      from.config().setAutoRead(false);
    }
  }

  /** The connection from a client on the path. */
  private final class ClientSide extends ChannelInboundHandlerAdapter {
    private final ByteBuf acc = Unpooled.buffer();
    private Channel client;
    private Channel backend;
    private ByteBuf clientProps;
    private boolean greeted;
    private boolean piping;
    private ScheduledFuture<?> timeout;

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      client = ctx.channel();
      timeout = client.eventLoop().schedule(() -> {
        if (!piping) {
          LOG.debug("{}: a client did not finish its handshake within {} ms", path, handshakeMs);
          client.close();
        }
      }, handshakeMs, TimeUnit.MILLISECONDS);
      if (transparent) {
        client.config().setAutoRead(false);
        connectBackend();
      } else {
        client.writeAndFlush(greeting("NULL"));
      }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (piping) {
        forward(msg, client, backend);
        return;
      }
      ByteBuf in = (ByteBuf) msg;
      try {
        if (acc.readableBytes() + in.readableBytes() > MAX_COMMAND + 128) {
          throw new IOException("more than " + MAX_COMMAND + " bytes before the handshake ended");
        }
        acc.writeBytes(in);
      } catch (IOException e) {
        fail(e);
        return;
      } finally {
        ReferenceCountUtil.release(in);
      }
      try {
        handshake();
      } catch (IOException e) {
        fail(e);
      }
    }

    private void handshake() throws IOException {
      if (!greeted) {
        if (acc.readableBytes() < 1) {
          return;
        }
        if (acc.getUnsignedByte(acc.readerIndex()) != 0xFF) {
          throw new IOException("not a ZMTP 3 client (ZMTP 1.0 and 2.0 are not relayed)");
        }
        if (acc.readableBytes() < 64) {
          return;
        }
        String mech = mechanismOf(acc);
        if (!"NULL".equals(mech)) {
          throw new IOException(mech == null ? "not a ZMTP 3 greeting"
              : "mechanism " + mech + " (this endpoint takes NULL; configure CURVE in circus.ini for CURVE)");
        }
        acc.skipBytes(64);
        greeted = true;
      }
      if (clientProps == null) {
        ByteBuf[] c = nextCommand(acc);
        if (c == null) {
          return;
        }
        if (!is(c[0], "READY")) {
          throw new IOException("expected READY, got " + c[0].toString(StandardCharsets.US_ASCII));
        }
        clientProps = Unpooled.copiedBuffer(c[1]);
        client.config().setAutoRead(false); // what follows waits until the backend is ready
        connectBackend();
      }
    }

    private void connectBackend() {
      new Bootstrap().group(client.eventLoop()).channel(EpollSocketChannel.class)
          .option(ChannelOption.AUTO_READ, true)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, handshakeMs)
          .handler(new BackendSide(this))
          .connect(new InetSocketAddress("127.0.0.1", internalPort))
          .addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
              fail(new IOException("the internal endpoint does not answer: " + f.cause().getMessage()));
            }
          });
    }

    /** The backend finished its side: tell the client, pass on whatever either side sent early, then pipe. */
    void ready(Channel be, ByteBuf serverProps, ByteBuf early) {
      backend = be;
      if (!transparent) {
        client.write(command("READY", serverProps));
      }
      if (early.isReadable()) {
        client.write(early.retain());
      }
      client.flush();
      if (acc.isReadable()) {
        backend.writeAndFlush(acc.retainedSlice());
      }
      piping = true;
      timeout.cancel(false);
      acc.release();
      client.config().setAutoRead(true);
    }

    void fail(IOException e) {
      LOG.debug("{}: dropping a client: {}", path, e.getMessage());
      client.close();
      if (backend != null) {
        backend.close();
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (backend != null && client.isWritable()) {
        backend.config().setAutoRead(true);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      timeout.cancel(false);
      if (!piping && acc.refCnt() > 0) {
        acc.release();
      }
      if (clientProps != null && clientProps.refCnt() > 0) {
        clientProps.release();
      }
      if (backend != null) {
        backend.close();
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      LOG.debug("{}: client connection: {}", path, cause.toString());
      ctx.close();
    }
  }

  /** The connection to the JeroMQ socket on the loopback port. */
  private final class BackendSide extends ChannelInboundHandlerAdapter {
    private final ClientSide front;
    private final ByteBuf acc = Unpooled.buffer();
    private Channel backend;
    private boolean greeted;
    private boolean welcomed;
    private boolean piping;

    BackendSide(ClientSide front) {
      this.front = front;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      backend = ctx.channel();
      front.backend = backend;
      if (transparent) {
        piping = true;
        front.ready(backend, Unpooled.EMPTY_BUFFER, Unpooled.EMPTY_BUFFER);
        acc.release();
        return;
      }
      ByteBuf hello = Unpooled.buffer();
      byte[] user = USER.getBytes(StandardCharsets.US_ASCII);
      hello.writeByte(user.length);
      hello.writeBytes(user);
      hello.writeByte(password.length);
      hello.writeBytes(password);
      backend.write(greeting("PLAIN"));
      backend.writeAndFlush(command("HELLO", hello));
      hello.release();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (piping) {
        forward(msg, backend, front.client);
        return;
      }
      ByteBuf in = (ByteBuf) msg;
      acc.writeBytes(in);
      ReferenceCountUtil.release(in);
      try {
        handshake();
      } catch (IOException e) {
        LOG.warn("{}: the internal endpoint refused the relay: {}", path, e.getMessage());
        front.fail(e);
      }
    }

    private void handshake() throws IOException {
      if (!greeted) {
        if (acc.readableBytes() < 64) {
          return;
        }
        if (!"PLAIN".equals(mechanismOf(acc))) {
          throw new IOException("the internal endpoint is not a PLAIN server");
        }
        acc.skipBytes(64);
        greeted = true;
      }
      while (true) {
        ByteBuf[] c = nextCommand(acc);
        if (c == null) {
          return;
        }
        if (is(c[0], "ERROR")) {
          throw new IOException("ERROR " + c[1].toString(StandardCharsets.US_ASCII));
        }
        if (!welcomed) {
          if (!is(c[0], "WELCOME")) {
            throw new IOException("expected WELCOME, got " + c[0].toString(StandardCharsets.US_ASCII));
          }
          welcomed = true;
          backend.writeAndFlush(command("INITIATE", front.clientProps));
          continue;
        }
        if (!is(c[0], "READY")) {
          throw new IOException("expected READY, got " + c[0].toString(StandardCharsets.US_ASCII));
        }
        piping = true;
        ByteBuf early = acc.readRetainedSlice(acc.readableBytes());
        front.ready(backend, c[1], early);
        early.release();
        acc.release();
        return;
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (front.client != null && backend.isWritable()) {
        front.client.config().setAutoRead(true);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (!piping && acc.refCnt() > 0) {
        acc.release();
      }
      front.client.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      LOG.debug("{}: internal connection: {}", path, cause.toString());
      ctx.close();
    }
  }
}
