package io.jcircus.it.webapp;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/** A servlet the web.xml declares and maps, with an init parameter. */
public class Declared extends HttpServlet {
  private static final long serialVersionUID = 1L;

  @Override
  protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    resp.setContentType("text/plain");
    resp.getWriter().print("declared in web.xml, greeting " + getInitParameter("greeting") + ", context "
        + req.getContextPath() + "\n");
  }
}
