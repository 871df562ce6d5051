package io.jcircus.it;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bounded loopback HTTP load: {@code threads} clients sending GET requests back to back, of three kinds in
 * turn: keep-alive through the JDK client, which retries an idempotent request once when a pooled connection
 * turns out closed, as browsers and most HTTP clients do; a new connection per request, so the shared accept
 * queue is always in use; and keep-alive that never retries, as wrk and ab do, so a server that closes a
 * connection under a request it was sent (rather than answering it with {@code Connection: close}) fails it.
 * Counts successes, failures (with their reasons) and which worker pids answered.
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
      String kind = KINDS[i % KINDS.length];
      boolean fresh = kind.equals(NEW_CONNECTION);
      if (kind.equals(NO_RETRY)) {
        Thread t = new Thread(() -> noRetry(port), "load-" + i);
        t.setDaemon(true);
        t.start();
        this.threads.add(t);
        continue;
      }
      Thread t = new Thread(() -> {
        while (running.get()) {
          try {
            String body;
            if (fresh) {
              body = ItBase.httpGet(port);
            } else {
              HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
              if (r.statusCode() != 200) {
                fail(kind, "HTTP " + r.statusCode() + " " + r.body().strip());
                continue;
              }
              body = r.body();
            }
            served(kind, body);
          } catch (InterruptedException e) {
            return;
          } catch (Exception e) {
            fail(kind, e.getClass().getSimpleName() + ": " + e.getMessage());
          }
        }
      }, "load-" + i);
      t.setDaemon(true);
      t.start();
      this.threads.add(t);
    }
  }

  private static final String KEEP_ALIVE = "keep-alive";
  private static final String NEW_CONNECTION = "new connection";
  private static final String NO_RETRY = "keep-alive, no retry";
  private static final String[] KINDS = {KEEP_ALIVE, NEW_CONNECTION, NO_RETRY};
  private static final byte[] REQUEST = "GET / HTTP/1.1\r\nHost: load\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  /**
   * Keep-alive as wrk does it: the next request as soon as the answer is in, a new connection only after an
   * answer that said {@code Connection: close}; an end of stream or a reset before the answer is a failure.
   */
  private void noRetry(int port) {
    while (running.get()) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        s.setSoTimeout(20_000);
        InputStream in = new BufferedInputStream(s.getInputStream());
        OutputStream out = s.getOutputStream();
        int answered = 0;
        while (running.get()) {
          out.write(REQUEST);
          out.flush();
          Answer a = Answer.read(in, answered);
          answered++;
          if (a.status != 200) {
            fail(NO_RETRY, "HTTP " + a.status + " " + a.body.strip());
          } else {
            served(NO_RETRY, a.body);
          }
          if (a.close) {
            break;
          }
        }
      } catch (IOException e) {
        fail(NO_RETRY, e.getClass().getSimpleName() + ": " + e.getMessage());
      }
    }
  }

  /** One HTTP/1.1 response: Content-Length or chunked. */
  private record Answer(int status, boolean close, String body) {
    static Answer read(InputStream in, int answeredBefore) throws IOException {
      String status = line(in, answeredBefore);
      int code = Integer.parseInt(status.split(" ")[1]);
      long length = -1;
      boolean chunked = false;
      boolean close = false;
      for (String h = line(in, answeredBefore); !h.isEmpty(); h = line(in, answeredBefore)) {
        int colon = h.indexOf(':');
        String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = h.substring(colon + 1).trim().toLowerCase(Locale.ROOT);
        switch (name) {
          case "content-length" -> length = Long.parseLong(value);
          case "transfer-encoding" -> chunked = value.contains("chunked");
          case "connection" -> close = value.contains("close");
          default -> { }
        }
      }
      StringBuilder body = new StringBuilder();
      if (chunked) {
        for (long n = Long.parseLong(line(in, answeredBefore).split(";")[0].trim(), 16); n > 0;
            n = Long.parseLong(line(in, answeredBefore).split(";")[0].trim(), 16)) {
          body.append(new String(in.readNBytes((int) n), StandardCharsets.US_ASCII));
          line(in, answeredBefore);
        }
        line(in, answeredBefore);
      } else if (length >= 0) {
        body.append(new String(in.readNBytes((int) length), StandardCharsets.US_ASCII));
      } else {
        body.append(new String(in.readAllBytes(), StandardCharsets.US_ASCII));
        close = true;
      }
      return new Answer(code, close, body.toString());
    }

    private static String line(InputStream in, int answeredBefore) throws IOException {
      StringBuilder sb = new StringBuilder();
      for (int c = in.read(); c != '\n'; c = in.read()) {
        if (c < 0) {
          throw new EOFException("the connection ended before the answer, after " + answeredBefore
              + " answers on it, the last without Connection: close");
        }
        if (c != '\r') {
          sb.append((char) c);
        }
      }
      return sb.toString();
    }
  }

  private void served(String kind, String body) {
    if (body.startsWith("hello from pid ")) {
      ok.incrementAndGet();
      servedBy.computeIfAbsent(body.strip().substring("hello from pid ".length()), k -> new AtomicLong())
          .incrementAndGet();
    } else {
      fail(kind, "unexpected body " + body.strip());
    }
  }

  /** Counts a failure under its reason, which says which kind of client had it and when (ms since the start). */
  private void fail(String kind, String why) {
    failed.incrementAndGet();
    String at = " at " + elapsedMs() + " ms";
    errors.computeIfAbsent(kind + ": " + why + at, k -> new AtomicLong()).incrementAndGet();
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
