package io.jcircus.cli;

import io.jcircus.protocol.Json;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * circus-httpd's HTTP API: each daemon's commands as JSON over HTTP, and its publishers as server-sent event
 * streams. Every request names its daemon with {@code ?daemon=NAME} (default: the first of the {@link Fleet}).
 * <ul>
 *   <li>{@code POST /api/COMMAND} with the command's properties as a JSON object (or no body): the daemon's reply,
 *       as it came, with 200 (an error reply is still 200: {@code "status": "error"} and Circus's errno);
 *       502 when the daemon does not answer, 503 when too many requests wait for it.</li>
 *   <li>{@code GET /api/events[?topic=PREFIX]}, {@code GET /api/stats[?topic=PREFIX|?digest=1]} and
 *       {@code GET /api/output?watcher=NAME[&pid=PID]}: {@code text/event-stream}, one {@code event: TOPIC} /
 *       {@code data: JSON} pair per message. A client that reads too slowly loses messages, not the daemon's time:
 *       what cannot be written at once is dropped and counted in a {@code : dropped N} comment.</li>
 *   <li>{@code GET /api/daemons}, {@code POST /api/daemons/add|remove}: the fleet and each daemon's health.</li>
 *   <li>{@code GET /api/session}, {@code /login}, {@code /logout}: who is logged in ({@link Access}).</li>
 *   <li>{@code GET /} and the page's assets ({@link Assets}).</li>
 * </ul>
 * Request bodies are bounded (the aggregator's limit answers 413); a daemon's commands run one at a time, as
 * Circus's own clients send them.
 */
@ChannelHandler.Sharable
final class HttpApi extends SimpleChannelInboundHandler<FullHttpRequest> {
  /** A command name, as Circus spells them. */
  private static final Pattern COMMAND = Pattern.compile("[a-z][a-z_]{0,31}");

  /** The daemons this console watches; every API request is for one of them ({@code ?daemon=NAME}, default the first). */
  private final Fleet fleet;
  /** Who may use the console; null: nobody logs in (loopback only). */
  private final Access access;
  /** Served over TLS: cookies are marked Secure. */
  private final boolean tls;
  /** Password checks, one at a time, at most 16 waiting. */
  private final ThreadPoolExecutor logins = single("circus-httpd-logins");
  /** Adding and removing daemons (a config file to write, a follower to stop): off the event loop. */
  private final ThreadPoolExecutor changes = single("circus-httpd-fleet");

  private static ThreadPoolExecutor single(String name) {
    return new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(16), r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
  }

  HttpApi(Fleet fleet, Access access, boolean tls) {
    this.fleet = fleet;
    this.access = access;
    this.tls = tls;
  }

  /** Who is asking: an account (and its browser session, if it came with a cookie), or nobody. */
  private record Caller(Access.Account account, Access.Session session) {}

  private Caller caller(FullHttpRequest req) {
    String auth = req.headers().get(HttpHeaderNames.AUTHORIZATION);
    if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      Access.Account a = access.bearer(auth.substring(7).strip());
      return a == null ? null : new Caller(a, null);
    }
    Access.Session s = access.session(cookie(req, Access.COOKIE));
    return s == null ? null : new Caller(s.account(), s);
  }

  private static String cookie(FullHttpRequest req, String name) {
    String header = req.headers().get(HttpHeaderNames.COOKIE);
    if (header == null) {
      return null;
    }
    for (io.netty.handler.codec.http.cookie.Cookie c
        : io.netty.handler.codec.http.cookie.ServerCookieDecoder.STRICT.decode(header)) {
      if (c.name().equals(name)) {
        return c.value();
      }
    }
    return null;
  }

  /**
   * Logins, and the gate in front of everything else: the login page and its stylesheet are all that is served
   * without an account; an action must carry its session's CSRF token (a bearer token needs none: it is not sent
   * by a browser on its own); a viewer may only run commands that change nothing. True if the request was answered.
   */
  private boolean gate(ChannelHandlerContext ctx, FullHttpRequest req, String path, Caller who) {
    boolean post = req.method().equals(HttpMethod.POST);
    if (path.equals("/login") && post) {
      io.netty.handler.codec.http.QueryStringDecoder form = new io.netty.handler.codec.http.QueryStringDecoder(
          req.content().toString(StandardCharsets.UTF_8), false);
      String user = first(form, "user");
      String password = first(form, "password");
      String from = ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress a
          ? a.getAddress().getHostAddress() : "?";
      boolean keepAlive = HttpUtil.isKeepAlive(req);
      try {
        logins.execute(() -> { // bcrypt takes tens of milliseconds: never on the event loop
          Access.Session s = user == null || password == null ? null : access.login(from, user, password);
          FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SEE_OTHER);
          r.headers().set(HttpHeaderNames.LOCATION, s == null ? "/login?failed" : "/");
          if (s != null) {
            r.headers().set(HttpHeaderNames.SET_COOKIE, Access.COOKIE + "=" + s.id()
                + "; Path=/; HttpOnly; SameSite=Strict" + (tls ? "; Secure" : ""));
          }
          respond(ctx, keepAlive, r);
        });
      } catch (RejectedExecutionException e) {
        send(ctx, req, HttpResponseStatus.SERVICE_UNAVAILABLE, error("too many logins at once"));
      }
      return true;
    }
    if (path.equals("/login") || path.equals("/style.css")) {
      return false; // the login page itself
    }
    if (who == null) {
      if (path.startsWith("/api/")) {
        send(ctx, req, HttpResponseStatus.UNAUTHORIZED, error("log in first (POST /login) or send a bearer token"));
      } else {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SEE_OTHER);
        r.headers().set(HttpHeaderNames.LOCATION, "/login");
        respond(ctx, HttpUtil.isKeepAlive(req), r); // closing a kept-alive connection unannounced resets the next request
      }
      return true;
    }
    if (post && who.session() != null) {
      String token = req.headers().get("X-CSRF-Token");
      if (token == null || !java.security.MessageDigest.isEqual(token.getBytes(StandardCharsets.US_ASCII),
          who.session().csrf().getBytes(StandardCharsets.US_ASCII))) {
        send(ctx, req, HttpResponseStatus.FORBIDDEN, error("missing or wrong X-CSRF-Token"));
        return true;
      }
    }
    if (path.equals("/logout") && post) {
      access.logout(who.session() == null ? null : who.session().id());
      FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT);
      r.headers().set(HttpHeaderNames.SET_COOKIE, Access.COOKIE + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
      respond(ctx, HttpUtil.isKeepAlive(req), r);
      return true;
    }
    if (post && path.startsWith("/api/") && !who.account().admin()
        && !Access.READ_ONLY.contains(path.substring("/api/".length()))) {
      send(ctx, req, HttpResponseStatus.FORBIDDEN, error("'" + who.account().name() + "' is a read-only account"));
      return true;
    }
    return false;
  }

  /**
   * A log view's start: what the ring holds (up to 1 000 lines) as one {@code ring} message, and the output
   * endpoint for the follower. The live chunks that arrive meanwhile carry sequence numbers, so the page drops
   * what the ring already gave it.
   */
  private void ring(ChannelHandlerContext ctx, Daemon d, String watcher, String pid) {
    Map<String, Object> props = new LinkedHashMap<>();
    props.put("name", watcher);
    props.put("lines", 1000);
    props.put("prefix", "output."); // the reply says whether our follower's subscription is live yet
    if (pid != null && pid.matches("\\d{1,9}")) {
      props.put("pid", Integer.valueOf(pid));
    }
    ringAttempt(ctx, d, props, 40);
  }

  /**
   * Reads the ring once the follower's subscription is live (circusd says so in the reply), so that no line falls
   * between the ring and the stream; retried every 50 ms, off the commands thread, for at most 2 s.
   */
  private void ringAttempt(ChannelHandlerContext ctx, Daemon d, Map<String, Object> props, int left) {
    if (!ctx.channel().isActive()) {
      return;
    }
    boolean queued = d.submit(() -> {
        String reply;
        try {
          reply = d.call("output", props);
        } catch (Exception e) {
          reply = error(String.valueOf(e.getMessage()));
        }
        boolean live = true;
        try {
          Object parsed = Json.parse(reply);
          if (parsed instanceof Map<?, ?> m && m.get("endpoint") != null) {
            live = Boolean.TRUE.equals(m.get("subscribed"));
          }
        } catch (IllegalArgumentException e) {
          // an unreadable reply goes to the page as it is
        }
        if (!live && left > 0) {
          ctx.executor().schedule(() -> ringAttempt(ctx, d, props, left - 1), 50, TimeUnit.MILLISECONDS);
          return;
        }
        ctx.writeAndFlush(Unpooled.copiedBuffer("event: ring\ndata: " + reply + "\n\n", StandardCharsets.UTF_8));
      });
    if (!queued) {
      ctx.writeAndFlush(Unpooled.copiedBuffer("event: ring\ndata: " + error("too many requests are waiting")
          + "\n\n", StandardCharsets.UTF_8));
    }
  }

  private static String first(io.netty.handler.codec.http.QueryStringDecoder q, String name) {
    List<String> v = q.parameters().get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
    if (!req.decoderResult().isSuccess()) {
      send(ctx, req, HttpResponseStatus.BAD_REQUEST, error("bad request: " + req.decoderResult().cause()));
      return;
    }
    QueryStringDecoder q = new QueryStringDecoder(req.uri());
    String path = q.path();
    Caller who = null;
    if (access != null) {
      who = caller(req);
      if (gate(ctx, req, path, who)) {
        return;
      }
    }
    if (path.equals("/api/session") && req.method().equals(HttpMethod.GET)) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("status", "ok");
      m.put("auth", access != null);
      m.put("user", who == null ? null : who.account().name());
      m.put("admin", who == null || who.account().admin());
      m.put("csrf", who == null || who.session() == null ? null : who.session().csrf());
      send(ctx, req, HttpResponseStatus.OK, Json.write(m));
      return;
    }
    if (req.method().equals(HttpMethod.GET) && Assets.serve(ctx, path, HttpUtil.isKeepAlive(req))) {
      return;
    }
    if (!path.startsWith("/api/")) {
      send(ctx, req, HttpResponseStatus.NOT_FOUND, error("not found: " + path));
      return;
    }
    if (path.equals("/api/daemons") || path.startsWith("/api/daemons/")) {
      fleet(ctx, req, path);
      return;
    }
    Daemon d = fleet.get(first(q, "daemon"));
    if (d == null) {
      send(ctx, req, HttpResponseStatus.NOT_FOUND, error("no daemon named '" + first(q, "daemon")
          + "' (GET /api/daemons lists them)"));
      return;
    }
    if (req.method().equals(HttpMethod.GET)
        && (path.equals("/api/events") || path.equals("/api/stats") || path.equals("/api/output"))) {
      stream(ctx, req, q, path, d); // POSTed, the last two are the daemon's stats and output commands
      return;
    }
    String command = path.substring("/api/".length());
    if (!COMMAND.matcher(command).matches()) {
      send(ctx, req, HttpResponseStatus.NOT_FOUND, error("no such command: '" + command + "'"));
      return;
    }
    Map<String, Object> props = postedObject(ctx, req, "commands are POSTed: POST /api/" + command);
    if (props == null) {
      return;
    }
    boolean keepAlive = HttpUtil.isKeepAlive(req);
    boolean queued = d.submit(() -> {
      String reply;
      HttpResponseStatus status = HttpResponseStatus.OK;
      try {
        reply = d.call(command, props);
      } catch (Exception e) {
        status = HttpResponseStatus.BAD_GATEWAY;
        reply = error(String.valueOf(e.getMessage()));
      }
      send(ctx, keepAlive, status, reply);
    });
    if (!queued) {
      send(ctx, req, HttpResponseStatus.SERVICE_UNAVAILABLE, error("too many requests are waiting for the daemon"));
    }
  }

  /** A POST's JSON object body; null when the request was answered instead (405 not a POST, 400 not an object). */
  private static Map<String, Object> postedObject(ChannelHandlerContext ctx, FullHttpRequest req, String usage) {
    if (!req.method().equals(HttpMethod.POST)) {
      send(ctx, req, HttpResponseStatus.METHOD_NOT_ALLOWED, error(usage));
      return null;
    }
    try {
      return body(req);
    } catch (IllegalArgumentException e) {
      send(ctx, req, HttpResponseStatus.BAD_REQUEST, error("bad JSON body: " + e.getMessage()));
      return null;
    }
  }

  /** A request's JSON object body (empty: no properties). */
  private static Map<String, Object> body(FullHttpRequest req) {
    String body = req.content().toString(StandardCharsets.UTF_8).strip();
    Object parsed = body.isEmpty() ? new LinkedHashMap<>() : Json.parse(body);
    if (!(parsed instanceof Map<?, ?>)) {
      throw new IllegalArgumentException("the body must be a JSON object of the command's properties");
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> m = (Map<String, Object>) parsed;
    return m;
  }

  /**
   * {@code GET /api/events}, {@code /api/stats} ({@code ?digest=1}: one message a burst, the page's form) and
   * {@code /api/output?watcher=NAME[&pid=PID]}: a server-sent event stream of the daemon's publisher.
   */
  private void stream(ChannelHandlerContext ctx, FullHttpRequest req, QueryStringDecoder q, String path, Daemon d) {
    String prefix = first(q, "topic") == null ? "" : first(q, "topic");
    String watcher = first(q, "watcher");
    Map<Channel, Daemon.Subscriber> to;
    if (path.equals("/api/output")) {
      if (watcher == null || !watcher.matches("[^.\\s]+")) {
        send(ctx, req, HttpResponseStatus.BAD_REQUEST, error("GET /api/output?watcher=NAME[&pid=PID]"));
        return;
      }
      String pid = first(q, "pid");
      prefix = io.jcircus.protocol.Topics.outputPrefix(watcher.toLowerCase(java.util.Locale.ROOT),
          pid == null || !pid.matches("\\d{1,9}") ? null : Integer.valueOf(pid));
      to = d.logs;
    } else if (path.equals("/api/events")) {
      to = d.events;
    } else {
      to = "1".equals(first(q, "digest")) ? d.digests : d.stats;
    }
    HttpResponse r = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    ctx.write(r);
    ctx.writeAndFlush(Unpooled.copiedBuffer(": connected\n\n", StandardCharsets.UTF_8));
    to.put(ctx.channel(), new Daemon.Subscriber(prefix));
    ctx.channel().closeFuture().addListener(f -> to.remove(ctx.channel()));
    if (to == d.logs) {
      ring(ctx, d, watcher, first(q, "pid"));
    }
  }

  /**
   * The fleet: {@code GET /api/daemons} lists the daemons with their health; {@code POST /api/daemons/add}
   * ({@code {"name", "endpoint", "curve_server_key"}}) and {@code POST /api/daemons/remove} ({@code {"name"}})
   * change it (an admin's action, like a command), saved to the console's config file when it has one.
   */
  private void fleet(ChannelHandlerContext ctx, FullHttpRequest req, String path) {
    if (path.equals("/api/daemons")) {
      if (!req.method().equals(HttpMethod.GET)) {
        send(ctx, req, HttpResponseStatus.METHOD_NOT_ALLOWED, error("GET /api/daemons"));
        return;
      }
      send(ctx, req, HttpResponseStatus.OK, Json.write(fleet.describe()));
      return;
    }
    String action = path.substring("/api/daemons/".length());
    if (!action.equals("add") && !action.equals("remove")) {
      send(ctx, req, HttpResponseStatus.NOT_FOUND, error("not found: " + path));
      return;
    }
    Map<String, Object> props = postedObject(ctx, req, "POST " + path);
    if (props == null) {
      return;
    }
    String name = props.get("name") instanceof String n ? n : null;
    String endpoint = props.get("endpoint") instanceof String e ? e.strip() : null;
    String key = props.get("curve_server_key") instanceof String k ? k : null;
    boolean keepAlive = HttpUtil.isKeepAlive(req);
    try {
      changes.execute(() -> {
        String why = action.equals("add") ? fleet.add(name, endpoint, key) : fleet.remove(name);
        if (why == null) {
          send(ctx, keepAlive, HttpResponseStatus.OK, Json.write(fleet.describe()));
        } else {
          send(ctx, keepAlive, HttpResponseStatus.BAD_REQUEST, error(why));
        }
      });
    } catch (RejectedExecutionException e) {
      send(ctx, req, HttpResponseStatus.SERVICE_UNAVAILABLE, error("too many changes at once"));
    }
  }


  private static String error(String reason) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("status", "error");
    m.put("reason", reason);
    return Json.write(m);
  }

  private static void send(ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status, String json) {
    send(ctx, HttpUtil.isKeepAlive(req), status, json);
  }

  private static void send(ChannelHandlerContext ctx, boolean keepAlive, HttpResponseStatus status, String json) {
    ByteBuf body = Unpooled.copiedBuffer(json, StandardCharsets.UTF_8);
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json")
        .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    respond(ctx, keepAlive, r);
  }

  /** Sends a complete response with its length, keeping the connection open only if the client asked. */
  static void respond(ChannelHandlerContext ctx, boolean keepAlive, FullHttpResponse r) {
    r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
    if (keepAlive) {
      r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      ctx.writeAndFlush(r);
    } else {
      r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close(); // a broken client connection: nothing of the daemon's is at stake
  }
}
