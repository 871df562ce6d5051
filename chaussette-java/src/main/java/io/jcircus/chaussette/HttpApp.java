package io.jcircus.chaussette;

import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;

/**
 * A plain Java web application for the Netty backend: one call per request, on a Netty event loop
 * thread (do not block in it). The server adds Content-Length and keep-alive handling.
 */
@FunctionalInterface
public interface HttpApp {
  FullHttpResponse handle(FullHttpRequest request) throws Exception;
}
