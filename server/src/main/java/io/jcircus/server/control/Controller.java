package io.jcircus.server.control;

import io.jcircus.protocol.Json;

import io.jcircus.server.arbiter.Arbiter;
import io.jcircus.server.command.CommandError;
import io.jcircus.server.command.Registry;
import io.jcircus.server.command.Reply;
import io.jcircus.server.config.CircusConfig;
import io.jcircus.server.config.CurveKeys;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;
import org.zeromq.ZMQException;
import org.zeromq.ZMsg;

/**
 * Circus's control channel on JeroMQ: a ROUTER on {@code endpoint} (one JSON frame in, one out, id echoed)
 * and a PUB on {@code pubsub_endpoint} for events ({@code [topic, json]}). Every ZeroMQ socket belongs to one
 * thread: the controller thread owns ROUTER, PUB and an inproc PULL; the arbiter loop owns one inproc PUSH
 * through which it hands replies and events over. The controller thread sleeps in poll with no timeout.
 */
public final class Controller implements io.jcircus.server.lifecycle.LifeCycle {
  private static final Logger LOG = LoggerFactory.getLogger(Controller.class);
  private static final String INPROC = "inproc://jcircus-outbound";
  private static final String ZAP_ENDPOINT = "inproc://zeromq.zap.01";

  private final CircusConfig cfg;
  private final Arbiter arbiter;
  private final Registry commands;
  private final ZContext ctx = new ZContext(1);
  private Thread thread;
  /** Owned by the arbiter loop. */
  private ZMQ.Socket push;
  private volatile boolean closing;
  private LivePublishers live;

  private final Endpoints endpoints;

  public Controller(CircusConfig cfg, Arbiter arbiter) {
    this.endpoints = new Endpoints(cfg, cfg.curveSecretKey != null);
    this.cfg = cfg;
    this.arbiter = arbiter;
    this.commands = new Registry(arbiter);
  }
  /** The command layer this controller serves, for in-process callers (plugins). */
  public Registry registry() {
    return commands;
  }


  @Override
  public String name() {
    return "control channel";
  }

  @Override
  public java.time.Duration stopTimeout() {
    return java.time.Duration.ofSeconds(5);
  }

