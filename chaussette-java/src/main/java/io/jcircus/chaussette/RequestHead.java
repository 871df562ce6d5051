package io.jcircus.chaussette;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/**
 * A strict parser for the first request on a new connection, used to serve a connection's only request without
 * setting up a Netty channel and codec for it (see {@link FirstRequest}).
 *
 * <p>It accepts only the plain case: an {@code HTTP/1.0} or {@code HTTP/1.1} request line, well-formed header
 * lines, no {@code Transfer-Encoding}, {@code Expect} or {@code Upgrade}, at most one {@code Content-Length}
 * whose body has arrived whole, and nothing after the request. Anything else, including every malformed request,
 * is {@link #HAND_OFF}: the connection goes to Netty's {@code HttpServerCodec}, which decides as it always has.
 * So this parser never answers a request differently from the codec; it only answers some of them faster.
 */
final class RequestHead {
  /** Not a whole request yet: read more. */
  static final RequestHead INCOMPLETE = new RequestHead();
  /** Not for the fast path: give the bytes read so far to a Netty channel. */
  static final RequestHead HAND_OFF = new RequestHead();

  /** The codec's limits (HttpServerCodec's defaults): a longer line or head is the codec's to refuse. */
  static final int MAX_INITIAL_LINE = 4096;
  static final int MAX_HEAD = 8192;

  HttpMethod method;
  String uri;
  HttpVersion version;
  HttpHeaders headers;
  /** Where the body starts and how long it is, in the buffer parsed. */
  int bodyStart;
  int bodyLength;
  /** Whether the client asked for the connection to end with this response (close, or 1.0 without keep-alive). */
  boolean lastRequest;

  private RequestHead() {}

  /** Parses {@code buf}'s readable bytes (not consumed). */
  static RequestHead parse(ByteBuf buf) {
    int start = buf.readerIndex();
    int end = buf.writerIndex();
    // request line: METHOD SP request-target SP HTTP/1.x CRLF
    int lineEnd = find(buf, start, Math.min(end, start + MAX_INITIAL_LINE), (byte) '\n');
    if (lineEnd < 0) {
      return end - start >= MAX_INITIAL_LINE ? HAND_OFF : INCOMPLETE;
    }
    if (lineEnd == start || buf.getByte(lineEnd - 1) != '\r') {
      return HAND_OFF; // bare LF, or the empty lines some clients send before a request: the codec's business
    }
    int sp1 = -1;
    for (int i = start; i < lineEnd - 1; i++) {
      byte b = buf.getByte(i);
      if (b == ' ') {
        sp1 = i;
        break;
      }
      if (b < 'A' || b > 'Z') {
        return HAND_OFF;
      }
    }
    if (sp1 <= start) {
      return HAND_OFF;
    }
    int sp2 = -1;
    for (int i = sp1 + 1; i < lineEnd - 1; i++) {
      byte b = buf.getByte(i);
      if (b == ' ') {
        sp2 = i;
        break;
      }
      if (b <= 0x20 || b >= 0x7f) {
        return HAND_OFF;
      }
    }
    if (sp2 <= sp1 + 1 || lineEnd - 1 - (sp2 + 1) != 8) {
      return HAND_OFF;
    }
    HttpVersion version;
    if (matches(buf, sp2 + 1, "HTTP/1.1")) {
      version = HttpVersion.HTTP_1_1;
    } else if (matches(buf, sp2 + 1, "HTTP/1.0")) {
      version = HttpVersion.HTTP_1_0;
    } else {
      return HAND_OFF;
    }
    RequestHead h = new RequestHead();
    h.version = version;
    h.method = HttpMethod.valueOf(buf.toString(start, sp1 - start, StandardCharsets.US_ASCII));
    h.uri = buf.toString(sp1 + 1, sp2 - sp1 - 1, StandardCharsets.US_ASCII);
    h.headers = new DefaultHttpHeaders();
    boolean close = false;
    boolean keepAlive = false;
    long contentLength = -1;
    int limit = Math.min(end, start + MAX_HEAD);
    int pos = lineEnd + 1;
    while (true) {
      int nl = find(buf, pos, limit, (byte) '\n');
      if (nl < 0) {
        return end - start >= MAX_HEAD ? HAND_OFF : INCOMPLETE;
      }
      if (nl == pos || buf.getByte(nl - 1) != '\r') {
        return HAND_OFF;
      }
      if (nl == pos + 1) { // CRLF: end of the head
        pos = nl + 1;
        break;
      }
      int colon = -1;
      for (int i = pos; i < nl - 1; i++) {
        byte b = buf.getByte(i);
        if (b == ':') {
          colon = i;
          break;
        }
        if (!tchar(b)) {
          return HAND_OFF; // includes obs-fold (a line starting with SP/HTAB) and spaces before the colon
        }
      }
      if (colon <= pos) {
        return HAND_OFF;
      }
      int vs = colon + 1;
      int ve = nl - 1;
      while (vs < ve && ows(buf.getByte(vs))) {
        vs++;
      }
      while (ve > vs && ows(buf.getByte(ve - 1))) {
        ve--;
      }
      for (int i = vs; i < ve; i++) {
        byte b = buf.getByte(i);
        if ((b < 0x20 && b != '\t') || b == 0x7f) {
          return HAND_OFF;
        }
      }
      String name = buf.toString(pos, colon - pos, StandardCharsets.US_ASCII);
      String value = buf.toString(vs, ve - vs, StandardCharsets.ISO_8859_1);
      if (name.equalsIgnoreCase("content-length")) {
        if (contentLength >= 0 || value.isEmpty() || value.length() > 9) {
          return HAND_OFF;
        }
        for (int i = 0; i < value.length(); i++) {
          if (value.charAt(i) < '0' || value.charAt(i) > '9') {
            return HAND_OFF;
          }
        }
        contentLength = Long.parseLong(value);
      } else if (name.equalsIgnoreCase("connection")) {
        for (String token : value.split(",")) {
          String t = token.trim();
          close |= t.equalsIgnoreCase("close");
          keepAlive |= t.equalsIgnoreCase("keep-alive");
        }
      } else if (name.equalsIgnoreCase("transfer-encoding") || name.equalsIgnoreCase("expect")
          || name.equalsIgnoreCase("upgrade")) {
        return HAND_OFF;
      }
      h.headers.add(name, value);
      pos = nl + 1;
    }
    long length = Math.max(0, contentLength);
    if (end - pos < length) {
      return length > buf.capacity() - (pos - buf.readerIndex()) ? HAND_OFF : INCOMPLETE;
    }
    if (end - pos > length) {
      return HAND_OFF; // a pipelined request, or bytes we do not understand: the codec's
    }
    h.bodyStart = pos;
    h.bodyLength = (int) length;
    h.lastRequest = version == HttpVersion.HTTP_1_1 ? close : !keepAlive;
    return h;
  }

  private static int find(ByteBuf buf, int from, int to, byte b) {
    return from >= to ? -1 : buf.indexOf(from, to, b);
  }

  private static boolean matches(ByteBuf buf, int at, String s) {
    for (int i = 0; i < s.length(); i++) {
      if (buf.getByte(at + i) != s.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  private static boolean ows(byte b) {
    return b == ' ' || b == '\t';
  }

  /** RFC 9110 tchar. */
  private static boolean tchar(byte b) {
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')) {
      return true;
    }
    return b > 0x20 && b < 0x7f && "!#$%&'*+-.^_`|~".indexOf(b) >= 0;
  }
}
