package io.jcircus.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The option table: the README's key table is it, and what it parses is what the file and `set` accept. */
class WatcherOptionsTest {

  /** The README's table of watcher keys, as the option table renders it. */
  static String table() {
    StringBuilder t = new StringBuilder("| key | type | default | `set` |\n|---|---|---|---|\n");
    for (WatcherOptions.Option o : WatcherOptions.all()) {
      t.append("| `").append(o.key()).append("` | ").append(o.type().shown).append(" | ")
          .append(o.defaultShown().isEmpty() ? "" : "`" + o.defaultShown() + "`").append(" | ")
          .append(o.apply().shown).append(" |\n");
    }
    return t.toString();
  }

  @Test
  void theReadmeTableIsTheOptionTable() throws Exception {
    Path readme = Path.of(System.getProperty("user.dir")).getParent().resolve("README.md");
    String text = Files.readString(readme, StandardCharsets.UTF_8);
    assertThat(text).as("README.md should hold, verbatim, the table below (regenerate it from WatcherOptions)\n"
        + table()).contains(table());
  }

  @Test
  void defaultsShownAreTheBuildersDefaults() throws Exception {
    WatcherConfig empty = new ConfigLoader(Map.of(), ConfigLoader.users())
        .loadText(Path.of("t.ini"), "[watcher:w]\ncmd = x\n").watchers.get(0);
    for (WatcherOptions.Option o : WatcherOptions.all()) {
      if (o.type() == WatcherOptions.Type.SPECIAL || o.view() == null || o.key().equals("working_dir")
          || o.key().equals("cmd")) {
        continue;
      }
      Object shown = o.defaultShown().isEmpty() ? null : o.fromIni(o.defaultShown());
      Object actual = o.view().apply(empty);
      if (shown instanceof Long l) {
        shown = l.intValue();
      }
      if (o.type() == WatcherOptions.Type.TEXT && shown == null) {
        shown = "";
      }
      assertThat(actual).as(o.key()).isEqualTo(shown);
    }
  }

  @Test
  void oneRuleForTheFileAndForSet() {
    WatcherOptions.Option n = WatcherOptions.get("numprocesses");
    assertThatThrownBy(() -> n.fromIni("100001")).hasMessageContaining("between 0 and 10000");
    assertThatThrownBy(() -> n.fromJson(100001L)).hasMessageStartingWith("'numprocesses' ").hasMessageContaining(
        "between 0 and 10000");
    assertThatThrownBy(() -> n.fromIni("four")).hasMessage("expected an integer; got 'four'");
    assertThatThrownBy(() -> n.fromJson("4")).hasMessage("'numprocesses' isn't an integer");
    assertThat(WatcherOptions.get("respawn").fromIni("off")).isEqualTo(false);
    assertThat(WatcherOptions.get("stop_signal").fromIni("QUIT")).isEqualTo(3L);
    assertThat(WatcherOptions.get("backoff_factor").fromJson(3L)).isEqualTo(3.0);
    assertThatThrownBy(() -> WatcherOptions.get("backoff_factor").fromIni("1000")).hasMessageContaining("100");
  }

  @Test
  void aConfigurationCannotBeChangedInPlace() throws Exception {
    WatcherConfig w = new ConfigLoader(Map.of(), ConfigLoader.users())
        .loadText(Path.of("t.ini"), "[watcher:w]\ncmd = x\n[env:w]\nA = 1\n").watchers.get(0);
    assertThatThrownBy(() -> w.env.put("B", "2")).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> w.freeform.put("B", "2")).isInstanceOf(UnsupportedOperationException.class);
    WatcherConfig.Builder b = w.toBuilder();
    b.env.put("B", "2");
    b.gracefulTimeout = 3;
    WatcherConfig changed = b.build();
    assertThat(changed.env).containsEntry("B", "2");
    assertThat(changed.gracefulTimeout).isEqualTo(3.0);
    assertThat(w.env).doesNotContainKey("B");
    assertThat(w.gracefulTimeout).isEqualTo(30.0);
  }
}
