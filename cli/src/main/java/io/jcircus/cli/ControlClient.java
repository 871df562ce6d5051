package io.jcircus.cli;

import io.jcircus.protocol.Json;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;

/**
 * A client of circusd's control channel as Circus's own clients behave: a DEALER with a 32-hex-digit identity,
 * one JSON frame per request carrying a fresh uuid {@code id}, and replies whose id differs skipped (a reply to
 * an earlier, timed-out request can still arrive on a socket the shell reuses).
 *
 * <p>Before the first request the client waits for the ZMTP handshake, watched through an event hook, so
 * "nothing listens there" and "the server refused our CURVE key" are told apart from a slow command; the request
 * has not left the process before that, so trying again on a fresh socket cannot run a command twice. The hook
 * runs on JeroMQ's I/O thread: JeroMQ 0.6.0's socket monitor (a PAIR written from that thread) deadlocks it now
 * and then, which stalled every connection of the process for seconds.
 */
final class ControlClient implements AutoCloseable {
  /** A reply did not arrive within the timeout (exit code 1 in circusctl). */
  static final class TimeoutException extends Exception {
    TimeoutException(String message) {
      super(message);
    }
  }

  /** ZMTP version negotiated: JeroMQ 0.6.0 reports no later "succeeded" event, CURVE failures come after it. */
  private static final int HANDSHAKE = zmq.ZMQ.ZMQ_EVENT_HANDSHAKE_PROTOCOL;
  private static final int AUTH_FAILED = zmq.ZMQ.ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  private static final int FAILED = zmq.ZMQ.ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
      | zmq.ZMQ.ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
  private static final int DISCONNECTED = zmq.ZMQ.ZMQ_EVENT_DISCONNECTED;
  private static final long ATTEMPT_MS = 700;

  private final ZContext ctx;
  private final boolean ownContext;
  private final String endpoint;
  private final long timeoutMs;
  private final CurveOptions.Keys curve;
  private ZMQ.Socket sock;
  /** Handshake events of {@code sock}, or-ed together by the I/O thread: a refused CURVE key arrives after HANDSHAKE. */
  private Events events;

  /** What the I/O thread reported for one socket. */
  static final class Events implements org.zeromq.ZEvent.ZEventConsummer {
    private int seen;

    @Override
    public void consume(org.zeromq.ZEvent e) {
      // not called: the raw event below is consumed first
    }

    @Override
    public synchronized void consume(zmq.ZMQ.Event e) {
      seen |= e.event;
      notifyAll();
    }

    synchronized int await(int mask, long deadlineNanos) throws InterruptedException {
      while ((seen & mask) == 0) {
        long ms = (deadlineNanos - System.nanoTime()) / 1_000_000L;
        if (ms <= 0) {
          break;
        }
        wait(ms);
      }
      return seen;
    }

    synchronized int seen() {
      return seen;
    }
  }

  ControlClient(String endpoint, long timeoutMs, CurveOptions.Keys curve) {
    this(context(), true, endpoint, timeoutMs, curve);
  }

  /**
   * A context for a short-lived client. JeroMQ's I/O thread can still be signalling when the context closes at
   * exit and prints a ClosedChannelException; that is noise for a CLI, not an error of the command.
   */
  /**
   * The largest message a client takes from a daemon (a peer that announces more is dropped, so nothing that
   * answers on the endpoint can make a client allocate without bound): generous, a stats reply for thousands of
   * processes is a few MiB.
   */
  static final long MAX_MESSAGE = 64L << 20;

  static ZContext context() {
    ZContext ctx = new ZContext(1);
    ctx.setUncaughtExceptionHandler((t, e) -> { });
    ctx.setNotificationExceptionHandler((t, e) -> { });
    return ctx;
  }

  ControlClient(ZContext ctx, boolean ownContext, String endpoint, long timeoutMs, CurveOptions.Keys curve) {
    this.ctx = ctx;
    this.ownContext = ownContext;
    this.endpoint = endpoint;
    this.timeoutMs = timeoutMs;
    this.curve = curve;
  }