  /**
   * Binds every endpoint (control, events, stats, output, their ipc relays); throws, having released what it
   * took, if one cannot be bound.
   */
  @Override
  public void start() throws java.io.IOException {
    CountDownLatch ready = new CountDownLatch(1);
    AtomicReference<Exception> failure = new AtomicReference<>();
    thread = new Thread(() -> run(ready, failure), "jcircus-zmq");
    thread.setDaemon(true);
    thread.start();
    try {
      ready.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (failure.get() != null) {
      try {
        thread.join(2000); // it has returned: nothing of the context is in use any more
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      endpoints.close();
      ctx.close();
      throw new java.io.IOException(failure.get().getMessage(), failure.get());
    }
    if (cfg.curveSecretKey != null) {
      LOG.info("CURVE on {} and {}: clients must hold a key listed in {}", cfg.endpoint, cfg.pubsubEndpoint,
          cfg.curveAuthorizedKeys);
    } else if (io.jcircus.server.internal.posix.Posix.geteuid() == 0 && cfg.endpoint.startsWith("ipc://")) {
      LOG.info("control endpoint {}: any local user who can write to the socket file can run commands as root;"
          + " its owner and mode are the access control (endpoint_owner, umask)", cfg.endpoint);
    } else if (io.jcircus.server.internal.posix.Posix.geteuid() == 0) {
      LOG.warn("circusd runs as root and its control endpoint {} has no authentication: any local user who can"
          + " reach it can run commands as root", cfg.endpoint);
    }
    arbiter.addListener((watcher, event, payload) -> publish(io.jcircus.protocol.Topics.event(watcher, event), Json.write(payload)));
    LOG.info("controller on {}, events on {}", cfg.endpoint, cfg.pubsubEndpoint);
    byte[] secret = cfg.curveSecretKey == null ? null : ZMQ.Curve.z85Decode(CurveKeys.load(cfg.curveSecretKey).secretKey());
    live = new LivePublishers(cfg, arbiter, ctx, secret, endpoints);
    try {
      live.start();
    } catch (java.io.IOException e) {
      live.stop();
      stop();
      throw e;
    }
  }

  private void run(CountDownLatch ready, AtomicReference<Exception> failure) {
    ZMQ.Socket router;
    ZMQ.Socket pub;
    ZMQ.Socket pull;
    ZMQ.Socket zap = null;
    try {
      pull = ctx.createSocket(SocketType.PULL);
      pull.bind(INPROC);
      byte[] secret = null;
      if (cfg.curveSecretKey != null || endpoints.anyIpc()) {
        // The ZAP handler must be bound before any CURVE (or ipc relay's PLAIN) socket exists; it lives on
        // this thread too.
        zap = ctx.createSocket(SocketType.REP);
        zap.bind(ZAP_ENDPOINT);
      }
      if (cfg.curveSecretKey != null) {
        secret = ZMQ.Curve.z85Decode(CurveKeys.load(cfg.curveSecretKey).secretKey());
      }
      router = ctx.createSocket(SocketType.ROUTER);
      ZmqSockets.bounded(router, cfg);
      curve(router, secret);
      endpoints.bind(router, cfg.endpoint, "endpoint");
      pub = ctx.createSocket(SocketType.PUB);
      ZmqSockets.bounded(pub, cfg);
      curve(pub, secret);
      endpoints.bind(pub, cfg.pubsubEndpoint, "pubsub_endpoint");
    } catch (ZMQException | IllegalArgumentException | java.io.IOException e) {
      failure.set(e instanceof java.io.IOException ? e : new Exception("cannot bind the control endpoints ("
          + cfg.endpoint + ", " + cfg.pubsubEndpoint + "): " + e.getMessage(), e));
      ready.countDown();
      return;
    }
    ready.countDown();
    ZMQ.Poller poller = ctx.createPoller(3);
    poller.register(router, ZMQ.Poller.POLLIN);
    poller.register(pull, ZMQ.Poller.POLLIN);
    if (zap != null) {
      poller.register(zap, ZMQ.Poller.POLLIN);
    }
    try {
      while (!Thread.currentThread().isInterrupted()) {
        poller.poll(-1);
        if (zap != null && poller.pollin(2)) {
          authenticate(zap);
        }
        if (poller.pollin(1)) {
          while (true) {
            ZMsg m = ZMsg.recvMsg(pull, ZMQ.DONTWAIT);
            if (m == null) {
              break;
            }
            String kind = m.popString();
            if (kind.equals("Q")) {
              return;
            } else if (kind.equals("P")) {
              pub.sendMore(m.pop().getData());
              pub.send(m.pop().getData(), ZMQ.DONTWAIT);
            } else {
              byte[] id = m.pop().getData();
              boolean delim = m.popString().equals("1");
              router.sendMore(id);
              if (delim) {
                router.sendMore(new byte[0]);
              }
              boolean sent = router.send(m.pop().getData(), ZMQ.DONTWAIT);
              LOG.debug("reply handed to ROUTER: {}", sent);
            }
          }
        }
        if (poller.pollin(0)) {
          while (true) {
            ZMsg m = ZMsg.recvMsg(router, ZMQ.DONTWAIT);
            if (m == null) {
              break;
            }
            try {
              onRequest(m);
            } catch (RuntimeException | StackOverflowError e) {
              // no request may end the control thread: drop it, say so, serve the next
              LOG.warn("dropping a request that could not be read: {}", e.toString());
            }
          }
        }
      }
    } catch (ZMQException e) {
      if (!closing) {
        LOG.error("controller stopped: {}", e.toString());
      }
    } finally {
      poller.close();
    }
  }

  private static void curve(ZMQ.Socket s, byte[] secret) {
    if (secret != null) {
      s.setZAPDomain("jcircus");
      s.setCurveServer(true);
      s.setCurveSecretKey(secret);
    }
  }

  /**
   * One ZAP request (RFC 27): version, request id, domain, address, routing id, mechanism, credentials. The
   * directory of authorised keys is read on every handshake, so adding or removing a key file takes effect for
   * the next connection without a restart.
   */
  private void authenticate(ZMQ.Socket zap) {
    ZMsg req = ZMsg.recvMsg(zap, ZMQ.DONTWAIT);
    if (req == null) {
      return;
    }
    String version = req.popString();
    String requestId = req.popString();
    req.popString(); // domain
    String address = req.popString();
    req.pop(); // routing id
    String mechanism = req.popString();
    boolean allowed = false;
    String key = null;
    String refusal = "key not authorised";
    if ("PLAIN".equals(mechanism) && req.size() >= 2) {
      // an ipc relay's login (see IpcRelay): nothing else may log in with PLAIN
      allowed = endpoints.authorizesPlain(req.pop().getData(), req.pop().getData());
      key = IpcRelay.USER;
      refusal = "not an ipc relay of this circusd";
      if (!allowed) {
        LOG.warn("refused a PLAIN login from {}: only circusd's own ipc relays may use the loopback side", address);
      }
    } else {
      if ("CURVE".equals(mechanism) && req.peekFirst() != null) {
        key = ZMQ.Curve.z85Encode(req.pop().getData());
        allowed = CurveKeys.authorized(cfg.curveAuthorizedKeys).contains(key);
      }
      if (!allowed) {
        LOG.warn("refused a {} client from {} (key {} is not in {})", mechanism, address, key, cfg.curveAuthorizedKeys);
      }
    }
    ZMsg rep = new ZMsg();
    rep.add(version);
    rep.add(requestId);
    rep.add(allowed ? "200" : "400");
    rep.add(allowed ? "OK" : refusal);
    rep.add(allowed ? key : "");
    rep.add(new byte[0]);
    rep.send(zap);
  }

  /** Frames from a DEALER: [identity, json]; from a REQ: [identity, "", json]. Anything else is dropped. */
  private void onRequest(ZMsg m) {
    byte[] identity = m.pop().getData();
    boolean delim = false;
    if (m.size() == 2 && m.peekFirst().size() == 0) {
      m.pop();
      delim = true;
    }
    if (m.size() != 1) {
      LOG.warn("dropping a request with {} frames (expected one JSON frame)", m.size() + 1);
      return;
    }
    String raw = new String(m.pop().getData(), StandardCharsets.UTF_8);
    if (LOG.isDebugEnabled()) {
      LOG.debug("request {}", raw.length() > 300 ? raw.substring(0, 300) + "…" : raw);
    }
    boolean d = delim;
    Request req;
    try {
      req = Request.parse(raw);
    } catch (CommandError e) {
      sendReply(identity, d, error(e, null));
      return;
    }
    arbiter.execute(() -> commands.dispatch(req.command, req.props, new Reply() {
      @Override
      public void ok(Map<String, Object> fields) {
        if (!req.cast) {
          sendFromArbiter(identity, d, Controller.ok(fields, req.id));
        }
      }

      @Override
      public void error(CommandError e) {
        if (!req.cast) { // a cast gets no reply, as in Circus
          sendFromArbiter(identity, d, Controller.error(e, req.id));
        }
      }
    }));
  }

  /** A parsed request. */
  record Request(Object id, String command, Map<String, Object> props, boolean cast) {
    @SuppressWarnings("unchecked")
    static Request parse(String raw) throws CommandError {
      if (raw.isBlank()) {
        throw new CommandError(CommandError.MESSAGE_ERROR, "empty command");
      }
      Object o;
      try {
        o = Json.parse(raw.strip());
      } catch (IllegalArgumentException e) {
        throw new CommandError(CommandError.INVALID_JSON, "json invalid");
      }
      if (!(o instanceof Map)) {
        throw new CommandError(CommandError.MESSAGE_ERROR, "message invalid: expected a JSON object");
      }
      Map<String, Object> msg = (Map<String, Object>) o;
      Object id = msg.get("id");
      Object cmd = msg.get("command");
      if (!(cmd instanceof String c) || c.isBlank()) {
        throw new IdError(id, "message invalid 'command' is missing");
      }
      Object props = msg.getOrDefault("properties", Map.of());
      if (props == null) {
        props = Map.of();
      }
      if (!(props instanceof Map)) {
        throw new IdError(id, "message invalid 'properties' should be an object");
      }
      return new Request(id, c, (Map<String, Object>) props, "cast".equals(msg.get("msg_type")));
    }
  }

  /** A message error that knows the request's id. */
  static final class IdError extends CommandError {
    final Object id;

    IdError(Object id, String reason) {
      super(MESSAGE_ERROR, reason);
      this.id = id;
    }
  }

  static Map<String, Object> ok(Map<String, Object> fields, Object id) {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("status", "ok");
    r.put("time", System.currentTimeMillis() / 1000.0);
    r.putAll(fields); // a field named "status" overrides "ok", as in Circus (status <name>)
    r.put("id", id);
    return r;
  }

  static Map<String, Object> error(CommandError e, Object id) {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("status", "error");
    r.put("reason", e.getMessage());
    r.put("tb", null);
    r.put("time", System.currentTimeMillis() / 1000.0);
    r.put("errno", e.errno());
    r.put("id", e instanceof IdError ie ? ie.id : id);
    return r;
  }

  /** On the controller thread (parse errors). */
  private void sendReply(byte[] identity, boolean delim, Map<String, Object> reply) {
    // Parse errors are answered from the arbiter loop too, so all replies share one path and order.
    arbiter.execute(() -> sendFromArbiter(identity, delim, reply));
  }

  private ZMQ.Socket push() {
    if (push == null) {
      push = ctx.createSocket(SocketType.PUSH);
      push.setLinger(1000); // inproc: what the arbiter handed over is flushed before the context closes
      push.connect(INPROC);
    }
    return push;
  }

  /** Arbiter loop only. */
  private void sendFromArbiter(byte[] identity, boolean delim, Map<String, Object> reply) {
    LOG.debug("reply {}", reply.get("id"));
    ZMQ.Socket s = push();
    s.sendMore("R");
    s.sendMore(identity);
    s.sendMore(delim ? "1" : "0");
    s.send(Json.write(reply).getBytes(StandardCharsets.UTF_8), 0);
  }

  /** Arbiter loop only (event listeners run there). */
  private void publish(String topic, String json) {
    if (closing) {
      return;
    }
    ZMQ.Socket s = push();
    s.sendMore("P");
    s.sendMore(topic);
    s.send(json.getBytes(StandardCharsets.UTF_8), 0);
  }

  /** Flushes what the arbiter handed over, then closes everything. Call after the arbiter loop has ended. */
  @Override
  public void stop() {
    if (live != null) {
      live.stop();
    }
    closing = true;
    try (ZMQ.Socket q = ctx.createSocket(SocketType.PUSH)) {
      q.connect(INPROC);
      q.send("Q");
      try {
        thread.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    endpoints.close(); // the ipc relays first: their clients see the endpoint go, and the socket files are removed
    ctx.close();
  }
}
