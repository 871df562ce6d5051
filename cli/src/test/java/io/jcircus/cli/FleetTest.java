package io.jcircus.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jcircus.protocol.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.zeromq.ZContext;

class FleetTest {
  @TempDir Path dir;

  @Test
  void aDaemonOfTheCommandLineIsNamedByItsEndpointUnlessNamed() {
    assertThat(Fleet.named("tcp://127.0.0.1:5555")).containsExactly("127.0.0.1:5555", "tcp://127.0.0.1:5555");
    assertThat(Fleet.named("web-1=tcp://10.0.0.5:5555")).containsExactly("web-1", "tcp://10.0.0.5:5555");
    assertThat(Fleet.named("ipc:///var/run/circus/endpoint")).containsExactly("endpoint",
        "ipc:///var/run/circus/endpoint");
  }

  @Test
  void removingADaemonKeepsTheRestOfTheFileAsItWas() {
    List<String> lines = List.of("; my fleet", "[daemon:a]", "endpoint = tcp://h:1", "", "[daemon:b]",
        "endpoint = tcp://h:2", "; b's note", "[daemon:c]", "endpoint = tcp://h:3");
    assertThat(Fleet.without(lines, "daemon:b")).isEqualTo(
        "; my fleet\n[daemon:a]\nendpoint = tcp://h:1\n\n[daemon:c]\nendpoint = tcp://h:3\n");
  }

  private String loadError(String text) throws Exception {
    Path f = dir.resolve("console.ini");
    Files.writeString(f, text);
    try (ZContext ctx = ControlClient.context(); Fleet fleet = new Fleet(ctx, 1000, new CurveOptions(), f)) {
      assertThatThrownBy(fleet::load).isInstanceOf(ConfigException.class);
      try {
        fleet.load();
      } catch (ConfigException e) {
        return e.getMessage().substring(f.toString().length());
      }
    }
    return null;
  }

  @Test
  void aBadConfigNamesTheLineTheKeyAndTheRule() throws Exception {
    assertThat(loadError("[daemon:a]\nendpoint = tcp://h:1\nendpont = x\n"))
        .isEqualTo(":3: [daemon:a] endpont: unknown key; a daemon has endpoint, curve_server_key, curve_key");
    assertThat(loadError("[daemon:a]\ncurve_key = x\n")).startsWith(":1: [daemon:a] endpoint: missing");
    assertThat(loadError("[daemon:a]\nendpoint = http://h\n")).isEqualTo(
        ":2: [daemon:a] endpoint: not an endpoint: tcp://HOST:PORT or ipc:///PATH");
    assertThat(loadError("[watcher:a]\nendpoint = tcp://h:1\n")).startsWith(":1: [watcher:a] unknown section");
    assertThat(loadError("[daemon:a b]\nendpoint = tcp://h:1\n")).startsWith(":1: [daemon:a b] a daemon's name");
    assertThat(loadError("[daemon:a]\nendpoint = tcp://h:1\ncurve_server_key = /nonexistent/server.key\n"))
        .startsWith(":3: [daemon:a] curve_server_key: ");
  }

  @Test
  void theConfigsDaemonsAreLoadedInOrderWithTheirKeys() throws Exception {
    String serverKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"; // any 40 Z85 characters
    Path client = CurveOptions.generate(dir.resolve("keys"), "console", false)[1];
    Path f = dir.resolve("console.ini");
    Files.writeString(f, "[daemon:b]\nendpoint = tcp://127.0.0.1:2\ncurve_server_key = " + serverKey
        + "\ncurve_key = " + client + "\n[daemon:a]\nendpoint = tcp://127.0.0.1:1\n");
    try (ZContext ctx = ControlClient.context(); Fleet fleet = new Fleet(ctx, 1000, new CurveOptions(), f)) {
      fleet.load();
      assertThat(fleet.all()).extracting(d -> d.name).containsExactly("b", "a");
      assertThat(fleet.get(null).name).isEqualTo("b");
      assertThat(fleet.get("b").curve.serverPublic()).isEqualTo(serverKey);
      assertThat(fleet.get("a").curve).isNull();
      assertThat(fleet.add("a", "tcp://127.0.0.1:3", null)).contains("exists already");
      assertThat(fleet.add("c", "tcp://127.0.0.1:3", null)).isNull();
      assertThat(Files.readString(f)).endsWith("\n[daemon:c]\nendpoint = tcp://127.0.0.1:3\n");
      assertThat(fleet.remove("c")).isNull();
      assertThat(Files.readString(f)).doesNotContain("daemon:c");
    }
  }
}
