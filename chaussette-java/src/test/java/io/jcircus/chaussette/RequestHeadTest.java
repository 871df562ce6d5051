package io.jcircus.chaussette;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class RequestHeadTest {
  private static RequestHead parse(String s) {
    ByteBuf b = Unpooled.buffer(FirstRequest.BUFFER);
    b.writeCharSequence(s, StandardCharsets.ISO_8859_1);
    return RequestHead.parse(b);
  }

  @Test
  void plainOneShotRequests() {
    RequestHead h = parse("GET /x?y=1 HTTP/1.1\r\nHost: a\r\nConnection:  Close \r\nX-Y: z\t\r\n\r\n");
    assertThat(h.method).isEqualTo(HttpMethod.GET);
    assertThat(h.uri).isEqualTo("/x?y=1");
    assertThat(h.version).isEqualTo(HttpVersion.HTTP_1_1);
    assertThat(h.lastRequest).isTrue();
    assertThat(h.headers.get("connection")).isEqualTo("Close");
    assertThat(h.headers.get("x-y")).isEqualTo("z");
    assertThat(h.bodyLength).isZero();
    assertThat(parse("GET / HTTP/1.0\r\n\r\n").lastRequest).isTrue();
    assertThat(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").lastRequest).isFalse();
    assertThat(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").lastRequest).isFalse();
    assertThat(parse("GET / HTTP/1.1\r\nConnection: te, close\r\n\r\n").lastRequest).isTrue();
    RequestHead post = parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
    assertThat(post.bodyLength).isEqualTo(3);
  }

  @Test
  void incompleteUntilTheHeadAndBodyAreWhole() {
    assertThat(parse("GET / HTTP/1.1\r\nHost: a\r\n")).isSameAs(RequestHead.INCOMPLETE);
    assertThat(parse("GET / HT")).isSameAs(RequestHead.INCOMPLETE);
    assertThat(parse("POST / HTTP/1.1\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabc"))
        .isSameAs(RequestHead.INCOMPLETE);
  }

  @Test
  void everythingElseIsTheCodecs() {
    for (String s : new String[] {
        "GARBAGE\r\n\r\n", "get / HTTP/1.1\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\n\n", "\r\nGET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", "GET / HTTP/1.1\r\nA: b\u0001\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n",
        "GET /" + "a".repeat(RequestHead.MAX_INITIAL_LINE) + " HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nA: " + "b".repeat(RequestHead.MAX_HEAD) + "\r\n\r\n"}) {
      assertThat(parse(s)).as(s.substring(0, Math.min(60, s.length()))).isSameAs(RequestHead.HAND_OFF);
    }
  }
}
