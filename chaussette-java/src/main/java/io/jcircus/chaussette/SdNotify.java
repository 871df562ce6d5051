package io.jcircus.chaussette;

import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The worker side of sd_notify: one datagram to {@code $NOTIFY_SOCKET} (a path, or {@code @name} for the
 * abstract namespace), as systemd and circusd read it. Without {@code NOTIFY_SOCKET} it does nothing.
 */
final class SdNotify {
  private SdNotify() { }

  /** Sends {@code state} (e.g. {@code READY=1}); returns false when there is no one to tell. */
  static boolean send(String state) throws IOException {
    String path = System.getenv("NOTIFY_SOCKET");
    if (path == null || path.isEmpty()) {
      return false;
    }
    byte[] address = path.getBytes(StandardCharsets.UTF_8);
    if (address[0] == '@') {
      address[0] = 0;
    }
    byte[] msg = (state + "\n").getBytes(StandardCharsets.UTF_8);
    ByteBuffer buf = ByteBuffer.allocateDirect(msg.length);
    buf.put(msg).flip();
    Socket s = Socket.newSocketDomainDgram();
    try {
      s.sendToDomainSocket(buf, 0, msg.length, address);
    } finally {
      s.close();
    }
    return true;
  }
}
