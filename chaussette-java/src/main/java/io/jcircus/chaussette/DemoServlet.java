package io.jcircus.chaussette;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** The servlet backend's built-in app: {@code GET /} answers a line naming the worker's pid. */
public final class DemoServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;
  private final byte[] hello =
      ("hello from pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);

  @Override
  protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    if (!req.getRequestURI().equals("/")) {
      resp.sendError(404);
      return;
    }
    resp.setContentType("text/plain; charset=us-ascii");
    resp.setContentLength(hello.length);
    resp.getOutputStream().write(hello);
  }
}
