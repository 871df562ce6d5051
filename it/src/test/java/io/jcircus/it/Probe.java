package io.jcircus.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A libzmq client (pyzmq, as Circus's own clients) kept running for a test: requests go in as JSON lines and
 * come back with their round-trip time measured inside the client, so a test can hold circusd to "answers
 * {@code status} within 100 ms" without counting a Python start-up.
 */
final class Probe implements AutoCloseable {
  /** Reads what Python's json module writes, as Circus's clients do: NaN and Infinity included. */
  static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder()
      .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();
  private static final AtomicLong IDS = new AtomicLong();

  private final Process process;
  private final Writer in;
  private final BufferedReader out;

  /** A reply, or none ({@code reply == null}) within the probe's timeout. */
  record Reply(Double ms, JsonNode reply) {
    boolean ok() {
      return reply != null && "ok".equals(reply.path("status").asText());
    }
  }

  Probe(Path dir, String endpoint, int timeoutMs) throws IOException {
    Path script = dir.resolve("zprobe.py");
    if (!Files.exists(script)) {
      try (InputStream s = Probe.class.getResourceAsStream("/clients/zprobe.py")) {
        Files.copy(s, script);
      }
    }
    process = new ProcessBuilder(ItBase.python(), script.toString(), endpoint, Integer.toString(timeoutMs))
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    in = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
  }

  /** Sends {@code command} with {@code properties} (an id is added) and waits for the answer. */
  Reply call(String command, Map<String, Object> properties) throws IOException {
    ObjectNode req = JSON.createObjectNode();
    req.put("id", "p" + IDS.incrementAndGet());
    req.put("command", command);
    req.set("properties", JSON.valueToTree(properties));
    return raw(JSON.writeValueAsString(req));
  }

  /** Sends one frame as it is (one line) and waits for the answer. */
  Reply raw(String line) throws IOException {
    in.write(line.replace('\n', ' '));
    in.write('\n');
    in.flush();
    String l = out.readLine();
    if (l == null) {
      throw new IOException("the probe exited");
    }
    JsonNode n = JSON.readTree(l);
    JsonNode r = n.get("reply");
    return new Reply(n.get("ms").isNull() ? null : n.get("ms").asDouble(),
        r == null || r.isNull() ? null : JSON.readTree(r.asText()));
  }

  /** The fastest of {@code n} status round trips, in ms (every one must be answered). */
  double statusMs(int n) throws IOException {
    double best = Double.MAX_VALUE;
    for (int i = 0; i < n; i++) {
      Reply r = call("status", Map.of());
      if (!r.ok()) {
        throw new AssertionError("status not answered: " + r);
      }
      best = Math.min(best, r.ms());
    }
    return best;
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(5, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
  }
}
