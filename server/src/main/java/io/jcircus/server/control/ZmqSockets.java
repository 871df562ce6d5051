package io.jcircus.server.control;

import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.config.Limits;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;

/** What every ZeroMQ socket circusd binds gets, and how a ZeroMQ error is told to a Linux user. */
final class ZmqSockets {
  private ZmqSockets() {}

  /**
   * Bounded input on a listening socket: a peer that sends or announces a message over {@code max_message_size}
   * is disconnected before anything is allocated for it, and one that does not finish its greeting and
   * handshake within {@link Limits#HANDSHAKE_MS} is dropped. Linger 0: closing never waits for a peer.
   */
  static void bounded(ZMQ.Socket s, CircusConfig cfg) {
    s.setLinger(0);
    s.setMaxMsgSize(cfg.maxMessageSize);
    s.setHandshakeIvl(Limits.HANDSHAKE_MS);
  }

  /**
   * A ZeroMQ error as Linux names it: JeroMQ numbers its errors as BSD does ({@code EADDRINUSE} is 48 there,
   * 98 on Linux), so the number is replaced by the constant's name.
   */
  static String describe(ZMQException e) {
    int code = e.getErrorCode();
    String name = null;
    for (Field f : zmq.ZError.class.getFields()) {
      try {
        if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class && f.getName().startsWith("E")
            && f.getInt(null) == code) {
          name = f.getName().equals("EACCESS") ? "EACCES" : f.getName();
          break;
        }
      } catch (IllegalAccessException ignored) {
        // public constants: not reached
      }
    }
    String text = zmq.ZError.toString(code);
    return name == null ? text : name + " (" + text.toLowerCase(java.util.Locale.ROOT) + ")";
  }
}
