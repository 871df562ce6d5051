package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code ipc://} endpoints as Circus has them: Unix-domain sockets that libzmq clients (pyzmq here, as Circus's
 * circusctl and plugins) and circusctl reach, guarded by the socket file's owner and mode, with nobody getting
 * in through the loopback side.
 */
class IpcIT extends ItBase {
  private Daemon ipcDaemon(String extra) throws Exception {
    Path cfg = dir.resolve("circus.ini");
    Files.writeString(cfg, "[circus]\nendpoint = ipc://" + dir.resolve("ctl.sock") + "\npubsub_endpoint = ipc://"
        + dir.resolve("pub.sock") + "\nstats_endpoint = ipc://" + dir.resolve("stats.sock") + "\noutput_endpoint = ipc://"
        + dir.resolve("out.sock") + "\numask = 077\n" + extra + "[watcher:sleeper]\ncmd = sleep 3600\n");
    Daemon d = Daemon.start(cfg);
    daemons().add(d);
    return d;
  }

  private String python(String script, String... args) throws Exception {
    java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(python(), "-c", script));
    cmd.addAll(java.util.List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  @Test
  void libzmqClientsAndCircusctlReachEveryIpcEndpoint() throws Exception {
    Daemon d = ipcDaemon(root() ? "endpoint_owner = nobody\n" : "");
    for (String s : new String[] {"ctl.sock", "pub.sock", "stats.sock", "out.sock"}) {
      Path p = dir.resolve(s);
      assertThat(Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS)).as(s + " is a socket, mode from umask 077")
          .isEqualTo(0140700);
      if (root()) {
        assertThat((int) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS)).as(s + " owned by nobody")
            .isEqualTo(65534);
      }
    }
    String ctl = "ipc://" + dir.resolve("ctl.sock");
    // a libzmq client: commands on the control socket, events on the pub socket, stats on the stats socket
    String out = python("import json, sys, zmq\n"
        + "c = zmq.Context()\n"
        + "s = c.socket(zmq.DEALER); s.setsockopt(zmq.LINGER, 0); s.connect(sys.argv[1])\n"
        + "sub = c.socket(zmq.SUB); sub.setsockopt(zmq.LINGER, 0); sub.setsockopt(zmq.SUBSCRIBE, b'watcher.')\n"
        + "sub.connect(sys.argv[2])\n"
        + "st = c.socket(zmq.SUB); st.setsockopt(zmq.LINGER, 0); st.setsockopt(zmq.SUBSCRIBE, b'stat.sleeper')\n"
        + "st.connect(sys.argv[3])\n"
        + "def call(cmd, **p):\n"
        + "    s.send(json.dumps({'id': cmd, 'command': cmd, 'properties': p}).encode())\n"
        + "    assert s.poll(10000), 'no reply to ' + cmd\n"
        + "    return json.loads(s.recv())\n"
        + "assert call('status')['statuses'] == {'sleeper': 'active'}\n"
        + "import time; time.sleep(0.5)\n"  // the subscription reaches circusd
        + "r = call('incr', name='sleeper', waiting=True); assert r['numprocesses'] == 2, r\n"
        + "assert sub.poll(10000), 'no event'\n"
        + "topic, body = sub.recv_multipart(); print('event', topic.decode())\n"
        + "assert st.poll(10000), 'no stats'\n"
        + "print('stat', st.recv_multipart()[0].decode())\n"
        + "big = b'A' * (20 << 20)\n"  // over max_message_size: that connection is dropped, the next one answered
        + "b = c.socket(zmq.DEALER); b.setsockopt(zmq.LINGER, 0); b.connect(sys.argv[1]); b.send(big); time.sleep(1)\n"
        + "assert call('status')['statuses'] == {'sleeper': 'active'}\n"
        + "print('all ipc checks passed')\n",
        ctl, "ipc://" + dir.resolve("pub.sock"), "ipc://" + dir.resolve("stats.sock"));
    assertThat(out).contains("event watcher.sleeper.spawn").contains("stat stat.sleeper").contains("all ipc checks passed");
    // circusctl too, over the same socket
    assertThat(circusctlAt(ctl, "status")).isEqualTo("sleeper: active");
    assertThat(circusctlAt(ctl, "decr", "sleeper", "--waiting")).isEqualTo("1");
    try (Probe p = new Probe(dir, ctl, 5000)) {
      assertThat(p.statusMs(5)).isLessThan(100.0);
    }
    d.signal(15);
    assertThat(d.awaitExit(Duration.ofSeconds(10))).isZero();
    assertThat(dir.resolve("ctl.sock")).as("the socket file goes with circusd").doesNotExist();
  }

  @Test
  void theLoopbackSideLetsNobodyIn() throws Exception {
    Daemon d = ipcDaemon("");
    Matcher m = Pattern.compile("endpoint ipc://\\S+ is a Unix-domain socket relayed to 127\\.0\\.0\\.1:(\\d+)")
        .matcher(d.logText());
    assertThat(m.find()).as(d.logText()).isTrue();
    String loopback = "tcp://127.0.0.1:" + m.group(1);
    String out = python("import json, sys, zmq\n"
        + "c = zmq.Context()\n"
        + "def ask(configure):\n"
        + "    s = c.socket(zmq.DEALER); s.setsockopt(zmq.LINGER, 0); configure(s); s.connect(sys.argv[1])\n"
        + "    s.send(json.dumps({'id': 1, 'command': 'status', 'properties': {}}).encode())\n"
        + "    got = s.poll(3000)\n"
        + "    s.close()\n"
        + "    return got\n"
        + "assert not ask(lambda s: None), 'a NULL client got in'\n"
        + "def plain(s):\n"
        + "    s.setsockopt(zmq.PLAIN_USERNAME, b'jcircus-ipc'); s.setsockopt(zmq.PLAIN_PASSWORD, b'guess')\n"
        + "assert not ask(plain), 'a guessed password got in'\n"
        + "print('refused')\n", loopback);
    assertThat(out).contains("refused");
    assertThat(d.logText()).contains("refused a PLAIN login");
    // garbage and an unknown mechanism on the path are dropped; circusd goes on answering
    for (byte[] junk : new byte[][] {"GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
        HostileIT.greeting(), new byte[5000]}) {
      try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        ch.connect(UnixDomainSocketAddress.of(dir.resolve("ctl.sock")));
        ByteBuffer b = ByteBuffer.wrap(junk);
        if (junk.length == 64) {
          b.put(12, (byte) 'X'); // mechanism XULL
        }
        ch.write(b);
        java.util.concurrent.CompletableFuture.delayedExecutor(15, TimeUnit.SECONDS).execute(() -> {
          try {
            ch.close(); // bounds the blocking read below if the relay never closes
          } catch (java.io.IOException ignored) {
            // closed already
          }
        });
        ByteBuffer r = ByteBuffer.allocate(4096);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        int n = 0;
        while (n >= 0 && System.nanoTime() < deadline) {
          r.clear();
          try {
            n = ch.read(r);
          } catch (java.io.IOException reset) {
            n = -1; // closed with unread data: a reset
          }
        }
        assertThat(n).as("the relay closed the connection").isEqualTo(-1);
      }
    }
    try (Probe p = new Probe(dir, "ipc://" + dir.resolve("ctl.sock"), 5000)) {
      assertThat(p.call("status", Map.of()).ok()).isTrue();
    }
  }
}
