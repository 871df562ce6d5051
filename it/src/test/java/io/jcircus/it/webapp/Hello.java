package io.jcircus.it.webapp;

import jakarta.servlet.annotation.WebServlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/**
 * The web application's root, found by annotation scanning: {@code hello from pid N VERSION}, the version being
 * the web.xml's {@code version} context parameter (so a new build of the .war is told from the old by its answer).
 */
@WebServlet("")
public class Hello extends HttpServlet {
  private static final long serialVersionUID = 1L;

  @Override
  protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    resp.setContentType("text/plain");
    resp.getWriter().print("hello from pid " + ProcessHandle.current().pid() + " "
        + getServletContext().getInitParameter("version") + "\n");
  }
}
