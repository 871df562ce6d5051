package io.jcircus.server.arbiter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jcircus.server.config.ConfigLoader;
import io.jcircus.server.config.WatcherConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a spawn runs, computed without an event loop, a socket or a child. */
class SpawnPlanTest {
  private static final SpawnPlan.Context ROOT = new SpawnPlan.Context(0, 0, 4242,
      Map.of("PATH", "/usr/bin:/bin", "HOME", "/root", "LANG", "C.UTF-8"));

  private static WatcherConfig watcher(String section) throws Exception {
    return new ConfigLoader(Map.of("HOME", "/root"), ConfigLoader.users())
        .loadText(Path.of("/tmp/plan.ini"), "[socket:web]\nport = 0\n[watcher:w]\n" + section).watchers.get(0);
  }

  private static Map<String, String> env(SpawnPlan p) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String e : p.env) {
      m.put(e.substring(0, e.indexOf('=')), e.substring(e.indexOf('=') + 1));
    }
    return m;
  }

  @Test
  void expandsTheCommandLineForEachProcess() throws Exception {
    WatcherConfig w = watcher("cmd = sleep $(circus.wid)00 --fd $(circus.sockets.web)\nargs = 'two words' $(circus.name)\n"
        + "use_sockets = true\nreadiness = tcp://127.0.0.1:80$(circus.wid)\n[env:w]\nWID = $(circus.wid)\n");
    SpawnPlan p = SpawnPlan.of(w, 3, 4, Map.of("web", 7), null, ROOT);
    assertThat(p.path).isEqualTo("/usr/bin/sleep");
    assertThat(p.argv).containsExactly("sleep", "300", "--fd", "7", "two words", "w");
    assertThat(env(p)).containsEntry("WID", "3").doesNotContainKey("HOME"); // copy_env is off
    assertThat(p.readyCheck).isEqualTo("tcp://127.0.0.1:803");
  }

  @Test
  void shellAndCopyEnv() throws Exception {
    SpawnPlan p = SpawnPlan.of(watcher("cmd = echo $HOME\nargs = x\nshell = true\ncopy_env = true\n"), 1, 1,
        Map.of(), null, ROOT);
    assertThat(p.argv).containsExactly("/bin/sh", "-c", "echo $HOME x");
    assertThat(env(p)).containsEntry("HOME", "/root").containsEntry("LANG", "C.UTF-8");
  }

  @Test
  void systemdHandoffSetsListenFdsAndExecsThroughAShellThatKnowsThePid() throws Exception {
    WatcherConfig w = watcher("cmd = /opt/app --listen\nhandoff = systemd\nuse_sockets = true\n");
    Map<String, Integer> fds = new LinkedHashMap<>();
    fds.put("web", 3);
    SpawnPlan p = SpawnPlan.of(w, 1, 1, fds, "/run/jcircus-1/w-1-0.sock", ROOT);
    assertThat(p.path).isEqualTo("/bin/sh");
    assertThat(p.argv).containsExactly("/bin/sh", "-c", "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"",
        "/opt/app", "--listen");
    assertThat(env(p)).containsEntry("LISTEN_FDS", "1").containsEntry("LISTEN_FDNAMES", "web")
        .containsEntry("NOTIFY_SOCKET", "/run/jcircus-1/w-1-0.sock").doesNotContainKey("LISTEN_PID");
  }

  @Test
  void einhornNamesEveryFdAndTheMaster() throws Exception {
    SpawnPlan p = SpawnPlan.of(watcher("cmd = /opt/app\nhandoff = einhorn\n"), 1, 1, Map.of("web", 9), null, ROOT);
    assertThat(env(p)).containsEntry("EINHORN_FD_COUNT", "1").containsEntry("EINHORN_FD_0", "9")
        .containsEntry("EINHORN_MASTER_PID", "4242");
  }

  @Test
  void limitsAndAnotherUserGoThroughExecHelpersThatKeepThePid() throws Exception {
    WatcherConfig w = watcher("cmd = /opt/app\nrlimit_nofile = 4096\nuid = nobody\n");
    SpawnPlan p = SpawnPlan.of(w, 1, 1, Map.of(), null, ROOT);
    assertThat(p.path).isEqualTo("/usr/bin/prlimit");
    assertThat(p.argv).startsWith("/usr/bin/prlimit", "--nofile=4096:4096", "--", "/usr/bin/setpriv",
        "--reuid=" + w.uid).endsWith("--init-groups", "--", "/opt/app");
    // the same user needs no setpriv
    SpawnPlan self = SpawnPlan.of(w, 1, 1, Map.of(), null, new SpawnPlan.Context(w.uid, w.gid, 1, Map.of()));
    assertThat(self.argv).doesNotContain("/usr/bin/setpriv");
  }

  @Test
  void aProgramNotOnThePathIsAnErrorNamingIt() throws Exception {
    assertThatThrownBy(() -> SpawnPlan.of(watcher("cmd = no-such-program-here\n"), 1, 1, Map.of(), null, ROOT))
        .isInstanceOf(IOException.class)
        .hasMessage("posix_spawn(no-such-program-here): ENOENT (not found in PATH=/usr/bin:/bin)");
    assertThat(SpawnPlan.of(watcher("cmd = bin/run\nworking_dir = /srv/app\n"), 1, 1, Map.of(), null, ROOT).path)
        .isEqualTo("/srv/app/bin/run");
  }
}
