package io.jcircus.chaussette;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/** What both request paths (the Netty pipeline and {@link FirstRequest}) do around the app's call. */
final class Responses {
  private Responses() {}

  /** The app's response, or a 500 if it threw. */
  static FullHttpResponse call(HttpApp app, FullHttpRequest req) {
    try {
      FullHttpResponse resp = app.handle(req);
      if (resp != null) {
        return resp;
      }
    } catch (Exception e) {
      // the app's failure is its client's 500, not the worker's end
    }
    return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.INTERNAL_SERVER_ERROR,
        Unpooled.copiedBuffer("internal error\n", StandardCharsets.US_ASCII));
  }

  /**
   * Whether the request is one to refuse with {@link #badRequest()} and a close rather than hand to the app: the
   * codec could not decode it, or it is an HTTP/1.1 request without exactly one Host header (RFC 9112 section
   * 3.2: a server MUST answer such a request 400).
   */
  static boolean refused(FullHttpRequest req) {
    if (req.decoderResult().isFailure()) {
      return true;
    }
    if (!req.protocolVersion().equals(HttpVersion.HTTP_1_1)) {
      return false;
    }
    Iterator<String> hosts = req.headers().valueStringIterator(HttpHeaderNames.HOST);
    if (!hosts.hasNext()) {
      return true;
    }
    hosts.next();
    return hosts.hasNext();
  }

  /** What a request the codec could not decode gets (then the connection closes). */
  static FullHttpResponse badRequest() {
    return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_REQUEST,
        Unpooled.copiedBuffer("bad request\n", StandardCharsets.US_ASCII));
  }

  /**
   * Frames a whole response: Content-Length (a full response never needs chunking), and the Connection header
   * the client needs to know whether the connection stays open.
   */
  static void frame(FullHttpRequest req, FullHttpResponse resp, boolean keepAlive) {
    resp.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
    HttpUtil.setContentLength(resp, resp.content().readableBytes());
    if (keepAlive) {
      if (!req.protocolVersion().isKeepAliveDefault()) {
        resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      }
    } else {
      resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
  }

  /**
   * The response's bytes as Netty's HttpResponseEncoder writes them: status line, headers, and the body unless
   * the request was HEAD or the status has none (1xx, 204, 304). Releases nothing.
   */
  static ByteBuf encode(FullHttpResponse resp, HttpMethod requestMethod, ByteBufAllocator alloc) {
    int code = resp.status().code();
    boolean body = !requestMethod.equals(HttpMethod.HEAD) && code >= 200 && code != 204 && code != 304;
    ByteBuf content = resp.content();
    ByteBuf out = alloc.directBuffer(256 + (body ? content.readableBytes() : 0));
    ByteBufUtil.writeAscii(out, resp.protocolVersion().text());
    out.writeByte(' ');
    ByteBufUtil.writeAscii(out, resp.status().codeAsText());
    out.writeByte(' ');
    ByteBufUtil.writeAscii(out, resp.status().reasonPhrase());
    out.writeShort(CRLF);
    for (Iterator<Map.Entry<CharSequence, CharSequence>> it = resp.headers().iteratorCharSequence(); it.hasNext(); ) {
      Map.Entry<CharSequence, CharSequence> h = it.next();
      ByteBufUtil.writeAscii(out, h.getKey());
      out.writeByte(':');
      out.writeByte(' ');
      ByteBufUtil.writeAscii(out, h.getValue());
      out.writeShort(CRLF);
    }
    out.writeShort(CRLF);
    if (body) {
      out.writeBytes(content, content.readerIndex(), content.readableBytes());
    }
    return out;
  }

  private static final int CRLF = ('\r' << 8) | '\n';
}
