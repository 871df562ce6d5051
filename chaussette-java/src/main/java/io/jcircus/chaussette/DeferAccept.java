package io.jcircus.chaussette;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannelConfig;

/**
 * TCP_DEFER_ACCEPT on the TCP socket an HTTP worker accepts on: the kernel queues a connection for accept only
 * once its first bytes have arrived (or, for a client that stays silent, once the given seconds have passed),
 * so a worker is woken once per connection, with the request there to read, instead of once for the handshake
 * and once more for the request. HTTP clients always speak first; Apache httpd sets the option on its HTTP
 * listeners by default on Linux ({@code AcceptFilter http data}), nginx on request ({@code listen ... deferred}).
 *
 * <p>The option belongs to the socket, which circusd and every worker of the watcher share. A value already set
 * (circus.ini's {@code defer_accept = N}) is left as it is; {@code --defer-accept 0} leaves the socket alone.
 */
final class DeferAccept {
  /** The launcher's default, in seconds: a silent client is accepted after about that long. */
  static final int DEFAULT_SECONDS = 1;

  private DeferAccept() {}

  /**
   * Sets TCP_DEFER_ACCEPT on the listening TCP socket {@code fd} to {@code seconds} unless it has a value
   * already or {@code seconds} is 0.
   *
   * @return the value in effect afterwards, as the kernel reports it (0: off)
   */
  static int apply(int fd, int seconds) {
    if (!Epoll.isAvailable()) { // also what loads Netty's native library, which the servlet backend has not yet
      return 0;
    }
    // A channel object only for its socket options: never registered, never closed (the fd is the caller's).
    // Its config sets SO_REUSEADDR, which a listening socket has already (circusd's, and those bound here).
    EpollServerSocketChannelConfig config = new EpollServerSocketChannel(fd).config();
    int current = config.getTcpDeferAccept();
    if (current == 0 && seconds > 0) {
      config.setTcpDeferAccept(seconds);
      current = config.getTcpDeferAccept();
    }
    return current;
  }
}
