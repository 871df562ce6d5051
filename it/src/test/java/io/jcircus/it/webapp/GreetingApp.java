package io.jcircus.it.webapp;

import io.jcircus.chaussette.HttpApp;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/**
 * An application of the user's for the netty backend, loaded from {@code --classpath}: says which loader it
 * came from and which loader its thread has as context class loader.
 */
public class GreetingApp implements HttpApp {
  @Override
  public FullHttpResponse handle(FullHttpRequest request) {
    String body = "greeting from pid " + ProcessHandle.current().pid() + ", loaded by "
        + getClass().getClassLoader().getName() + ", context loader "
        + Thread.currentThread().getContextClassLoader().getName() + "\n";
    return new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
        Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
  }
}
