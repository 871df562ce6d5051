package io.jcircus.server.plugin;

import io.jcircus.plugin.Plugin;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Circus's {@code circus.plugins.http_observer.HttpObserver}: every {@code loop_rate} seconds (60) a GET of
 * {@code check_url} (http://localhost/) within {@code timeout} seconds (10); a failure (no answer in time, a
 * refused connection, a 5xx status) restarts the watcher {@code restart_on_error} names, if any. Timings and errors
 * go to statsd as Circus's do ({@code http_observer.time} in ms, {@code http_observer.error}) when {@code host} or
 * {@code port} is set.
 */
final class HttpObserver implements Plugin {
  private static final Logger LOG = LoggerFactory.getLogger(HttpObserver.class);

  private Context ctx;
  private HttpClient client;
  private URI url;
  private Duration timeout;
  private String restart;
  private StatsdClient statsd;

  @Override
  public void init(Context context) throws IOException {
    ctx = context;
    Map<String, String> o = context.options();
    url = URI.create(o.getOrDefault("check_url", "http://localhost/").strip());
    timeout = Duration.ofMillis((long) (Double.parseDouble(o.getOrDefault("timeout", "10").strip()) * 1000));
    restart = o.get("restart_on_error");
    if (o.containsKey("host") || o.containsKey("port")) {
      statsd = new StatsdClient(o, "circus." + o.getOrDefault("application_name", "app") + ".watcher");
    }
    client = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER).build();
    double loopRate = Double.parseDouble(o.getOrDefault("loop_rate", "60").strip());
    context.every(Duration.ofMillis((long) (loopRate * 1000)), this::check);
  }

  private void check() {
    long t0 = System.nanoTime();
    String failure;
    try {
      HttpResponse<Void> r = client.send(HttpRequest.newBuilder(url).timeout(timeout).GET().build(),
          HttpResponse.BodyHandlers.discarding());
      failure = r.statusCode() >= 500 ? "HTTP " + r.statusCode() : null;
    } catch (IOException e) {
      failure = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    if (statsd != null) {
      statsd.timing("http_observer.time", (System.nanoTime() - t0) / 1_000_000);
    }
    if (failure == null) {
      return;
    }
    if (statsd != null) {
      statsd.increment("http_observer.error");
    }
    LOG.warn("http_observer: {} failed: {}{}", url, failure, restart == null ? "" : "; restarting " + restart);
    if (restart != null && !restart.isBlank()) {
      ctx.cast("restart", Map.of("name", restart.strip()));
    }
  }

  @Override
  public void stop() throws IOException {
    if (statsd != null) {
      statsd.close();
    }
  }
}
