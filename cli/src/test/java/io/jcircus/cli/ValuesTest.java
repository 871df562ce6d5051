package io.jcircus.cli;

import io.jcircus.protocol.Json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ValuesTest {
  private final CommandLine.Model.CommandSpec spec = new CommandLine(new CtlCommands.Set()).getCommandSpec();

  @Test
  void setConvertsLikeCircusctlAndFixesEnv() {
    assertThat(Values.convert(spec, "numprocesses", "3")).isEqualTo(3L);
    assertThat(Values.convert(spec, "graceful_timeout", "10")).isEqualTo(10.0);
    assertThat(Values.convert(spec, "stop_signal", "QUIT")).isEqualTo(3);
    assertThat(Values.convert(spec, "stop_signal", "SIGKILL")).isEqualTo(9);
    assertThat(Values.convert(spec, "respawn", "off")).isEqualTo(false);
    assertThat(Values.convert(spec, "env", "A=1,B=x=y")).isEqualTo(Map.of("A", "1", "B", "x=y"));
    assertThat(Values.convert(spec, "hooks", "before_start:mod.fn,after_stop:mod.g"))
        .isEqualTo(Map.of("before_start", "mod.fn", "after_stop", "mod.g"));
    assertThat(Values.convert(spec, "rlimit_nofile", "1024")).isEqualTo(1024L);
    assertThat(Values.convert(spec, "rlimit_core", "unlimited")).isNull();
    assertThat(Values.convert(spec, "stdout_stream.filename", "/x.log")).isEqualTo("/x.log");
    assertThatThrownBy(() -> Values.convert(spec, "numprocesses", "many"))
        .hasMessageContaining("numprocesses: 'many' is not a number");
    assertThatThrownBy(() -> Values.convert(spec, "stop_signal", "NOPE")).hasMessageContaining("unknown signal");
    assertThatThrownBy(() -> Values.convert(spec, "env", "novalue")).hasMessageContaining("NAME=VALUE");
  }

  @Test
  void commandWordsSurviveTheDaemonsShlexSplit() {
    assertThat(Values.commandLine(List.of("sleep", "10"))).isEqualTo("sleep 10");
    assertThat(Values.commandLine(List.of("python3", "-c", "import time; time.sleep(1)")))
        .isEqualTo("python3 -c 'import time; time.sleep(1)'");
    assertThat(Values.commandLine(List.of("echo", "it's", ""))).isEqualTo("echo 'it'\"'\"'s' ''");
  }

  @Test
  void pythonStrOfValues() {
    assertThat(Values.str(null)).isEmpty();
    assertThat(Values.str(true)).isEqualTo("True");
    assertThat(Values.str(2.0)).isEqualTo("2.0");
    assertThat(Values.str(0.039)).isEqualTo("0.039");
    assertThat(Values.str(Map.of("B", "2", "A", "1", "__name__", "env:web"))).isEqualTo("A=1,B=2");
    assertThat(Values.str(List.of("a", 1L))).isEqualTo("['a', 1]");
  }

  @Test
  void keygenWritesZcertFilesOnlyTheOwnerReads(@TempDir Path dir) throws Exception {
    Path[] files = CurveOptions.generate(dir.resolve("keys"), "alice", false);
    for (Path f : files) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-------");
    }
    String[] pub = CurveOptions.load(files[0]);
    String[] sec = CurveOptions.load(files[1]);
    assertThat(pub[0]).hasSize(40).isEqualTo(sec[0]);
    assertThat(pub[1]).isNull();
    assertThat(sec[1]).hasSize(40);
    assertThatThrownBy(() -> CurveOptions.generate(dir.resolve("keys"), "alice", false)).hasMessageContaining("exists");
    assertThat(Json.pretty(Map.of("b", List.of(1L), "a", Map.of()))).isEqualTo("{\n  \"a\": {},\n  \"b\": [\n    1\n  ]\n}");
  }
}
