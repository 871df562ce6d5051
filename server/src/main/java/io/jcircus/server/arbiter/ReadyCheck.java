package io.jcircus.server.arbiter;

import io.netty.channel.IoEventLoop;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.AsynchronousSocketChannel;
import java.nio.channels.CompletionHandler;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * readiness = tcp://HOST:PORT or http://HOST:PORT/PATH: probes every 100 ms, off the arbiter loop (NIO
 * asynchronous connect, the JDK HTTP client), until it succeeds, the process is gone or ready, or the timeout
 * passes (the rolling reload then gives up on its own). Success is reported on the arbiter loop.
 */
final class ReadyCheck {
  private static final long INTERVAL_MS = 100;
  private static volatile HttpClient http;

  private ReadyCheck() { }

  static void poll(IoEventLoop loop, String check, BooleanSupplier stillWaiting, long timeoutMs, Runnable onReady) {
    long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
    loop.schedule(() -> attempt(loop, URI.create(check), stillWaiting, deadline, onReady), INTERVAL_MS,
        TimeUnit.MILLISECONDS);
  }

  private static void attempt(IoEventLoop loop, URI uri, BooleanSupplier stillWaiting, long deadline,
      Runnable onReady) {
    if (!stillWaiting.getAsBoolean() || System.nanoTime() > deadline) {
      return;
    }
    probe(uri).whenComplete((ok, err) -> loop.execute(() -> {
      if (Boolean.TRUE.equals(ok)) {
        if (stillWaiting.getAsBoolean()) {
          onReady.run();
        }
      } else {
        loop.schedule(() -> attempt(loop, uri, stillWaiting, deadline, onReady), INTERVAL_MS, TimeUnit.MILLISECONDS);
      }
    }));
  }

  /** One liveness probe, within {@code timeoutMs}; completes (off the loop) with whether it answered. */
  static CompletableFuture<Boolean> probe(URI uri, long timeoutMs) {
    return probe(uri).completeOnTimeout(false, timeoutMs, TimeUnit.MILLISECONDS);
  }

  private static CompletableFuture<Boolean> probe(URI uri) {
    if (uri.getScheme().equalsIgnoreCase("http")) {
      HttpClient c = http;
      if (c == null) {
        c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        http = c;
      }
      HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(2)).GET().build();
      return c.sendAsync(req, HttpResponse.BodyHandlers.discarding())
          .thenApply(r -> r.statusCode() >= 200 && r.statusCode() < 400)
          .exceptionally(e -> false);
    }
    CompletableFuture<Boolean> f = new CompletableFuture<>();
    try {
      AsynchronousSocketChannel ch = AsynchronousSocketChannel.open();
      ch.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), null, new CompletionHandler<Void, Void>() {
        @Override
        public void completed(Void v, Void a) {
          close(ch);
          f.complete(true);
        }

        @Override
        public void failed(Throwable t, Void a) {
          close(ch);
          f.complete(false);
        }
      });
    } catch (IOException | RuntimeException e) {
      f.complete(false);
    }
    return f;
  }

  private static void close(AsynchronousSocketChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // a probe socket
    }
  }
}
