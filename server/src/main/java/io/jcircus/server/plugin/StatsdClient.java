package io.jcircus.server.plugin;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * statsd over UDP as Circus's plugins send it: {@code PREFIX.BUCKET:VALUE|TYPE}, with {@code |@RATE} when sampled
 * (and then only that share of the values is sent, as statsd expects; Circus appended the rate but sent all).
 * Sending never blocks: a datagram the kernel cannot take is lost, as UDP's are.
 */
final class StatsdClient implements AutoCloseable {
  private final DatagramChannel channel;
  private final InetSocketAddress to;
  private final String prefix;
  private final double sampleRate;

  StatsdClient(Map<String, String> options, String prefix) throws IOException {
    this.to = new InetSocketAddress(options.getOrDefault("host", "localhost"),
        Integer.parseInt(options.getOrDefault("port", "8125").strip()));
    this.prefix = prefix;
    this.sampleRate = Double.parseDouble(options.getOrDefault("sample_rate", "1.0").strip());
    this.channel = DatagramChannel.open();
    this.channel.configureBlocking(false);
  }

  void increment(String bucket) {
    send(bucket, "1|c");
  }

  void timing(String bucket, long millis) {
    send(bucket, millis + "|ms");
  }

  void gauge(String bucket, Object value) {
    send(bucket, value + "|g");
  }

  private void send(String bucket, String value) {
    if (sampleRate < 1) {
      if (ThreadLocalRandom.current().nextDouble() >= sampleRate) {
        return;
      }
      value += "|@" + String.format(Locale.ROOT, "%s", sampleRate);
    }
    String line = (prefix.isEmpty() ? "" : prefix + ".") + bucket + ":" + value;
    try {
      channel.send(ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)), to);
    } catch (IOException e) {
      // statsd away or the buffer full: the value is lost, the plugin goes on
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
