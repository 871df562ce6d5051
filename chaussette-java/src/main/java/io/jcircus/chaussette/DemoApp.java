package io.jcircus.chaussette;

import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/** The built-in app: {@code GET /} answers a line naming the worker's pid. */
public final class DemoApp implements HttpApp {
  private final byte[] hello =
      ("hello from pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);

  @Override
  public FullHttpResponse handle(FullHttpRequest req) {
    boolean root = req.uri().equals("/") || req.uri().startsWith("/?");
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        root ? HttpResponseStatus.OK : HttpResponseStatus.NOT_FOUND,
        Unpooled.wrappedBuffer(root ? hello : "not found\n".getBytes(StandardCharsets.US_ASCII)));
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=us-ascii");
    return r;
  }
}
