package io.jcircus.it.webapp;

import jakarta.servlet.ServletContextEvent;
import jakarta.servlet.ServletContextListener;
import jakarta.servlet.annotation.WebListener;

/**
 * A start-up check, as applications have (a database, a configuration): fails while {@code fail} is true. And
 * a line on shutdown, as applications log one: it must reach circusd's output, after the worker stopped accepting.
 */
@WebListener
public class StartCheck implements ServletContextListener {
  @Override
  public void contextInitialized(ServletContextEvent e) {
    if (Boolean.parseBoolean(e.getServletContext().getInitParameter("fail"))) {
      throw new IllegalStateException("start-up check failed: the configuration says fail = true");
    }
  }

  @Override
  public void contextDestroyed(ServletContextEvent e) {
    System.out.println("web application " + e.getServletContext().getInitParameter("version")
        + " stopped in pid " + ProcessHandle.current().pid());
    System.out.flush();
  }
}
