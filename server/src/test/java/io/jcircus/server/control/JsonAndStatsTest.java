package io.jcircus.server.control;

import io.jcircus.protocol.Json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonAndStatsTest {
  @Test
  void writesLikePythonJsonDumps() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("status", "ok");
    m.put("time", 1796124374.8377812);
    m.put("watchers", List.of("a", "b"));
    m.put("n", 3);
    m.put("f", 5.0);
    m.put("u", "é\"\n");
    m.put("id", null);
    assertThat(Json.write(m)).isEqualTo(
        "{\"status\": \"ok\", \"time\": 1796124374.8377812, \"watchers\": [\"a\", \"b\"], \"n\": 3, \"f\": 5.0,"
            + " \"u\": \"\\u00e9\\\"\\n\", \"id\": null}");
  }

  @Test
  void writesFloatsAsPythonsJsonDumps() {
    // recorded from python3 -c 'import json; print(json.dumps([0.1, 2.5, ...]))'
    double[] in = {0.1, 2.5, 0.039, 99.9, 1796124362.61, 20.149, -3.25, 0.001, 12.34, 1e-4, 1.5e20, -0.0, 1e-5};
    String[] python = {"0.1", "2.5", "0.039", "99.9", "1796124362.61", "20.149", "-3.25", "0.001", "12.34", "0.0001",
        "1.5e+20", "-0.0", "1e-05"};
    for (int i = 0; i < in.length; i++) {
      assertThat(Json.write(in[i])).as(Double.toString(in[i])).isEqualTo(python[i]);
    }
  }

  @Test
  void parsesAnyJsonAndRejectsGarbage() {
    assertThat(Json.parse("{\"a\": [1, 2.5, true, null, \"\\u00e9\"]}"))
        .isEqualTo(Map.of("a", java.util.Arrays.asList(1L, 2.5, true, null, "é")));
    assertThatThrownBy(() -> Json.parse("not json")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Json.parse("{\"a\": 1} x")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void humanisesLikeCircus() {
    assertThat(ProcStats.human(1000)).isEqualTo("1000B");
    assertThat(ProcStats.human(2048)).isEqualTo("2.00K");
    assertThat(ProcStats.human(10L * 1024 * 1024)).isEqualTo("10.00M");
    assertThat(ProcStats.human(3L << 40)).isEqualTo("3.00T");
  }
}
