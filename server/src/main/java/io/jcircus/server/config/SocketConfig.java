package io.jcircus.server.config;

/**
 * A {@code [socket:NAME]} section. {@code deferAccept} (jcircus's {@code defer_accept}, seconds, 0 = off) is
 * TCP_DEFER_ACCEPT: the kernel queues a connection for accept only once its first data has arrived.
 */
public record SocketConfig(
    String name,
    String host,
    int port,
    String path,
    Family family,
    int backlog,
    int umask,
    boolean replace,
    boolean reusePort,
    String iface,
    boolean blocking,
    int deferAccept) {

  /** Address families Circus accepts in {@code family}. */
  public enum Family {
    AF_INET,
    AF_INET6,
    AF_UNIX
  }

  public boolean isUnix() {
    return family == Family.AF_UNIX;
  }

  /** {@code 127.0.0.1:8080} or the unix path, as Circus prints it. */
  public String describe() {
    return isUnix() ? path : host + ":" + port;
  }
}
