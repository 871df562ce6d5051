package io.jcircus.fdpass;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.DomainSocketReadMode;
import io.netty.channel.unix.FileDescriptor;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Fetches a named descriptor from an {@link FdPassServer}, for a worker's start-up: connect, {@code GET name},
 * read the {@code FD} line in bytes mode, switch the channel to descriptor mode, say {@code READY}, receive the
 * descriptor. It is marked close-on-exec where the JVM can do so ({@link Fcntl#setCloexec}).
 */
public final class FdPassClient {
  /** A received descriptor and what the server said about it. */
  public record Received(int fd, Map<String, String> info) { }

  private FdPassClient() { }

  public static Received fetch(Path path, String name) throws IOException {
    return fetch(path, name, 10_000);
  }

  public static Received fetch(Path path, String name, long timeoutMs) throws IOException {
    MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    try {
      Promise<Received> result = group.next().newPromise();
      Map<String, String> info = new LinkedHashMap<>();
      Bootstrap b = new Bootstrap().group(group).channel(EpollDomainSocketChannel.class)
          .handler(new ChannelInitializer<EpollDomainSocketChannel>() {
            @Override
            protected void initChannel(EpollDomainSocketChannel ch) {
              ch.pipeline().addLast(new LineBasedFrameDecoder(4096), new StringDecoder(StandardCharsets.UTF_8),
                  new StringEncoder(StandardCharsets.UTF_8), new SimpleChannelInboundHandler<Object>() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                      ctx.writeAndFlush("GET " + name + "\n");
                    }

                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, Object msg) {
                      if (msg instanceof FileDescriptor fd) {
                        int n = fd.intValue();
                        Fcntl.setCloexec(n);
                        result.trySuccess(new Received(n, info));
                        ctx.close();
                        return;
                      }
                      String line = msg.toString();
                      if (line.startsWith("ERR ")) {
                        result.tryFailure(new IOException(path + ": " + line.substring(4)));
                        ctx.close();
                        return;
                      }
                      String[] w = line.split(" ");
                      if (w.length < 2 || !w[0].equals("FD") || !w[1].equals(name)) {
                        result.tryFailure(new IOException(path + ": unexpected reply '" + line + "'"));
                        ctx.close();
                        return;
                      }
                      for (int i = 2; i < w.length; i++) {
                        int eq = w[i].indexOf('=');
                        if (eq > 0) {
                          info.put(w[i].substring(0, eq), w[i].substring(eq + 1));
                        }
                      }
                      // From now on the channel reads descriptors; the server sends it only after READY.
                      ((EpollDomainSocketChannel) ctx.channel()).config()
                          .setReadMode(DomainSocketReadMode.FILE_DESCRIPTORS);
                      ctx.writeAndFlush("READY\n");
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                      result.tryFailure(new IOException(path + ": the server closed the connection"));
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                      result.tryFailure(new IOException(path + ": " + cause.getMessage(), cause));
                      ctx.close();
                    }
                  });
            }
          });
      Channel ch = b.connect(new DomainSocketAddress(path.toString())).addListener(f -> {
        if (!f.isSuccess()) {
          result.tryFailure(new IOException("cannot connect to " + path + ": " + f.cause().getMessage(), f.cause()));
        }
      }).channel();
      try {
        return result.get(timeoutMs, TimeUnit.MILLISECONDS);
      } catch (ExecutionException e) {
        throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
      } catch (TimeoutException e) {
        ch.close();
        throw new IOException(path + ": no descriptor for '" + name + "' within " + timeoutMs + " ms");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }
}
