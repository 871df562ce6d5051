package io.jcircus.server.config;

import io.jcircus.protocol.ConfigException;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderTest {
  private static final ConfigLoader.UserLookup USERS = new ConfigLoader.UserLookup() {
    @Override
    public User user(String nameOrId) {
      return nameOrId.equals("nobody") || nameOrId.equals("65534") ? new User("nobody", 65534, 65534, "/nonexistent") : null;
    }

    @Override
    public int group(String nameOrId) {
      return nameOrId.equals("nogroup") ? 65534 : -1;
    }
  };

  @TempDir Path dir;

  private CircusConfig load(String text) throws ConfigException {
    return new ConfigLoader(Map.of("HOME", "/home/me", "BAR", "bar"), USERS).loadText(dir.resolve("circus.ini"), text);
  }

  @Test
  void httpdTrueAddsTheConsolesSocketAndSingletonWatcherUnlessTheFileHasThem() throws Exception {
    CircusConfig c = load("[circus]\nhttpd = True\nhttpd_port = 8081\n[watcher:w]\ncmd = sleep 1\n");
    assertThat(c.socket("circushttpd")).satisfies(s -> {
      assertThat(s.host()).isEqualTo("localhost");
      assertThat(s.port()).isEqualTo(8081);
    });
    WatcherConfig w = c.watchers.stream().filter(x -> x.name.equals("circushttpd")).findFirst().orElseThrow();
    assertThat(w.singleton).isTrue();
    assertThat(w.useSockets).isTrue();
    assertThat(w.socketRefs).containsExactly("circushttpd");
    assertThat(w.cmd).endsWith("bin/circus-httpd --endpoint tcp://127.0.0.1:5555 --fd $(circus.sockets.circushttpd)");
    CircusConfig own = load("[circus]\nhttpd = True\n[watcher:circushttpd]\ncmd = /opt/console\n");
    assertThat(own.watchers).singleElement().satisfies(x -> assertThat(x.cmd).isEqualTo("/opt/console"));
    assertThat(load("[watcher:w]\ncmd = sleep 1\n").socket("circushttpd")).isNull();
  }

  @Test
  void aPluginJcircusDoesNotRunInProcessRunsAsCircusRunsItAWatcherPluginNameRunningCircusPlugin() throws Exception {
    CircusConfig c = load("[circus]\npubsub_endpoint = tcp://127.0.0.1:5556\n"
        + "[plugin:dog]\nuse = circus.plugins.redis_observer.RedisObserver\nloop_rate = 5\nport = 1664\n"
        + "[plugin:flapping]\nuse = circus.plugins.flapping.Flapping\nattempts = 3\n"
        + "[plugin:mine]\nuse = com.example.Mine\nclasspath = /opt/mine.jar\ntimeout = 2\n");
    assertThat(c.plugins.keySet()).containsExactly("dog", "flapping", "mine");
    assertThat(c.watchers).singleElement().satisfies(w -> {
      assertThat(w.name).isEqualTo("plugin:dog");
      assertThat(w.cmd).isEqualTo("circus-plugin --endpoint tcp://127.0.0.1:5555 --pubsub tcp://127.0.0.1:5556"
          + " --config loop_rate:5:::port:1664 circus.plugins.redis_observer.RedisObserver");
      assertThat(w.priority).isEqualTo(1);
      assertThat(w.singleton).isTrue();
      assertThat(w.copyEnv).isTrue();
    });
    assertThatThrownBy(() -> load("[plugin:mine]\nuse = com.example.Mine\nclasspath = /opt/mine.jar\ntimeout = -1\n"))
        .hasMessageContaining(":4: [plugin:mine] timeout: must be between 0 and 3600 seconds; got '-1'");
  }

  @Test
  void readsCircusIniAsCircusDoes() throws Exception {
    CircusConfig c = load(String.join("\n",
        "# comment",
        "; another",
        "rem old style",
        "[circus]",
        "check_delay = 2.5   ; inline comment",
        "endpoint = tcp://127.0.0.1:7555",
        "",
        "[env]",
        "GLOBAL = $BAR-x",
        "[env:web,work*]",
        "FOO = foo$NOPE",
        "[socket:Web]",
        "host = 127.0.0.1",
        "port = 0",
        "[watcher:web]",
        "cmd = python3 worker.py",
        "  --fd $(circus.sockets.web)",
        "args = ((circus.wid)) \"a b\" 'c d'",
        "numprocesses = 4",
        "numprocesses = 9",
        "use_sockets = yes",
        "stop_signal = QUIT",
        "warmup_delay = 0.5",
        "flapping.attempts = 3",
        "stdout_stream.class = FileStream",
        "stdout_stream.filename = logs/web.log",
        "stdout_stream.max_bytes = 1000",
        "rlimit_nofile = 4096",
        "rlimit_core =",
        "home = $(CIRCUS.ENV.HOME)",
        "[watcher:plain]",
        "cmd: sleep 10",
        "priority = 3"));
    assertThat(c.checkDelay).isEqualTo(2.5);
    assertThat(c.endpoint).isEqualTo("tcp://127.0.0.1:7555");
    assertThat(c.sockets).hasSize(1);
    assertThat(c.sockets.get(0).name()).isEqualTo("web");
    assertThat(c.watchers).extracting(w -> w.name).containsExactly("plain", "web");
    WatcherConfig w = c.watchers.get(1);
    assertThat(w.cmd).isEqualTo("python3 worker.py\n--fd $(circus.sockets.web)");
    assertThat(w.numprocesses).as("first duplicate wins").isEqualTo(4);
    assertThat(w.stopSignal).isEqualTo(3);
    assertThat(w.warmupDelay).isEqualTo(0.5);
    assertThat(w.socketRefs).containsExactly("web");
    assertThat(w.env).containsEntry("GLOBAL", "bar-x").containsEntry("FOO", "foo");
    assertThat(w.freeform).containsEntry("flapping.attempts", "3").containsEntry("home", "/home/me");
    assertThat(w.stdoutStream.streamClass()).isEqualTo("FileStream");
    assertThat(w.stdoutStream.get("filename", null)).isEqualTo(dir.resolve("logs/web.log").toString());
    assertThat(w.rlimits).containsEntry("nofile", 4096L).containsEntry("core", -1L);
    assertThat(Shlex.split(w.args)).containsExactly("((circus.wid))", "a b", "c d");
    assertThat(c.watchers.get(0).priority).isEqualTo(3);
    assertThat(c.watchers.get(0).env).doesNotContainKey("FOO");
  }

  @Test
  void includesFilesAndDirectories() throws Exception {
    Files.createDirectories(dir.resolve("conf.d"));
    Files.writeString(dir.resolve("conf.d/a.ini"), "[watcher:a]\ncmd = sleep 1\n");
    Files.writeString(dir.resolve("extra.ini"), "[watcher:b]\ncmd = sleep 2\n");
    Path main = dir.resolve("circus.ini");
    Files.writeString(main, "[circus]\ninclude = extra.ini missing*.ini\ninclude_dir = conf.d\n");
    CircusConfig c = new ConfigLoader(Map.of(), USERS).loadFile(main);
    assertThat(c.watchers).extracting(w -> w.name).containsExactly("a", "b");
    assertThat(c.warnings).anyMatch(s -> s.contains("missing*.ini"));
  }

  @Test
  void warnsAboutALikelyTypoButKeepsTheKey() throws Exception {
    CircusConfig c = load("[watcher:w]\ncmd = sleep 1\nnumprocess = 3\n");
    assertThat(c.watchers.get(0).freeform).containsKey("numprocess");
    assertThat(c.warnings).anyMatch(s -> s.contains("circus.ini:3") && s.contains("did you mean 'numprocesses'"));
  }

  @Test
  void resolvesUsersAndGroups() throws Exception {
    WatcherConfig w = load("[watcher:w]\ncmd = sleep 1\nuid = nobody\ngid = nogroup\n").watchers.get(0);
    assertThat(w.uid).isEqualTo(65534);
    assertThat(w.gid).isEqualTo(65534);
  }

  /** Each malformed configuration is rejected with file:line, section and key in the message. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      not an integer        | [watcher:w]\\ncmd = x\\nnumprocesses = four                 | circus.ini:3: [watcher:w] numprocesses: expected an integer; got 'four'
      not a boolean         | [watcher:w]\\ncmd = x\\nrespawn = maybe                      | circus.ini:3: [watcher:w] respawn: expected a boolean
      missing cmd           | [watcher:w]\\nnumprocesses = 1                              | circus.ini:1: [watcher:w] cmd: missing
      bad signal            | [watcher:w]\\ncmd = x\\nstop_signal = SIGNOPE                | circus.ini:3: [watcher:w] stop_signal: invalid signal: SIGNOPE
      unknown socket ref    | [socket:web]\\nport = 0\\n[watcher:w]\\ncmd = x $(circus.sockets.wbe)\\nuse_sockets = true | circus.ini:4: [watcher:w] cmd: refers to $(circus.sockets.wbe) but there is no [socket:wbe]; did you mean 'web'?
      key before section    | cmd = x                                                 | circus.ini:1: key outside any section
      no delimiter          | [watcher:w]\\ncmd = x\\njust words                           | circus.ini:3: [watcher:w] expected 'key = value'
      section typo          | [watchers:w]\\ncmd = x                                     | circus.ini:1: unknown section [watchers:w]; did you mean [watcher:w]?
      socket option typo    | [socket:s]\\nhots = 127.0.0.1                              | circus.ini:2: [socket:s] hots: unknown socket option; did you mean 'host'?
      port out of range     | [socket:s]\\nport = 70000                                  | circus.ini:2: [socket:s] port: port must be between 0 and 65535
      negative defer_accept | [socket:s]\\nport = 0\\ndefer_accept = -1                   | circus.ini:3: [socket:s] defer_accept: seconds, 0 for off; got -1
      defer_accept on unix  | [socket:s]\\nfamily = AF_UNIX\\npath = /tmp/x.sock\\ndefer_accept = 1 | circus.ini:4: [socket:s] defer_accept: is a TCP option; socket 's' is AF_UNIX
      unclosed quote        | [watcher:w]\\ncmd = echo 'oops                             | circus.ini:2: [watcher:w] cmd: no closing quotation
      singleton of two      | [watcher:w]\\ncmd = x\\nsingleton = true\\nnumprocesses = 2   | circus.ini:4: [watcher:w] numprocesses: a singleton watcher runs at most 1 process
      unknown user          | [watcher:w]\\ncmd = x\\nuid = nosuchuser                     | circus.ini:3: [watcher:w] uid: no such user: 'nosuchuser'
      bad rlimit            | [watcher:w]\\ncmd = x\\nrlimit_nofiles = 10                  | circus.ini:3: [watcher:w] rlimit_nofiles: unknown resource limit 'nofiles'; did you mean 'rlimit_nofile'?
      bad stream class      | [watcher:w]\\ncmd = x\\nstdout_stream.class = FileStreem    | circus.ini:3: [watcher:w] stdout_stream.class: unsupported stream class 'FileStreem'
      bad rotate_when       | [watcher:w]\\ncmd = x\\nstdout_stream.class = TimedRotatingFileStream\\nstdout_stream.filename = f\\nstdout_stream.rotate_when = fortnight | circus.ini:5: [watcher:w] stdout_stream.rotate_when: expected S, M, H, D, MIDNIGHT or W0-W6
      socket without use    | [socket:s]\\nport = 0\\n[watcher:w]\\ncmd = x $(circus.sockets.s) | [watcher:w] cmd: refers to socket(s) [s] but use_sockets is not true
      circus key typo       | [circus]\\ncheck_dleay = 1                                 | circus.ini:2: [circus] check_dleay: unknown option; did you mean 'check_delay'?
      negative timeout      | [watcher:w]\\ncmd = x\\ngraceful_timeout = -1                | circus.ini:3: [watcher:w] graceful_timeout: must be a non-negative number
      duplicate watcher     | [watcher:web]\\ncmd = x\\n[watcher:WEB]\\ncmd = y             | duplicate watcher name
      stdin_socket unknown  | [watcher:w]\\ncmd = x\\nstdin_socket = nope                  | circus.ini:3: [watcher:w] stdin_socket: no [socket:nope]
      """)
  void rejectsMalformedConfiguration(String name, String text, String expected) {
    assertThatThrownBy(() -> load(text.replace("\\n", "\n")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(expected);
  }

  @Test
  void errorsNameTheIncludedFile() throws Exception {
    Files.writeString(dir.resolve("bad.ini"), "[watcher:b]\n\ncmd = x\nnumprocesses = -3\n");
    Path main = dir.resolve("circus.ini");
    Files.writeString(main, "[circus]\ninclude = bad.ini\n");
    assertThatThrownBy(() -> new ConfigLoader(Map.of(), USERS).loadFile(main))
        .hasMessageContaining(dir.resolve("bad.ini") + ":4: [watcher:b] numprocesses: must be between 0 and 10000; got -3");
  }

  @Test
  void curveKeysAreCheckedAtLoad() throws Exception {
    Path keys = Files.createDirectories(dir.resolve("keys"));
    Path auth = Files.createDirectories(dir.resolve("auth"));
    String pub = "curve\n    public-key = \"" + "A".repeat(40) + "\"\n";
    Path secret = keys.resolve("server.key_secret");
    Files.writeString(secret, pub + "    secret-key = \"" + "B".repeat(40) + "\"\n");
    Files.setPosixFilePermissions(secret, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    Files.writeString(keys.resolve("server.key"), pub);
    CircusConfig c = load("[circus]\ncurve_secret_key = keys/server.key_secret\ncurve_authorized_keys = auth\n");
    assertThat(c.curveSecretKey).isEqualTo(secret);
    assertThat(c.curveAuthorizedKeys).isEqualTo(auth);

    assertThatThrownBy(() -> load("[circus]\ncurve_secret_key = keys/server.key_secret\n"))
        .hasMessageContaining("circus.ini:2").hasMessageContaining("curve_authorized_keys is not set");
    assertThatThrownBy(() -> load("[circus]\ncurve_secret_key = keys/server.key\ncurve_authorized_keys = auth\n"))
        .hasMessageContaining("holds no secret-key");
    assertThatThrownBy(() -> load("[circus]\ncurve_secret_key = keys/none\ncurve_authorized_keys = auth\n"))
        .hasMessageContaining("cannot read");
    assertThatThrownBy(() -> load("[circus]\ncurve_secret_key = keys/server.key_secret\ncurve_authorized_keys = nodir\n"))
        .hasMessageContaining("circus.ini:3").hasMessageContaining("is not a directory");
    Files.setPosixFilePermissions(secret, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    assertThatThrownBy(() -> load("[circus]\ncurve_secret_key = keys/server.key_secret\ncurve_authorized_keys = auth\n"))
        .hasMessageContaining("readable by group or others");
  }

  @Test
  void handoffConventions() throws Exception {
    CircusConfig c = load("[socket:web]\nport = 0\n[watcher:a]\ncmd = x\nhandoff = systemd\n[watcher:b]\ncmd = x\n");
    assertThat(c.watchers.get(0).handoff).isEqualTo(WatcherConfig.Handoff.SYSTEMD);
    assertThat(c.watchers.get(0).useSockets).as("implied").isTrue();
    assertThat(c.watchers.get(1).handoff).isEqualTo(WatcherConfig.Handoff.CIRCUS);
    assertThatThrownBy(() -> load("[watcher:a]\ncmd = x\nhandoff = inetd\n"))
        .hasMessageContaining("circus.ini:3").hasMessageContaining("expected circus, systemd or einhorn");
  }

  @Test
  void clusterKeysAreReadAndCheckedWithTheKeyInTheError() throws Exception {
    CircusConfig c = load("[circus]\ncluster = zk://z1:2181,z2:2181/shop\nnode_name = web-1\nnode_tags = web, eu-west\n"
        + "cluster_session_timeout = 6\n[watcher:w]\ncmd = sleep 1\ncluster_singleton = true\n");
    assertThat(c.cluster.connectString()).isEqualTo("z1:2181,z2:2181");
    assertThat(c.cluster.name()).isEqualTo("shop");
    assertThat(c.nodeName).isEqualTo("web-1");
    assertThat(c.nodeTags).containsExactly("web", "eu-west");
    assertThat(c.clusterSessionTimeout).isEqualTo(6);
    assertThat(c.watchers.get(0).clusterSingleton).isTrue();
    assertThat(load("[watcher:w]\ncmd = sleep 1\n").cluster).isNull();
    assertThatThrownBy(() -> load("[circus]\ncluster = zookeeper:2181\n"))
        .hasMessageContaining(":2: [circus] cluster: expected zk://HOST:PORT");
    assertThatThrownBy(() -> load("[circus]\ncluster = zk://z:2181\nnode_name = a b\n"))
        .hasMessageContaining("[circus] node_name: expected letters");
    assertThatThrownBy(() -> load("[circus]\ncluster = zk://z:2181\ncluster_session_timeout = 1\n"))
        .hasMessageContaining("[circus] cluster_session_timeout: must be between 2 and 600");
    Files.writeString(dir.resolve("zk.auth"), "a:b\n");
    java.nio.file.Files.setPosixFilePermissions(dir.resolve("zk.auth"),
        java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-r--"));
    assertThatThrownBy(() -> load("[circus]\ncluster = zk://z:2181\ncluster_auth = zk.auth\n"))
        .hasMessageContaining("[circus] cluster_auth:").hasMessageContaining("chmod 600");
  }
}
