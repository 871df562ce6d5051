package io.jcircus.server.arbiter;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * circusd under systemd ({@code Type=notify}): {@code READY=1} once every autostart watcher has started,
 * {@code RELOADING=1} then {@code READY=1} around a {@code reloadconfig}, {@code STOPPING=1} when it begins to stop,
 * and {@code WATCHDOG=1} every half {@code WATCHDOG_USEC} from the arbiter loop itself (so a wedged loop misses
 * them and systemd restarts circusd). Datagrams to {@code $NOTIFY_SOCKET} (a path, or {@code @name} in the abstract
 * namespace); a failure is logged, never fatal.
 */
public final class SdNotify {
  private static final Logger LOG = LoggerFactory.getLogger(SdNotify.class);
  private final byte[] address;
  private final Socket socket;

  private SdNotify(byte[] address, Socket socket) {
    this.address = address;
    this.socket = socket;
  }

  /** From {@code NOTIFY_SOCKET}; null when circusd does not run under a notify-aware manager. */
  public static SdNotify fromEnvironment() {
    String where = System.getenv("NOTIFY_SOCKET");
    if (where == null || where.isEmpty()) {
      return null;
    }
    byte[] address = where.getBytes(StandardCharsets.UTF_8);
    if (address[0] == '@') {
      address[0] = 0; // the abstract namespace
    }
    try {
      return new SdNotify(address, Socket.newSocketDomainDgram());
    } catch (RuntimeException e) {
      LOG.warn("NOTIFY_SOCKET={} given but no datagram socket: {}", where, e.toString());
      return null;
    }
  }

  /** The {@code WATCHDOG_USEC} systemd asked for, in microseconds; 0 when none (or not for this process). */
  public static long watchdogMicros() {
    String usec = System.getenv("WATCHDOG_USEC");
    String pid = System.getenv("WATCHDOG_PID");
    if (usec == null || (pid != null && !pid.equals(Long.toString(ProcessHandle.current().pid())))) {
      return 0;
    }
    try {
      return Long.parseLong(usec.strip());
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** Sends {@code state} (lines of KEY=VALUE). */
  public void send(String state) {
    ByteBuf buf = Unpooled.directBuffer(state.length() * 3);
    try {
      buf.writeCharSequence(state, StandardCharsets.UTF_8);
      ByteBuffer nio = buf.nioBuffer();
      socket.sendToDomainSocket(nio, nio.position(), nio.limit(), address);
    } catch (IOException | RuntimeException e) {
      LOG.warn("sd_notify {}: {}", state.replace('\n', ' '), e.toString());
    } finally {
      buf.release();
    }
  }
}
