package io.jcircus.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LiveOutputTest {
  private static ByteBuffer lines(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }

  private static final class Capture implements OutputSink {
    final StringBuilder got = new StringBuilder();

    @Override
    public void write(ByteBuffer b, int pid) {
      got.append(StandardCharsets.UTF_8.decode(b));
    }

    @Override
    public void close() { }
  }

  @Test
  void numbersLinesPerWatcherAndPerProcessAndPassesThemOn() throws Exception {
    LiveOutput live = new LiveOutput(16);
    Capture out = new Capture();
    OutputSink[] a = live.sinks("web", 10, out, null);
    OutputSink[] b = live.sinks("web", 11, null, null);
    a[0].write(lines("a1\na2\n"), 10);
    b[1].write(lines("b1\n"), 11);
    a[1].write(lines("a3\n"), 10);
    assertThat(out.got).hasToString("a1\na2\n");
    List<LiveOutput.Line> all = live.lines("web", null, null, 10, null);
    assertThat(all).extracting(LiveOutput.Line::data).containsExactly("a1", "a2", "b1", "a3");
    assertThat(all).extracting(LiveOutput.Line::seq).containsExactly(1L, 2L, 3L, 4L);
    assertThat(all).extracting(LiveOutput.Line::pseq).containsExactly(1L, 2L, 1L, 3L);
    assertThat(live.lines("web", 10, "stderr", 10, null)).extracting(LiveOutput.Line::data).containsExactly("a3");
    assertThat(live.lines("web", null, null, 2, null)).extracting(LiveOutput.Line::data).containsExactly("b1", "a3");
    assertThat(live.lines("web", null, null, 0, 2L)).extracting(LiveOutput.Line::data).containsExactly("b1", "a3");
    assertThat(live.nextSeq("web")).isEqualTo(5);
    assertThat(live.queue()).isEmpty(); // nobody subscribed: nothing queued
  }

  @Test
  void keepsTheLastThousandLinesAndDropsWhatTheQueueCannotTake() throws Exception {
    LiveOutput live = new LiveOutput(2);
    live.subscribed(java.util.Set.of("output.w."));
    OutputSink out = live.sinks("w", 1, null, null)[0];
    for (int i = 0; i < 3000; i++) {
      out.write(lines("line " + i + "\n"), 1);
    }
    List<LiveOutput.Line> ring = live.lines("w", null, null, LiveOutput.RING_LINES, null);
    assertThat(ring).hasSize(LiveOutput.RING_LINES);
    assertThat(ring.get(ring.size() - 1).data()).isEqualTo("line 2999");
    assertThat(ring.get(0).seq()).isEqualTo(2001);
    assertThat(live.queue()).hasSize(2);
    assertThat(live.published()).isEqualTo(2);
    assertThat(live.dropped()).isEqualTo(2998);
  }

  @Test
  void countsNewlinesEightBytesAtATime() {
    java.util.Random r = new java.util.Random(42);
    for (int n = 0; n < 200; n++) {
      byte[] d = new byte[r.nextInt(100)];
      for (int i = 0; i < d.length; i++) {
        int c = r.nextInt(6);
        d[i] = (byte) (c == 0 ? '\n' : c == 1 ? 0x8A : c == 2 ? 0x0B : c == 3 ? 0 : c == 4 ? 0xFF : 'x');
      }
      int expected = 0;
      for (byte b : d) {
        expected += b == '\n' ? 1 : 0;
      }
      assertThat(LiveOutput.newlines(d)).isEqualTo(expected);
    }
  }

  @Test
  void splitsBigWritesAtLineEndsAndKeepsAnOverlongLineWhole() throws Exception {
    LiveOutput live = new LiveOutput(64);
    live.subscribed(java.util.Set.of("output.w."));
    StringBuilder big = new StringBuilder();
    for (int i = 0; i < 20_000; i++) {
      big.append("0123456789\n"); // 220 000 bytes
    }
    String longLine = "y".repeat(100_000);
    live.sinks("w", 1, null, null)[0].write(lines(big + longLine + "\nlast"), 1);
    List<LiveOutput.Chunk> chunks = new ArrayList<>(live.queue());
    assertThat(chunks).allSatisfy(c -> assertThat(c.data().length <= LiveOutput.MAX_CHUNK
        || new String(c.data(), StandardCharsets.UTF_8).equals(longLine + "\n"))
        .as("only the overlong line may exceed a chunk").isTrue());
    assertThat(chunks.stream().mapToInt(LiveOutput.Chunk::lines).sum()).isEqualTo(20_002);
    long seq = 1;
    for (LiveOutput.Chunk c : chunks) {
      assertThat(c.seq()).isEqualTo(seq);
      seq += c.lines();
      assertThat(c.data()[c.data().length - 1] == '\n' || c == chunks.get(chunks.size() - 1)).isTrue();
    }
    assertThat(chunks).anySatisfy(c -> assertThat(new String(c.data(), StandardCharsets.UTF_8)).isEqualTo(longLine + "\n"));
    assertThat(live.lines("w", null, null, 1, null).get(0).data()).isEqualTo("last");
  }
}
