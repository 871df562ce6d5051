package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** metrics_endpoint: scraped over HTTP, parsed by Prometheus's reference parser, its figures checked against /proc. */
class MetricsIT extends ItBase {
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private record Sample(String name, Map<String, Object> labels, double value) { }

  /** Scrapes and parses with python3-prometheus-client (a malformed exposition fails the parse). */
  @SuppressWarnings("unchecked")
  private List<Sample> scrape(int port) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
    Process p = new ProcessBuilder(python(), worker("promparse.py").toString()).start();
    try (var in = p.getOutputStream()) {
      in.write(r.body().getBytes(StandardCharsets.UTF_8));
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(err).isZero();
    List<Sample> samples = new ArrayList<>();
    for (String line : out.split("\n")) {
      if (!line.isBlank()) {
        Map<String, Object> m = (Map<String, Object>) io.jcircus.protocol.Json.parse(line);
        samples.add(new Sample((String) m.get("name"), (Map<String, Object>) m.get("labels"),
            ((Number) m.get("value")).doubleValue()));
      }
    }
    Files.deleteIfExists(dir.resolve("promparse.py"));
    return samples;
  }

  private static double value(List<Sample> samples, String name, Map<String, String> labels) {
    return samples.stream().filter(s -> s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet()))
        .mapToDouble(Sample::value).findFirst().orElse(Double.NaN);
  }

  @Test
  void metricsParseAndMatchProcForKnownProcessesAndCountWhatHappened() throws Exception {
    int port = freePort();
    Path busy = worker("busy.py");
    Daemon d = start("[circus]\nmetrics_endpoint = http://127.0.0.1:" + port + "/metrics\n"
        + "[socket:web]\nhost = 127.0.0.1\nport = 0\n"
        + "[watcher:busy]\ncmd = " + python() + " " + busy + " 64 0.5 1000\n"
        + "[watcher:sleepy]\ncmd = sleep 3600\nnumprocesses = 2\n");
    await(Duration.ofSeconds(30), "3 processes", () -> d.children().size() == 3);
    long pid = Long.parseLong(ctl(d, "list", "busy"));
    // the busy worker has allocated, burnt its CPU and printed its lines
    await(Duration.ofSeconds(20), "busy idle", () -> quietly(() -> Files.readString(Path.of("/proc/" + pid + "/stat"))
        .split(" ")[2].equals("S") && cpuSeconds(pid) >= 0.5));
    Thread.sleep(300);
    List<Sample> s = scrape(port);
    Map<String, String> me = Map.of("watcher", "busy", "pid", Long.toString(pid));
    // against /proc, read now
    double rss = Long.parseLong(Files.readString(Path.of("/proc/" + pid + "/statm")).split(" ")[1])
        * 4096.0;
    assertThat(value(s, "jcircus_process_resident_memory_bytes", me)).isBetween(rss * 0.95, rss * 1.05)
        .isGreaterThan(64 << 20);
    assertThat(value(s, "jcircus_process_cpu_seconds_total", me)).isBetween(cpuSeconds(pid) - 0.05,
        cpuSeconds(pid) + 0.05);
    assertThat(value(s, "jcircus_process_open_fds", me)).isEqualTo(
        (double) Path.of("/proc/" + pid + "/fd").toFile().list().length);
    assertThat(value(s, "jcircus_process_threads", me)).isEqualTo(1);
    assertThat(value(s, "jcircus_process_age_seconds", me)).isBetween(0.5, 60.0);
    assertThat(value(s, "jcircus_watcher_processes", Map.of("watcher", "sleepy"))).isEqualTo(2);
    assertThat(value(s, "jcircus_watcher_state", Map.of("watcher", "sleepy", "state", "active"))).isEqualTo(1);
    assertThat(value(s, "jcircus_output_lines_total", Map.of("watcher", "busy", "stream", "stdout"))).isEqualTo(1000);
    assertThat(value(s, "jcircus_output_bytes_total", Map.of("watcher", "busy", "stream", "stdout")))
        .isEqualTo(expectedBytes(1000));
    assertThat(value(s, "jcircus_socket_backlog", Map.of("socket", "web"))).isGreaterThan(0);
    assertThat(value(s, "jcircus_socket_accept_queue", Map.of("socket", "web"))).isEqualTo(0);
    assertThat(value(s, "jcircus_spawn_duration_seconds_count", Map.of("watcher", "sleepy"))).isEqualTo(2);
    assertThat(value(s, "jvm_threads_current", Map.of())).isGreaterThan(1);
    // circusd's own process_* figures, as the Prometheus client names them
    double selfFds = Path.of("/proc/" + d.pid() + "/fd").toFile().list().length;
    assertThat(value(s, "process_open_fds", Map.of())).isBetween(selfFds - 8, selfFds + 8);
    double selfRss = Long.parseLong(Files.readString(Path.of("/proc/" + d.pid() + "/statm")).split(" ")[1]) * 4096.0;
    assertThat(value(s, "process_resident_memory_bytes", Map.of())).isBetween(selfRss * 0.8, selfRss * 1.2);
    assertThat(value(s, "process_cpu_seconds_total", Map.of())).isBetween(0.1, cpuSeconds(d.pid()) + 0.05);
    assertThat(value(s, "process_max_fds", Map.of())).isGreaterThan(1000);
    assertThat(value(s, "process_start_time_seconds", Map.of()))
        .isBetween(System.currentTimeMillis() / 1000.0 - 120, System.currentTimeMillis() / 1000.0);

    // what happens is counted: a crash (kill -9), a commanded restart, and the commands themselves
    long victim = Long.parseLong(ctl(d, "list", "sleepy").split(",")[0]);
    Proc.kill(victim, 9);
    await(Duration.ofSeconds(10), "respawned", () -> quietly(() -> ctl(d, "list", "sleepy").split(",").length == 2
        && !ctl(d, "list", "sleepy").contains(Long.toString(victim))));
    ctl(d, "restart", "sleepy", "--waiting");
    ctl(d, "status");
    s = scrape(port);
    Map<String, String> sleepy = Map.of("watcher", "sleepy");
    assertThat(value(s, "jcircus_process_exits_total", Map.of("watcher", "sleepy", "how", "signal", "code", "SIGKILL",
        "commanded", "false"))).isEqualTo(1);
    assertThat(value(s, "jcircus_process_exits_total", Map.of("watcher", "sleepy", "commanded", "true"))).isEqualTo(2);
    assertThat(value(s, "jcircus_watcher_restarts_total", sleepy)).isEqualTo(1);
    assertThat(value(s, "jcircus_process_spawns_total", sleepy)).isEqualTo(5);
    assertThat(value(s, "jcircus_commands_total", Map.of("command", "restart", "outcome", "ok"))).isEqualTo(1);
    assertThat(value(s, "jcircus_commands_total", Map.of("command", "status", "outcome", "ok"))).isGreaterThanOrEqualTo(1);
    assertThat(value(s, "jcircus_command_duration_seconds_count", Map.of("command", "list"))).isGreaterThanOrEqualTo(3);

    // the same watchers over JMX, as jconsole reads them: attach, start the local agent, read the MXBean
    com.sun.tools.attach.VirtualMachine vm = com.sun.tools.attach.VirtualMachine.attach(Long.toString(d.pid()));
    String address;
    try {
      address = vm.startLocalManagementAgent();
    } finally {
      vm.detach();
    }
    try (javax.management.remote.JMXConnector c = javax.management.remote.JMXConnectorFactory.connect(
        new javax.management.remote.JMXServiceURL(address))) {
      javax.management.MBeanServerConnection mbs = c.getMBeanServerConnection();
      javax.management.ObjectName sleepyBean = new javax.management.ObjectName(
          "jcircus:type=Watcher,name=\"sleepy\"");
      await(Duration.ofSeconds(5), "the MXBean", () -> quietly(() -> mbs.isRegistered(sleepyBean)));
      assertThat(mbs.getAttribute(sleepyBean, "Processes")).isEqualTo(2);
      await(Duration.ofSeconds(5), "active again", () -> quietly(() -> "active".equals(mbs.getAttribute(sleepyBean,
          "State"))));
      assertThat(mbs.getAttribute(sleepyBean, "Command")).isEqualTo("sleep 3600");
      // refreshed every 2 s: the restart's two spawns show within one refresh
      await(Duration.ofSeconds(5), "5 spawns", () -> quietly(() -> (Long) mbs.getAttribute(sleepyBean, "Spawns") == 5));
      assertThat(mbs.queryNames(new javax.management.ObjectName("jcircus:type=Watcher,*"), null)).hasSize(2);
    }
  }

  /** Bytes of "line 0\n" … "line N-1\n". */
  private static double expectedBytes(int n) {
    long total = 0;
    for (int i = 0; i < n; i++) {
      total += ("line " + i + "\n").length();
    }
    return total;
  }

  private static double cpuSeconds(long pid) throws Exception {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
  }
}
