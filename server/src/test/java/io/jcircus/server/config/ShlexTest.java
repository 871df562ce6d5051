package io.jcircus.server.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ShlexTest {
  @Test
  void splitsLikePythonShlex() {
    assertThat(Shlex.split("a 'b c' \"d \\\"e\\\"\" f\\ g")).containsExactly("a", "b c", "d \"e\"", "f g");
    assertThat(Shlex.split("  ")).isEmpty();
    assertThat(Shlex.split("x''y")).containsExactly("xy");
  }

  @Test
  void substitutesCircusPatternsCaseInsensitively() {
    Map<String, String> vals = Map.of("wid", "3", "env.HOME", "/root", "sockets.web", "8");
    String s = Substitution.expand("a $(circus.wid) ((circus.wid)) $(CIRCUS.ENV.HOME) $(circus.sockets.web) $(circus.unknown)",
        vals::get);
    assertThat(s).isEqualTo("a 3 3 /root 8 $(circus.unknown)");
  }
}
