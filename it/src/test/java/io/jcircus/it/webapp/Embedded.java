package io.jcircus.it.webapp;

import io.jcircus.chaussette.Chaussette;
import io.jcircus.chaussette.ServletServer;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * An application that embeds chaussette-java (the jcircus-chaussette artifact) instead of running its launcher:
 * {@code Embedded netty|servlet URI}. Both answer {@code hello from pid N (embedded BACKEND)}.
 */
public final class Embedded {
  private Embedded() { }

  /** The servlet the servlet case serves. */
  public static final class HelloServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      resp.setContentType("text/plain");
      resp.getWriter().print(hello("servlet"));
    }
  }

  static String hello(String backend) {
    return "hello from pid " + ProcessHandle.current().pid() + " (embedded " + backend + ")\n";
  }

  public static void main(String[] args) throws Exception {
    if (args[0].equals("servlet")) {
      ServletServer.serve(args[1], new HelloServlet(), "/", 1);
    } else {
      Chaussette.serve(args[1], req -> new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
          Unpooled.copiedBuffer(hello("netty"), StandardCharsets.UTF_8)), 1);
    }
  }
}
