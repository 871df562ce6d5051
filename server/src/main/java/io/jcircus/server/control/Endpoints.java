package io.jcircus.server.control;

import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.config.Limits;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;

/**
 * Binds circusd's ZeroMQ sockets to their configured endpoints: {@code tcp://} (and {@code inproc://}) as
 * JeroMQ does, {@code ipc://PATH} as a real Unix-domain socket through an {@link IpcRelay}, owned by
 * {@code endpoint_owner} when that is set. Thread-safe: the controller thread and the live publishers bind
 * through it.
 */
final class Endpoints implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Endpoints.class);
  static final String IPC_ZAP_DOMAIN = "jcircus-ipc";

  private final CircusConfig cfg;
  private final boolean curve;
  private final byte[] password;
  private final List<IpcRelay> relays = new ArrayList<>();
  private MultiThreadIoEventLoopGroup group;

  Endpoints(CircusConfig cfg, boolean curve) {
    this.cfg = cfg;
    this.curve = curve;
    byte[] raw = new byte[32];
    new SecureRandom().nextBytes(raw);
    // 43 characters: JeroMQ reads PLAIN lengths as signed bytes
    this.password = Base64.getUrlEncoder().withoutPadding().encodeToString(raw).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  }

  /** Whether any endpoint is ipc:// (then a ZAP handler must answer for the relays' PLAIN logins). */
  boolean anyIpc() {
    for (String e : new String[] {cfg.endpoint, cfg.pubsubEndpoint, cfg.statsEndpoint, cfg.outputEndpoint}) {
      if (e != null && e.startsWith("ipc://")) {
        return true;
      }
    }
    return false;
  }

  /** The ZAP verdict on a PLAIN login: only the relays' user and password. Constant time. */
  boolean authorizesPlain(byte[] user, byte[] pass) {
    return MessageDigest.isEqual(user, IpcRelay.USER.getBytes(java.nio.charset.StandardCharsets.US_ASCII))
        & MessageDigest.isEqual(pass, password);
  }

  /**
   * Binds {@code s} (its security options already set when CURVE is on) to {@code endpoint}, or says which
   * key's endpoint could not be bound and why, in Linux's terms. Returns the endpoint clients use.
   */
  synchronized String bind(ZMQ.Socket s, String endpoint, String key) throws IOException {
    if (!endpoint.startsWith("ipc://")) {
      try {
        s.bind(endpoint);
        return s.getLastEndpoint();
      } catch (ZMQException e) {
        throw new IOException("cannot bind " + key + " " + endpoint + ": " + ZmqSockets.describe(e), e);
      }
    }
    Path path = Path.of(endpoint.substring("ipc://".length())).toAbsolutePath();
    if (path.getParent() != null && !Files.isDirectory(path.getParent())) {
      throw new IOException("cannot bind " + key + " " + endpoint + ": ENOENT (directory " + path.getParent()
          + " does not exist)");
    }
    if (!curve) {
      s.setZAPDomain(IPC_ZAP_DOMAIN);
      s.setPlainServer(true);
    }
    int port;
    try {
      s.bind("tcp://127.0.0.1:*");
      String last = s.getLastEndpoint();
      port = Integer.parseInt(last.substring(last.lastIndexOf(':') + 1));
    } catch (ZMQException e) {
      throw new IOException("cannot bind " + key + " " + endpoint + " (its loopback side): "
          + ZmqSockets.describe(e), e);
    }
    if (group == null) {
      group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("jcircus-ipc", true),
          EpollIoHandler.newFactory());
    }
    IpcRelay relay = new IpcRelay(path, port, curve, password, Limits.HANDSHAKE_MS, group);
    try {
      relay.start();
    } catch (IOException e) {
      throw new IOException("cannot bind " + key + " " + endpoint + ": " + e.getMessage(), e);
    }
    relays.add(relay);
    if (cfg.endpointOwner != null && !cfg.endpointOwner.isEmpty()) {
      try {
        UserPrincipal owner = path.getFileSystem().getUserPrincipalLookupService()
            .lookupPrincipalByName(cfg.endpointOwner);
        Files.getFileAttributeView(path, PosixFileAttributeView.class).setOwner(owner);
      } catch (IOException e) {
        throw new IOException("cannot give " + endpoint + " to endpoint_owner " + cfg.endpointOwner + ": " + e, e);
      }
    }
    LOG.info("{} {} is a Unix-domain socket relayed to 127.0.0.1:{} ({})", key, endpoint, port,
        curve ? "CURVE end to end" : "PLAIN login known only to circusd");
    return endpoint;
  }

  @Override
  public synchronized void close() {
    for (IpcRelay r : relays) {
      r.close();
    }
    relays.clear();
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
      group = null;
    }
  }
}
