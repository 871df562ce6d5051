package io.jcircus.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class PyFloatTest {
  /** Python 3's json.dumps of each value, recorded (python3 -c 'import json; print(json.dumps(X))'). */
  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "0.1|0.1", "2.5|2.5", "0.039|0.039", "99.9|99.9", "1796124362.61|1796124362.61", "20.149|20.149",
      "-3.25|-3.25", "0.001|0.001", "12.34|12.34", "1e-4|0.0001", "1.5e20|1.5e+20", "1e-5|1e-05", "1e16|1e+16",
      "9999999999999998|9999999999999998.0", "1e15|1000000000000000.0", "100|100.0", "-0.0|-0.0", "0|0.0",
      "123456789012345680|1.2345678901234568e+17", "0.30000000000000004|0.30000000000000004", "1e22|1e+22",
      "5e-324|5e-324", "1.7976931348623157e308|1.7976931348623157e+308", "0.00015|0.00015", "2.5e-05|2.5e-05",
      "1796665731.443|1796665731.443", "33.333333333333336|33.333333333333336", "-1e-7|-1e-07",
      "2.82879384806159e17|2.82879384806159e+17", "123.456e10|1234560000000.0"})
  void writesWhatPythonWrites(double value, String python) {
    assertThat(PyFloat.repr(value)).as(Double.toString(value)).isEqualTo(python);
  }

  @Test
  void nonFiniteAsPythonsJson() {
    assertThat(PyFloat.repr(Double.NaN)).isEqualTo("NaN");
    assertThat(PyFloat.repr(Double.POSITIVE_INFINITY)).isEqualTo("Infinity");
    assertThat(PyFloat.repr(Double.NEGATIVE_INFINITY)).isEqualTo("-Infinity");
  }

  /** 20 000 doubles of every kind against the python3 on this machine, when there is one. */
  @Test
  void agreesWithPythonOnRandomDoubles() throws Exception {
    Path py = Path.of("/usr/bin/python3");
    assumeTrue(Files.isExecutable(py), "no python3");
    Random r = new Random(17);
    List<Double> values = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      switch (i % 5) {
        case 0 -> values.add(Double.longBitsToDouble(r.nextLong())); // any bit pattern
        case 1 -> values.add(Math.round(r.nextDouble() * 1e6) / 1000.0); // millisecond-ish figures
        case 2 -> values.add(r.nextDouble() * Math.pow(10, r.nextInt(40) - 20));
        case 3 -> values.add((double) r.nextLong() / (1 + r.nextInt(1000)));
        default -> values.add(1.79e9 + r.nextInt(1_000_000) / 1000.0); // timestamps
      }
    }
    Process p = new ProcessBuilder(py.toString(), "-c", "import json, struct, sys\n"
        + "for line in sys.stdin:\n"
        + "    print(json.dumps(struct.unpack('<d', bytes.fromhex(line.strip()))[0]))\n").start();
    Thread feeder = new Thread(() -> {
      try (Writer w = new java.io.OutputStreamWriter(p.getOutputStream(), StandardCharsets.US_ASCII)) {
        for (double d : values) {
          long bits = Double.doubleToRawLongBits(d);
          StringBuilder hex = new StringBuilder();
          for (int b = 0; b < 8; b++) {
            hex.append(String.format("%02x", (bits >>> (8 * b)) & 0xFF));
          }
          w.write(hex.append('\n').toString());
        }
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    feeder.start();
    int compared = 0;
    try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII))) {
      for (double d : values) {
        String python = in.readLine();
        assertThat(PyFloat.repr(d)).as("bits %016x", Double.doubleToRawLongBits(d)).isEqualTo(python);
        compared++;
      }
    }
    feeder.join();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(compared).isEqualTo(20_000);
  }
}