  /**
   * 32 random hex digits, the shape of the uuid4 hex Circus's clients use for identities and ids. Not
   * {@code UUID.randomUUID()}: initialising SecureRandom costs a one-shot circusctl tens of milliseconds.
   */
  static String hex32() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    return String.format("%016x%016x", r.nextLong(), r.nextLong());
  }

  String endpoint() {
    return endpoint;
  }

  /** Sends {@code command} with {@code props} and waits for its reply. */
  Map<String, Object> call(String command, Map<String, Object> props) throws TimeoutException {
    String id = hex32();
    Map<String, Object> req = new LinkedHashMap<>();
    req.put("id", id);
    req.put("command", command);
    req.put("properties", props);
    long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
    ZMQ.Socket s = connected(deadline);
    s.send(Json.write(req).getBytes(StandardCharsets.UTF_8), 0);
    while (true) {
      long left = (deadline - System.nanoTime()) / 1_000_000L;
      if (left <= 0) {
        // The socket may still get the late reply: drop it so the next call starts clean.
        closeSocket();
        throw new TimeoutException("Timed out waiting for a reply to '" + command + "' from " + endpoint
            + " after " + timeoutMs / 1000.0 + " s");
      }
      if ((events.seen() & AUTH_FAILED) != 0) {
        closeSocket();
        throw new TimeoutException(refused(endpoint));
      }
      // short slices: a refused CURVE key is reported a moment after the version handshake
      s.setReceiveTimeOut((int) Math.min(left, 100));
      byte[] frame = s.recv(0);
      if (frame == null) {
        continue;
      }
      Object reply;
      try {
        reply = Json.parse(new String(frame, StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        continue;
      }
      if (reply instanceof Map<?, ?> m && id.equals(m.get("id"))) {
        @SuppressWarnings("unchecked")
        Map<String, Object> r = (Map<String, Object>) m;
        return r;
      }
    }
  }

  private static String refused(String endpoint) {
    return "circusd at " + endpoint + " refused this client's CURVE key (its public key is not in the daemon's"
        + " curve_authorized_keys directory)";
  }

  /** A socket whose handshake with circusd has completed, or a TimeoutException naming why not. */
  private ZMQ.Socket connected(long deadline) throws TimeoutException {
    if (sock == null) {
      Connection c = open(ctx, SocketType.DEALER, endpoint, curve, deadline, timeoutMs, s -> {
        s.setIdentity(hex32().getBytes(StandardCharsets.US_ASCII));
        s.setLinger(0);
      });
      sock = c.socket;
      events = c.events;
    }
    return sock;
  }

  /** A socket whose ZMTP handshake completed, and the events its I/O thread reports from then on. */
  record Connection(ZMQ.Socket socket, Events events) { }

  /**
   * Connects a {@code type} socket to {@code endpoint} and waits for the ZMTP handshake, trying a fresh socket
   * every {@link #ATTEMPT_MS} until {@code deadline}: a JeroMQ 0.6.0 client now and then never completes a
   * connection (seen under load, for DEALER and SUB alike), and nothing has been sent on it yet.
   */
  static Connection open(ZContext ctx, SocketType type, String endpoint, CurveOptions.Keys curve, long deadline,
      long timeoutMs, java.util.function.Consumer<ZMQ.Socket> configure) throws TimeoutException {
    String why = "nothing answered";
    while (System.nanoTime() < deadline) {
      Connection c = connect(ctx, type, endpoint, curve, configure);
      ZMQ.Socket s = c.socket();
      Events ev = c.events();
      long attemptEnd = Math.min(deadline, System.nanoTime() + ATTEMPT_MS * 1_000_000L);
      int outcome;
      try {
        outcome = ev.await(HANDSHAKE | AUTH_FAILED, attemptEnd);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        ctx.destroySocket(s);
        throw new TimeoutException("interrupted");
      }
      if ((outcome & HANDSHAKE) != 0) {
        return new Connection(s, ev);
      }
      ctx.destroySocket(s);
      if ((outcome & AUTH_FAILED) != 0) {
        throw new TimeoutException(refused(endpoint));
      }
      if ((outcome & (FAILED | DISCONNECTED)) != 0) {
        why = curve == null
            ? "the server ended every handshake: does it require CURVE? pass --curve-server-key"
            : "the server ended every handshake: is it a CURVE endpoint with this server key?";
      }
    }
    throw new TimeoutException("Timed out: no circusd answered on " + endpoint + " within "
        + timeoutMs / 1000.0 + " s (" + why + ")");
  }

  /**
   * A {@code type} socket connecting to {@code endpoint}, without waiting: its events say when the handshake is
   * done (a follower that watches several sockets checks them itself, see {@link Daemon}).
   */
  static Connection connect(ZContext ctx, SocketType type, String endpoint, CurveOptions.Keys curve,
      java.util.function.Consumer<ZMQ.Socket> configure) {
    ZMQ.Socket s = ctx.createSocket(type);
    s.setMaxMsgSize(MAX_MESSAGE);
    configure.accept(s);
    if (curve != null) {
      s.setCurveServerKey(ZMQ.Curve.z85Decode(curve.serverPublic()));
      s.setCurvePublicKey(ZMQ.Curve.z85Decode(curve.clientPublic()));
      s.setCurveSecretKey(ZMQ.Curve.z85Decode(curve.clientSecret()));
    }
    Events ev = new Events();
    s.setEventHook(ev, HANDSHAKE | AUTH_FAILED | FAILED | DISCONNECTED);
    try {
      s.connect(IpcShim.connectable(endpoint));
    } catch (RuntimeException e) {
      ctx.destroySocket(s);
      throw new IllegalArgumentException("invalid endpoint '" + endpoint + "': " + e.getMessage(), e);
    }
    return new Connection(s, ev);
  }

  /** Whether {@code ev} reports a completed handshake; a refused CURVE key shows as {@link #refused}. */
  static boolean handshaken(Events ev) {
    return (ev.seen() & HANDSHAKE) != 0 && (ev.seen() & AUTH_FAILED) == 0;
  }

  private void closeSocket() {
    if (sock != null) {
      ctx.destroySocket(sock);
      sock = null;
      events = null;
    }
  }

  @Override
  public void close() {
    closeSocket();
    if (ownContext) {
      ctx.close();
    }
  }
}
