package io.jcircus.it;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bounded loopback HTTP load: {@code threads} clients sending GET requests back to back. Half of them use
 * keep-alive connections (the JDK client, which retries an idempotent request once when a pooled connection
 * turns out closed, as browsers and most HTTP clients do); the other half open a new connection per request,
 * so the shared accept queue is always in use. Counts successes, failures (with their reasons) and which
 * worker pids answered.
 */
final class Load implements AutoCloseable {
  final AtomicLong ok = new AtomicLong();
  final AtomicLong failed = new AtomicLong();
  final Map<String, AtomicLong> errors = new ConcurrentHashMap<>();
  final Map<String, AtomicLong> servedBy = new ConcurrentHashMap<>();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final List<Thread> threads = new ArrayList<>();
  private final HttpClient client;
  private final long started = System.nanoTime();

  Load(int port, int threads) {
    client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
        .build();
    HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/"))
        .timeout(Duration.ofSeconds(20)).GET().build();
    for (int i = 0; i < threads; i++) {
      boolean fresh = i % 2 == 1;
      Thread t = new Thread(() -> {
        while (running.get()) {
          try {
            String body;
            if (fresh) {
              body = ItBase.httpGet(port);
            } else {
              HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
              if (r.statusCode() != 200) {
                fail(fresh, "HTTP " + r.statusCode() + " " + r.body().strip());
                continue;
              }
              body = r.body();
            }
            if (body.startsWith("hello from pid ")) {
              ok.incrementAndGet();
              servedBy.computeIfAbsent(body.strip().substring("hello from pid ".length()),
                  k -> new AtomicLong()).incrementAndGet();
            } else {
              fail(fresh, "unexpected body " + body.strip());
            }
          } catch (InterruptedException e) {
            return;
          } catch (Exception e) {
            fail(fresh, e.getClass().getSimpleName() + ": " + e.getMessage());
          }
        }
      }, "load-" + i);
      t.setDaemon(true);
      t.start();
      this.threads.add(t);
    }
  }

  /** Counts a failure under its reason, which says which kind of client had it and when (ms since the start). */
  private void fail(boolean fresh, String why) {
    failed.incrementAndGet();
    String at = " at " + elapsedMs() + " ms";
    errors.computeIfAbsent((fresh ? "new connection: " : "keep-alive: ") + why + at, k -> new AtomicLong())
        .incrementAndGet();
  }

  /** Milliseconds since the load began (the clock failures are reported on). */
  long elapsedMs() {
    return (System.nanoTime() - started) / 1_000_000;
  }

  /** Waits until {@code n} more requests succeeded (or the timeout passes). */
  void awaitMore(long n, Duration timeout) throws InterruptedException {
    long target = ok.get() + n;
    long deadline = System.nanoTime() + timeout.toNanos();
    while (ok.get() < target && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
  }

  @Override
  public void close() throws InterruptedException {
    running.set(false);
    for (Thread t : threads) {
      t.join(25_000);
    }
  }

  @Override
  public String toString() {
    return ok + " ok, " + failed + " failed " + errors + ", served by " + servedBy.keySet();
  }
}
