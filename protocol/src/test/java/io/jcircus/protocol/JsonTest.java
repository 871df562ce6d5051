package io.jcircus.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The codec against Python's json module: what json.dumps writes, Json writes back byte for byte. */
class JsonTest {

  /** Circus replies and events as Circus writes them (recorded from Python 3's json.dumps). */
  @Test
  void writesCircusShapesAsPythonDoes() {
    assertThat(Json.write(Map.of("status", "ok"))).isEqualTo("{\"status\": \"ok\"}");
    Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("pids", List.of(1L, 2L));
    m.put("time", 1.7e9);
    m.put("cpu", 0.0001);
    m.put("big", 1.5e20);
    m.put("name", "caf\u00e9 \u007f\u0001\n\"\\/");
    m.put("none", null);
    m.put("empty", Map.of());
    assertThat(Json.write(m)).isEqualTo("{\"pids\": [1, 2], \"time\": 1700000000.0, \"cpu\": 0.0001, \"big\": 1.5e+20,"
        + " \"name\": \"caf\\u00e9 \\u007f\\u0001\\n\\\"\\\\/\", \"none\": null, \"empty\": {}}");
    assertThat(Json.pretty(Map.of("b", List.of(1L, Map.of()), "a", List.of())))
        .isEqualTo("{\n  \"a\": [],\n  \"b\": [\n    1,\n    {}\n  ]\n}");
  }

  @Test
  void refusesWhatPythonRefusesAndBoundsNesting() {
    assertThatThrownBy(() -> Json.parse("{\"a\": 1} x")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Json.parse("\"a\u0001\"")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Json.parse("")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Json.parse("[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(Json.parse("[".repeat(50) + "]".repeat(50))).isInstanceOf(List.class);
    assertThat(Json.parse("{\"a\": 1, \"a\": 2}")).isEqualTo(Map.of("a", 2L));
    assertThat((Double) Json.parse("NaN")).isNaN();
    assertThat(Json.parse("123456789012345678901234567890")).isEqualTo(1.2345678901234568e29);
  }

  /**
   * Random documents made by python3 on this machine: parsed, then written back, must be json.dumps' bytes. Lone
   * surrogates appear in values only: Jackson refuses one in a key (Python takes it; no Circus client sends one).
   */
  @Test
  void roundTripsWhatPythonWritesByteForByte() throws Exception {
    Path py = Path.of("/usr/bin/python3");
    assumeTrue(Files.isExecutable(py), "no python3");
    String script = String.join("\n",
        "import json, random, sys",
        "r = random.Random(17)",
        "def s(lone=True):",
        "    extra = [0xe9, 0x2028, 0xfffd, 0x10348] + ([0xd800, 0xdfff] if lone else [])",
        "    pool = [chr(c) for c in list(range(0, 0x80)) + extra]",
        "    return ''.join(r.choice(pool) for _ in range(r.randint(0, 12)))",
        "def v(d):",
        "    k = r.randint(0, 8 if d < 4 else 5)",
        "    if k == 0: return None",
        "    if k == 1: return r.random() < 0.5",
        "    if k == 2: return r.randint(-2**63, 2**63 - 1)",
        "    if k == 3: return r.choice([r.random() * 10 ** r.randint(-30, 30), -0.0, 1e16, 0.1, r.random()])",
        "    if k in (4, 5): return s()",
        "    if k == 6: return [v(d + 1) for _ in range(r.randint(0, 4))]",
        "    return {s(False): v(d + 1) for _ in range(r.randint(0, 4))}",
        "for _ in range(3000):",
        "    x = v(0)",
        "    print(json.dumps(x))",
        "    print(json.dumps(json.dumps(x, indent=2, sort_keys=True)))");
    Process p = new ProcessBuilder(py.toString(), "-c", script).redirectErrorStream(true).start();
    List<String> lines = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).lines().toList();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(lines).hasSize(6000);
    for (int i = 0; i < lines.size(); i += 2) {
      String compact = lines.get(i);
      Object parsed = Json.parse(compact);
      assertThat(Json.write(parsed)).as("line %d", i).isEqualTo(compact);
      assertThat(Json.pretty(parsed)).as("line %d", i).isEqualTo(Json.parse(lines.get(i + 1)));
    }
  }
}
