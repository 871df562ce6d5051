package io.jcircus.cli;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The console page's files, served from the jar: a fixed table of paths (nothing else of the class path can be
 * reached), read once. uPlot comes from its WebJar.
 */
final class Assets {
  private Assets() {}

  private record Asset(String type, byte[] body) {}

  private static final String UPLOT = "/META-INF/resources/webjars/uplot/1.6.30/dist/";

  private static final Map<String, Asset> FILES = Map.of(
      "/", load("/httpd/index.html", "text/html; charset=utf-8"),
      "/login", load("/httpd/login.html", "text/html; charset=utf-8"),
      "/app.js", load("/httpd/app.js", "text/javascript; charset=utf-8"),
      "/style.css", load("/httpd/style.css", "text/css; charset=utf-8"),
      "/uplot.js", load(UPLOT + "uPlot.iife.min.js", "text/javascript; charset=utf-8"),
      "/uplot.css", load(UPLOT + "uPlot.min.css", "text/css; charset=utf-8"));

  private static Asset load(String resource, String type) {
    try (InputStream in = Assets.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("missing from the jar: " + resource);
      }
      return new Asset(type, in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Answers {@code path} if it is one of the page's files; false if it is not. */
  static boolean serve(ChannelHandlerContext ctx, String path, boolean keepAlive) {
    Asset a = FILES.get(path.equals("/index.html") ? "/" : path);
    if (a == null) {
      return false;
    }
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
        Unpooled.wrappedBuffer(a.body()));
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, a.type())
        .set(HttpHeaderNames.CACHE_CONTROL, "no-cache")
        .set("X-Content-Type-Options", "nosniff")
        .set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'");
    HttpApi.respond(ctx, keepAlive, r);
    return true;
  }
}
