package io.jcircus.chaussette;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.FastThreadLocal;
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

  /**
   * Headers without Netty's per-header validation: the parser below already refuses (hands off) every name that
   * is not a token and every value with a control character, which is what that validation checks.
   */
  private static final DefaultHttpHeadersFactory HEADERS =
      DefaultHttpHeadersFactory.headersFactory().withNameValidation(false).withValueValidation(false);

  /** Each event loop's copy of the head being parsed: a byte array, not a ByteBuf checked at every byte. */
  private static final FastThreadLocal<byte[]> SCRATCH = new FastThreadLocal<>() {
    @Override
    protected byte[] initialValue() {
      return new byte[MAX_HEAD];
    }
  };

  /** Parses {@code buf}'s readable bytes (not consumed). */
  static RequestHead parse(ByteBuf buf) {
    int start = buf.readerIndex();
    int end = buf.writerIndex() - start; // positions below are relative to start
    byte[] a = SCRATCH.get();
    int copied = Math.min(end, MAX_HEAD);
    buf.getBytes(start, a, 0, copied);
    // request line: METHOD SP request-target SP HTTP/1.x CRLF
    int lineEnd = find(a, 0, Math.min(copied, MAX_INITIAL_LINE), (byte) '\n');
    if (lineEnd < 0) {
      return end >= MAX_INITIAL_LINE ? HAND_OFF : INCOMPLETE;
    }
    if (lineEnd == 0 || a[lineEnd - 1] != '\r') {
      return HAND_OFF; // bare LF, or the empty lines some clients send before a request: the codec's business
    }
    int sp1 = -1;
    for (int i = 0; i < lineEnd - 1; i++) {
      byte b = a[i];
      if (b == ' ') {
        sp1 = i;
        break;
      }
      if (b < 'A' || b > 'Z') {
        return HAND_OFF;
      }
    }
    if (sp1 <= 0) {
      return HAND_OFF;
    }
    int sp2 = -1;
    for (int i = sp1 + 1; i < lineEnd - 1; i++) {
      byte b = a[i];
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
    if (matches(a, sp2 + 1, "HTTP/1.1")) {
      version = HttpVersion.HTTP_1_1;
    } else if (matches(a, sp2 + 1, "HTTP/1.0")) {
      version = HttpVersion.HTTP_1_0;
    } else {
      return HAND_OFF;
    }
    RequestHead h = new RequestHead();
    h.version = version;
    // all checked to be ASCII: ISO-8859-1 is the cheapest decoder that gives the same strings
    h.method = HttpMethod.valueOf(new String(a, 0, sp1, StandardCharsets.ISO_8859_1));
    h.uri = new String(a, sp1 + 1, sp2 - sp1 - 1, StandardCharsets.ISO_8859_1);
    h.headers = HEADERS.newHeaders();
    boolean close = false;
    boolean keepAlive = false;
    long contentLength = -1;
    int pos = lineEnd + 1;
    while (true) {
      int nl = find(a, pos, copied, (byte) '\n');
      if (nl < 0) {
        return end >= MAX_HEAD ? HAND_OFF : INCOMPLETE;
      }
      if (nl == pos || a[nl - 1] != '\r') {
        return HAND_OFF;
      }
      if (nl == pos + 1) { // CRLF: end of the head
        pos = nl + 1;
        break;
      }
      int colon = -1;
      for (int i = pos; i < nl - 1; i++) {
        byte b = a[i];
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
      while (vs < ve && ows(a[vs])) {
        vs++;
      }
      while (ve > vs && ows(a[ve - 1])) {
        ve--;
      }
      for (int i = vs; i < ve; i++) {
        byte b = a[i];
        if ((b < 0x20 && b != '\t') || b == 0x7f) {
          return HAND_OFF;
        }
      }
      String name = new String(a, pos, colon - pos, StandardCharsets.ISO_8859_1);
      String value = new String(a, vs, ve - vs, StandardCharsets.ISO_8859_1);
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
      return length > buf.capacity() - start - pos ? HAND_OFF : INCOMPLETE;
    }
    if (end - pos > length) {
      return HAND_OFF; // a pipelined request, or bytes we do not understand: the codec's
    }
    h.bodyStart = start + pos;
    h.bodyLength = (int) length;
    h.lastRequest = version == HttpVersion.HTTP_1_1 ? close : !keepAlive;
    return h;
  }

  private static int find(byte[] a, int from, int to, byte b) {
    for (int i = from; i < to; i++) {
      if (a[i] == b) {
        return i;
      }
    }
    return -1;
  }

  private static boolean matches(byte[] a, int at, String s) {
    for (int i = 0; i < s.length(); i++) {
      if (a[at + i] != s.charAt(i)) {
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
