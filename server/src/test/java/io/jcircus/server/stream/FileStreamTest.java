package io.jcircus.server.stream;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileStreamTest {
  @TempDir Path dir;

  private static ByteBuffer lines(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
  }

  @Test
  void sizeRotationCutsBetweenLinesOnly() throws Exception {
    Path f = dir.resolve("out.log");
    FileStream s = new FileStream(f, 100, 3, null, false);
    List<String> written = new ArrayList<>();
    StringBuilder chunk = new StringBuilder();
    for (int i = 0; i < 40; i++) {
      String l = "line-" + i + "-" + "y".repeat(i % 13);
      written.add(l);
      chunk.append(l).append('\n');
      if (i % 7 == 6) {
        s.write(lines(chunk.toString()), 1);
        chunk.setLength(0);
      }
    }
    s.write(lines(chunk.toString()), 1);
    s.close();
    List<String> all = new ArrayList<>();
    for (int i = 3; i >= 1; i--) {
      Path r = Path.of(f + "." + i);
      assertThat(r).exists();
      assertThat(Files.size(r)).isLessThanOrEqualTo(100);
      all.addAll(Files.readAllLines(r));
    }
    all.addAll(Files.readAllLines(f));
    assertThat(Path.of(f + ".4")).doesNotExist();
    // Only the newest files are kept, and what is kept is whole lines in order.
    assertThat(written).containsSubsequence(all);
    assertThat(written.subList(written.size() - all.size(), written.size())).isEqualTo(all);
  }

  @Test
  void aLineLongerThanMaxBytesGetsAFileOfItsOwn() throws Exception {
    Path f = dir.resolve("long.log");
    FileStream s = new FileStream(f, 10, 5, null, false);
    s.write(lines("ab\n" + "z".repeat(25) + "\ncd\n"), 1);
    s.close();
    assertThat(Files.readString(Path.of(f + ".2"))).isEqualTo("ab\n");
    assertThat(Files.readString(Path.of(f + ".1"))).isEqualTo("z".repeat(25) + "\n");
    assertThat(Files.readString(f)).isEqualTo("cd\n");
  }

  @Test
  void timeFormatPrefixesEveryLine() throws Exception {
    Path f = dir.resolve("prefixed.log");
    LinePrefixer p = new LinePrefixer(TimeFormat.strftime("%Y-%m-%d %H:%M:%S", ZoneOffset.UTC), null);
    FileStream s = new FileStream(f, 0, 0, p, false);
    s.write(lines("one\ntwo\n"), 42);
    s.close();
    assertThat(Files.readAllLines(f)).hasSize(2) // allMatch alone passes on an empty file
        .allMatch(l -> l.matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\[42\\] \\| (one|two)"));
    assertThat(Files.readAllLines(f).get(0)).endsWith("| one");
    assertThat(Files.readAllLines(f).get(1)).endsWith("| two");
  }
}
