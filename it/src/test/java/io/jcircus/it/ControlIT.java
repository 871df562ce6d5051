package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.zeromq.SocketType;
import org.zeromq.ZContext;
import org.zeromq.ZMQ;
import org.zeromq.ZMsg;

/** Circus's ZeroMQ protocol against a real circusd, through a JeroMQ DEALER (as circusctl uses) and a SUB. */
class ControlIT extends ItBase {
  /**
   * One context for the class, sockets closed after each test. (A fresh ZContext per test once left a
   * client's I/O thread never reading the server's greeting: the test side, not circusd, lost the request.)
   */
  private static final ZContext zmq = new ZContext();
  private final List<ZMQ.Socket> sockets = new ArrayList<>();

  @AfterEach
  void closeSockets() {
    for (ZMQ.Socket s : sockets) {
      zmq.destroySocket(s);
    }
  }

  @org.junit.jupiter.api.AfterAll
  static void closeZmq() {
    zmq.close();
  }

  private String endpoint(Daemon d, String key) throws Exception {
    Matcher m = Pattern.compile(key + " = (tcp://\\S+)").matcher(java.nio.file.Files.readString(d.config));
    assertThat(m.find()).isTrue();
    return m.group(1);
  }

  /**
   * A DEALER as circusctl uses it. JeroMQ 0.6.0's client side sometimes never completes a new connection's
   * handshake (the server's greeting sits unread in the client's receive queue; libzmq clients never see this,
   * see PyzmqClientIT), so after a timeout the client reconnects with a fresh socket and resends once, saying so.
   */
  final class Client {
    private final String endpoint;
    ZMQ.Socket sock;

    Client(String endpoint) {
      this.endpoint = endpoint;
      this.sock = open();
    }

    private ZMQ.Socket open() {
      ZMQ.Socket s = zmq.createSocket(SocketType.DEALER);
      sockets.add(s);
      s.setIdentity(UUID.randomUUID().toString().replace("-", "").getBytes(StandardCharsets.US_ASCII));
      s.setLinger(0);
      s.setReceiveTimeOut(5000);
      s.connect(endpoint);
      return s;
    }

    void send(String request) {
      sock.send(request);
    }

    ZMsg exchange(String request) {
      sock.send(request);
      ZMsg m = ZMsg.recvMsg(sock);
      for (int attempt = 1; m == null && attempt <= 2; attempt++) {
        System.out.println("JeroMQ client: no reply within 5 s, reconnecting and resending (" + attempt + ") " + request);
        sock = open();
        sock.send(request);
        m = ZMsg.recvMsg(sock);
      }
      return m;
    }

    /**
     * One exchange on a connection known to work (a reply came over it already), waiting up to {@code timeout}
     * and never resending: for a command that takes long and must not run twice (a reload with waiting).
     */
    ZMsg exchangeOnce(String request, Duration timeout) {
      sock.setReceiveTimeOut((int) timeout.toMillis());
      try {
        sock.send(request);
        return ZMsg.recvMsg(sock);
      } finally {
        sock.setReceiveTimeOut(5000);
      }
    }
  }

  private Client dealer(Daemon d) throws Exception {
    return new Client(endpoint(d, "endpoint"));
  }

  private static Daemon current;

  /** Sends one frame, returns the single reply frame as text. */
  private static String raw(Client s, String request) {
    ZMsg m = s.exchange(request);
    if (m == null) {
      try {
        Process p = new ProcessBuilder("ss", "-tanp").redirectErrorStream(true).start();
        System.out.println("SS:\n" + new String(p.getInputStream().readAllBytes()));
      } catch (Exception e) {
        // diagnostics only
      }
    }
    assertThat(m).as("reply to " + request + "\n" + (current == null ? "" : current.logText())).isNotNull();
    assertThat(m.size()).as("reply frames").isEqualTo(1);
    return m.popString();
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> call(Client s, String command, String props) {
    String id = UUID.randomUUID().toString().replace("-", "");
    String reply = raw(s, "{\"id\": \"" + id + "\", \"command\": \"" + command + "\", \"properties\": " + props + "}");
    Map<String, Object> r = (Map<String, Object>) io.jcircus.protocol.Json.parse(reply);
    assertThat(r.get("id")).isEqualTo(id);
    return r;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o) {
    return (Map<String, Object>) o;
  }

  private Daemon daemon() throws Exception {
    return daemon(1);
  }

  /** web (2 socket workers), sleeper, and stubborn (ignores SIGTERM, so it needs its graceful timeout). */
  private Daemon daemon(int stubbornTimeout) throws Exception {
    Path w = worker("pidserver.py");
    return current = start(String.join("\n",
        "[socket:web]",
        "host = 127.0.0.1",
        "port = 0",
        "[watcher:web]",
        "cmd = " + python() + " " + w + " $(circus.sockets.web)",
        "numprocesses = 2",
        "use_sockets = true",
        "graceful_timeout = 3",
        "[watcher:sleeper]",
        "cmd = sleep 1000",
        "[watcher:stubborn]",
        "cmd = sh -c 'trap \"\" TERM; while :; do sleep 0.1; done'",
        "graceful_timeout = " + stubbornTimeout,
        "priority = 5",
        ""));
  }

  @Test
  void readOnlyCommandsHaveCircusShapes() throws Exception {
    Daemon d = daemon();
    await(Duration.ofSeconds(10), "4 children", () -> d.children().size() == 4);
    Client s = dealer(d);

    String reply = raw(s, "{\"id\": \"a1\", \"command\": \"list\", \"properties\": {}}");
    assertThat(reply).matches("\\{\"status\": \"ok\", \"time\": \\d+\\.\\d+, \"watchers\": \\[\"sleeper\", \"stubborn\", \"web\"\\], \"id\": \"a1\"\\}");
    Map<String, Object> r = call(s, "list", "{\"name\": \"web\"}");
    assertThat((List<?>) r.get("pids")).hasSize(2);
    r = call(s, "status", "{}");
    assertThat(r.get("statuses")).isEqualTo(Map.of("sleeper", "active", "stubborn", "active", "web", "active"));
    r = call(s, "status", "{\"name\": \"web\"}");
    assertThat(r.get("status")).isEqualTo("active");
    assertThat(call(s, "numwatchers", "{}").get("numwatchers")).isEqualTo(3L);
    assertThat(call(s, "numprocesses", "{}").get("numprocesses")).isEqualTo(4L);
    r = call(s, "numprocesses", "{\"name\": \"web\"}");
    assertThat(r).containsEntry("numprocesses", 2L).containsEntry("watcher_name", "web");
    r = call(s, "globaloptions", "{}");
    assertThat(new ArrayList<Object>(((Map<?, ?>) r.get("options")).keySet()))
        .containsExactly((Object) "endpoint", "stats_endpoint", "pubsub_endpoint", "check_delay", "multicast_endpoint");
    assertThat(((Map<?, ?>) call(s, "globaloptions", "{\"option\": \"check_delay\"}").get("options")))
        .isEqualTo(Map.of("check_delay", 5.0));
    r = call(s, "listsockets", "{}");
    List<?> socks = (List<?>) r.get("sockets");
    assertThat(socks).hasSize(1);
    assertThat(new ArrayList<Object>(((Map<?, ?>) socks.get(0)).keySet())).containsExactly((Object) "fd", "name", "backlog", "host", "port");
    assertThat(((Map<?, ?>) socks.get(0)).get("port")).isEqualTo((long) d.port("web"));
    r = call(s, "options", "{\"name\": \"web\"}");
    Map<?, ?> opts = (Map<?, ?>) r.get("options");
    assertThat(new ArrayList<>(opts.keySet())).isSorted();
    assertThat(opts.get("numprocesses")).isEqualTo(2L);
    assertThat(opts.get("use_sockets")).isEqualTo(true);
    assertThat(opts.get("graceful_timeout")).isEqualTo(3.0);
    r = call(s, "get", "{\"name\": \"web\", \"keys\": [\"numprocesses\", \"graceful_timeout\"]}");
    assertThat(r.get("options")).isEqualTo(Map.of("numprocesses", 2L, "graceful_timeout", 3.0));
    r = call(s, "get", "{\"name\": \"web\", \"keys\": [\"nope\"]}");
    assertThat(r).containsEntry("status", "error").containsEntry("errno", 3L).containsEntry("reason", "'nope' option not found");
  }

  @Test
  void malformedInputGetsCircusErrorsAndNeverTheDaemonDown() throws Exception {
    Daemon d = daemon();
    Client s = dealer(d);
    Map<String, Object> r = map(io.jcircus.protocol.Json.parse(raw(s, "not json")));
    assertThat(r).containsEntry("status", "error").containsEntry("errno", 1L).containsEntry("reason", "json invalid")
        .containsEntry("id", null).containsKey("tb");
    r = map(io.jcircus.protocol.Json.parse(raw(s, "{\"command\": \"list\"}")));
    assertThat(r).containsEntry("status", "ok").containsEntry("id", null);
    r = map(io.jcircus.protocol.Json.parse(raw(s, "{\"id\": 42, \"command\": \"LIST\"}")));
    assertThat(r).containsEntry("status", "ok").containsEntry("id", 42L);
    r = map(io.jcircus.protocol.Json.parse(raw(s, "{\"id\": \"x\", \"command\": \"nosuch\"}")));
    assertThat(r).containsEntry("errno", 2L).containsEntry("reason", "unknown command: 'nosuch'");
    r = map(io.jcircus.protocol.Json.parse(raw(s, "   ")));
    assertThat(r).containsEntry("status", "error").containsEntry("errno", 3L);
    r = map(io.jcircus.protocol.Json.parse(raw(s, "{\"id\": \"n\", \"properties\": {}}")));
    assertThat(r).containsEntry("errno", 3L).containsEntry("id", "n");
    Map<String, Object> e = call(s, "stop", "{\"name\": \"nosuch\", \"match\": \"simple\"}");
    assertThat(e).containsEntry("errno", 3L).containsEntry("reason", "program nosuch not found");
    e = call(s, "signal", "{\"name\": \"sleeper\", \"signum\": \"NOPE\"}");
    assertThat(e).containsEntry("errno", 3L);
    e = call(s, "incr", "{}");
    assertThat(e).containsEntry("errno", 3L).containsEntry("reason", "message invalid 'name' is missing");
    e = call(s, "listen", "{}");
    assertThat(e).containsEntry("errno", 3L).containsEntry("reason", "invalid message. use a pub/sub socket");
    // cast: no reply at all, but the command runs
    s.send("{\"id\": \"c\", \"command\": \"incr\", \"properties\": {\"name\": \"sleeper\"}, \"msg_type\": \"cast\"}");
    await(Duration.ofSeconds(5), "cast incr", () -> d.children("sleep 1000").size() == 2);
    assertThat(call(s, "numwatchers", "{}").get("numwatchers")).isEqualTo(3L);
    // A REQ client (empty delimiter frame) is answered with the same envelope.
    ZMQ.Socket req = zmq.createSocket(SocketType.REQ);
    sockets.add(req);
    {
      req.setReceiveTimeOut(5000);
      req.connect(endpoint(d, "endpoint"));
      req.send("{\"id\": \"r\", \"command\": \"numwatchers\"}");
      String got = req.recvStr();
      if (got == null) { // see raw(): a JeroMQ client quirk, retried once on a fresh REQ
        req = zmq.createSocket(SocketType.REQ);
        sockets.add(req);
        req.setReceiveTimeOut(5000);
        req.connect(endpoint(d, "endpoint"));
        req.send("{\"id\": \"r\", \"command\": \"numwatchers\"}");
        got = req.recvStr();
      }
      assertThat(got).contains("\"numwatchers\": 3");
    }
    assertThat(d.process.isAlive()).isTrue();
  }

  @Test
  void lifecycleCommandsAndTheirEvents() throws Exception {
    Daemon d = daemon();
    await(Duration.ofSeconds(10), "4 children", () -> d.children().size() == 4);
    Client s = dealer(d);
    ZMQ.Socket sub = zmq.createSocket(SocketType.SUB);
    sockets.add(sub);
    sub.setReceiveTimeOut(5000);
    sub.subscribe("watcher.sleeper.".getBytes());
    sub.connect(endpoint(d, "pubsub_endpoint"));
    Thread.sleep(300); // slow joiner

    long old = d.children("sleep 1000").get(0);
    Map<String, Object> r = call(s, "stop", "{\"name\": \"sleeper\", \"waiting\": true}");
    assertThat(r).containsEntry("status", "ok").containsEntry("info", null);
    assertThat(call(s, "status", "{\"name\": \"sleeper\"}").get("status")).isEqualTo("stopped");
    r = call(s, "start", "{\"name\": \"sleeper\", \"waiting\": true}");
    Map<?, ?> info = (Map<?, ?>) r.get("info");
    assertThat((List<?>) info.get("started")).hasSize(1);
    assertThat((List<?>) info.get("kept")).isEmpty();
    List<String> events = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ZMsg m = ZMsg.recvMsg(sub);
      assertThat(m).isNotNull();
      assertThat(m.size()).isEqualTo(2);
      String topic = m.popString();
      String payload = m.popString();
      events.add(topic.substring("watcher.sleeper.".length()));
      if (topic.endsWith(".reap")) {
        assertThat(payload).contains("\"process_pid\": " + old).contains("\"exit_code\": -15").contains("\"commanded\": true");
      }
    }
    assertThat(events).containsExactly("kill", "reap", "stop", "spawn", "start");

    r = call(s, "incr", "{\"name\": \"web\", \"nb\": 2, \"waiting\": true}");
    assertThat(r.get("numprocesses")).isEqualTo(4L);
    // seen by cmdline only once each new child has exec'd its interpreter, a moment after the spawn --waiting
    // waits for
    await(Duration.ofSeconds(5), "4 web workers", () -> d.children("pidserver.py").size() == 4);
    r = call(s, "decr", "{\"name\": \"web\", \"nb\": 3, \"waiting\": true}");
    assertThat(r.get("numprocesses")).isEqualTo(1L);
    await(Duration.ofSeconds(5), "one web worker", () -> d.children("pidserver.py").size() == 1);

    List<Long> before = d.children("pidserver.py");
    r = call(s, "restart", "{\"name\": \"we*\", \"waiting\": true}");
    info = (Map<?, ?>) r.get("info");
    assertThat(((List<?>) info.get("stopped")).stream().map(o -> ((Number) o).longValue()).toList()).isEqualTo(before);
    r = call(s, "reload", "{\"name\": \"web\", \"waiting\": true}");
    info = (Map<?, ?>) r.get("info");
    assertThat((List<?>) info.get("started")).hasSize(1);
    assertThat((List<?>) info.get("stopped")).hasSize(1);

    long pid = d.children("sleep 1000").get(0);
    assertThat(call(s, "signal", "{\"name\": \"sleeper\", \"signum\": \"USR1\", \"pid\": " + pid + "}")).containsEntry("status", "ok");
    await(Duration.ofSeconds(5), "USR1 kills sleep, then a respawn", () -> !Proc.alive(pid) && d.children("sleep 1000").size() == 1);
    r = call(s, "signal", "{\"name\": \"sleeper\", \"signum\": \"TERM\", \"pid\": 1}");
    assertThat(r).containsEntry("errno", 3L).containsEntry("reason", "process 1 not found in 'sleeper'");
  }

  /** One event: its name, the pid it names (0 for watcher-level events) and its payload. */
  record Ev(String name, long pid, Map<String, Object> payload) {
    @Override
    public String toString() {
      return pid == 0 ? name : name + " " + pid;
    }
  }

  /** Events until {@code last} arrives (or, with null, until 500 ms pass without one). */
  private static List<Ev> events(ZMQ.Socket sub, String prefix, String last) {
    List<Ev> out = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    sub.setReceiveTimeOut(last == null ? 500 : 1000);
    while (System.nanoTime() < deadline) {
      ZMsg m = ZMsg.recvMsg(sub);
      if (m == null) {
        if (last == null) {
          break;
        }
        continue;
      }
      String topic = m.popString();
      Map<String, Object> payload = map(io.jcircus.protocol.Json.parse(m.popString()));
      Object pid = payload.get("process_pid");
      Ev e = new Ev(topic.substring(prefix.length()), pid == null ? 0 : ((Number) pid).longValue(), payload);
      out.add(e);
      if (e.name.equals(last)) {
        break;
      }
    }
    return out;
  }

  private static List<Long> pids(Client s, String name) {
    return ((List<?>) call(s, "list", "{\"name\": \"" + name + "\"}").get("pids")).stream()
        .map(o -> ((Number) o).longValue()).toList();
  }

  private static List<String> names(List<Ev> evs) {
    return evs.stream().map(Ev::name).toList();
  }

  private static List<Long> pidsOf(List<Ev> evs, String name) {
    return evs.stream().filter(e -> e.name.equals(name)).map(Ev::pid).toList();
  }

  @Test
  void eventSequencesOfIncrDecrKillRestartReload() throws Exception {
    Daemon d = current = start("[watcher:w]\ncmd = sleep 1000\nnumprocesses = 2\ngraceful_timeout = 2\n");
    Client s = dealer(d);
    ZMQ.Socket sub = zmq.createSocket(SocketType.SUB);
    sockets.add(sub);
    sub.subscribe("watcher.w.".getBytes());
    sub.connect(endpoint(d, "pubsub_endpoint"));
    await(Duration.ofSeconds(10), "subscribed", () -> {
      call(s, "signal", "{\"name\": \"w\", \"signum\": \"CONT\"}");
      return ZMsg.recvMsg(sub, ZMQ.DONTWAIT) != null || !events(sub, "watcher.w.", null).isEmpty();
    });
    events(sub, "watcher.w.", null);
    List<Long> two = pids(s, "w");

    // incr: one spawn per new process, nothing else
    call(s, "incr", "{\"name\": \"w\", \"nb\": 2, \"waiting\": true}");
    List<Ev> evs = events(sub, "watcher.w.", null);
    List<Long> four = pids(s, "w");
    assertThat(names(evs)).as(evs.toString()).containsExactly("spawn", "spawn");
    assertThat(pidsOf(evs, "spawn")).containsExactlyInAnyOrderElementsOf(
        four.stream().filter(p -> !two.contains(p)).toList());

    // decr: the oldest is killed, and (unlike Circus) its reap is published, marked as commanded
    call(s, "decr", "{\"name\": \"w\", \"nb\": 1, \"waiting\": true}");
    evs = events(sub, "watcher.w.", null);
    long oldest = two.stream().min(Long::compare).orElseThrow();
    assertThat(evs).as(evs.toString()).extracting(Ev::toString).containsExactly("kill " + oldest, "reap " + oldest);
    assertThat(evs.get(1).payload).containsEntry("commanded", true).containsEntry("exit_code", -15L);

    // kill one process: kill, then its reap, and a replacement spawn
    long victim = pids(s, "w").get(0);
    call(s, "kill", "{\"name\": \"w\", \"pid\": " + victim + ", \"waiting\": true}");
    evs = events(sub, "watcher.w.", null);
    assertThat(evs.get(0).toString()).isEqualTo("kill " + victim);
    assertThat(pidsOf(evs, "reap")).containsExactly(victim);
    assertThat(pidsOf(evs, "spawn")).hasSize(1).doesNotContain(victim);
    assertThat(evs.stream().filter(e -> e.name.equals("reap")).findFirst().orElseThrow().payload)
        .containsEntry("commanded", true);

    // restart: every process killed and reaped, then stop, then one spawn each, then start
    List<Long> before = pids(s, "w");
    call(s, "restart", "{\"name\": \"w\", \"waiting\": true}");
    evs = events(sub, "watcher.w.", "start");
    List<String> n = names(evs);
    assertThat(pidsOf(evs, "kill")).containsExactlyInAnyOrderElementsOf(before);
    assertThat(pidsOf(evs, "reap")).containsExactlyInAnyOrderElementsOf(before);
    assertThat(n.indexOf("stop")).as(evs.toString()).isGreaterThan(n.lastIndexOf("reap"));
    assertThat(n.subList(n.indexOf("stop") + 1, n.size()))
        .containsExactly("spawn", "spawn", "spawn", "start");

    // reload (graceful): new processes first, then the old ones killed and reaped, then reload
    before = pids(s, "w");
    call(s, "reload", "{\"name\": \"w\", \"waiting\": true}");
    evs = events(sub, "watcher.w.", "reload");
    n = names(evs);
    assertThat(n.lastIndexOf("spawn")).as(evs.toString()).isLessThan(n.indexOf("kill"));
    assertThat(pidsOf(evs, "spawn")).hasSize(3).doesNotContainAnyElementsOf(before);
    assertThat(pidsOf(evs, "kill")).containsExactlyInAnyOrderElementsOf(before);
    assertThat(pidsOf(evs, "reap")).containsExactlyInAnyOrderElementsOf(before);
    assertThat(n.get(n.size() - 1)).isEqualTo("reload");

    // reload --sequential: a rolling reload, never more than one process above numprocesses
    before = pids(s, "w");
    call(s, "reload", "{\"name\": \"w\", \"waiting\": true, \"sequential\": true}");
    evs = events(sub, "watcher.w.", "reload");
    int live = before.size();
    int most = live;
    for (Ev e : evs) {
      live += e.name.equals("spawn") ? 1 : e.name.equals("reap") ? -1 : 0;
      most = Math.max(most, live);
    }
    assertThat(most).as(evs.toString()).isEqualTo(before.size() + 1);
    assertThat(pidsOf(evs, "reap")).containsExactlyInAnyOrderElementsOf(before);
    assertThat(names(evs).get(evs.size() - 1)).isEqualTo("reload");

    // a process that dies on its own: a reap that was not commanded, then a respawn
    long dies = pids(s, "w").get(0);
    call(s, "signal", "{\"name\": \"w\", \"pid\": " + dies + ", \"signum\": \"TERM\"}");
    evs = events(sub, "watcher.w.", "spawn");
    Ev reap = evs.stream().filter(e -> e.name.equals("reap")).findFirst().orElseThrow();
    assertThat(reap.pid).isEqualTo(dies);
    assertThat(reap.payload).containsEntry("commanded", false).containsEntry("exit_code", -15L);
  }

  @Test
  void aLongGracefulStopBlocksNothingElse() throws Exception {
    Daemon d = daemon(10);
    await(Duration.ofSeconds(10), "4 children", () -> d.children().size() == 4);
    Client s = dealer(d);
    assertThat(call(s, "stop", "{\"name\": \"stubborn\"}")).containsEntry("status", "ok"); // 10 s graceful stop
    assertThat(call(s, "status", "{\"name\": \"stubborn\"}").get("status")).isEqualTo("stopping");
    for (int i = 0; i < 20; i++) {
      long t0 = System.nanoTime();
      call(s, i % 2 == 0 ? "status" : "list", "{}");
      Map<String, Object> r = call(s, "incr", "{\"name\": \"sleeper\", \"waiting\": true}");
      assertThat(r.get("numprocesses")).isEqualTo(2L + i);
      double ms = (System.nanoTime() - t0) / 1e6;
      assertThat(ms).as("status + incr on another watcher during a graceful stop").isLessThan(100);
    }
  }

  @Test
  void quitStopsEverythingAndExits() throws Exception {
    Daemon d = daemon();
    await(Duration.ofSeconds(10), "4 children", () -> d.children().size() == 4);
    Client s = dealer(d);
    assertThat(call(s, "quit", "{}")).containsEntry("status", "ok");
    assertThat(d.awaitExit(Duration.ofSeconds(30))).isZero();
  }

  @Test
  void statsAddAndRm() throws Exception {
    Daemon d = daemon();
    await(Duration.ofSeconds(10), "4 children", () -> d.children().size() == 4);
    Client s = dealer(d);
    Map<String, Object> r = call(s, "stats", "{\"name\": \"web\"}");
    assertThat(r.get("name")).isEqualTo("web");
    Map<?, ?> info = (Map<?, ?>) r.get("info");
    assertThat(info).hasSize(2);
    Map<?, ?> one = (Map<?, ?>) info.values().iterator().next();
    assertThat(new ArrayList<Object>(one.keySet())).containsExactly((Object) "mem_info1", "mem_info2", "cpu", "mem",
        "ctime", "pid", "username", "nice", "create_time", "cmdline", "children", "age", "started", "wid");
    assertThat((String) one.get("mem_info1")).matches("\\d+\\.\\d\\d[KMG]|\\d+B");
    assertThat((String) one.get("ctime")).matches("\\d+:\\d\\d\\.\\d\\d");
    assertThat(one.get("username")).isEqualTo("root".equals(System.getProperty("user.name")) ? "root" : one.get("username"));
    assertThat(info.keySet()).allMatch(k -> k instanceof String);
    r = call(s, "stats", "{\"name\": \"web\", \"process\": 1}");
    assertThat(r).containsEntry("errno", 3L).containsEntry("reason", "process 1 not found in 'web'");
    assertThat(new ArrayList<Object>(((Map<?, ?>) call(s, "stats", "{}").get("infos")).keySet()))
        .containsExactlyInAnyOrder((Object) "web", "sleeper", "stubborn");
    assertThat(((Map<?, ?>) call(s, "dstats", "{}").get("info")).get("pid")).isEqualTo(d.pid());

    ZMQ.Socket sub = zmq.createSocket(SocketType.SUB);
    sockets.add(sub);
    sub.setReceiveTimeOut(5000);
    sub.subscribe("watcher.adder".getBytes());
    sub.connect(endpoint(d, "pubsub_endpoint"));
    Thread.sleep(300);
    r = call(s, "add", "{\"name\": \"bad\", \"cmd\": \"x\", \"options\": {\"bogus\": 1}}");
    assertThat(r).containsEntry("errno", 3L).containsEntry("reason", "unknown key 'bogus'");
    r = call(s, "add", "{\"name\": \"only\"}");
    assertThat(r).containsEntry("errno", 3L).containsEntry("reason", "message invalid 'cmd' is missing");
    r = call(s, "add", "{\"name\": \"adder\", \"cmd\": \"sleep\", \"args\": [\"500\"], \"options\": {\"numprocesses\": 2,"
        + " \"graceful_timeout\": 1, \"env\": {\"A\": \"b\"}}, \"start\": true, \"waiting\": true}");
    assertThat(r).containsEntry("status", "ok").containsEntry("kept", List.of());
    List<?> started = (List<?>) r.get("started");
    assertThat(started).hasSize(2);
    for (Object pid : started) {
      long p = ((Number) pid).longValue();
      assertThat(Proc.cmdline(p)).isEqualTo("sleep 500");
      assertThat(new String(java.nio.file.Files.readAllBytes(Path.of("/proc/" + p + "/environ")))).contains("A=b");
    }
    assertThat(new ArrayList<Object>((List<?>) call(s, "list", "{}").get("watchers"))).contains((Object) "adder");
    r = call(s, "rm", "{\"name\": \"adder\", \"waiting\": true}");
    assertThat(r).containsEntry("status", "ok");
    for (Object pid : started) {
      assertThat(Proc.alive(((Number) pid).longValue())).isFalse();
    }
    assertThat(new ArrayList<Object>((List<?>) call(s, "list", "{}").get("watchers"))).doesNotContain((Object) "adder");
    List<String> topics = new ArrayList<>();
    for (int i = 0; i < 10 && !topics.contains("watcher.adder.stop"); i++) {
      ZMsg m = ZMsg.recvMsg(sub);
      if (m == null) {
        break;
      }
      topics.add(m.popString());
    }
    assertThat(topics).startsWith("watcher.adder.add").contains("watcher.adder.remove", "watcher.adder.stop");
  }

  @Test
  void setValidatesFirstThenApplies() throws Exception {
    Daemon d = daemon();
    await(Duration.ofSeconds(10), "4 children", () -> d.children().size() == 4);
    Client s = dealer(d);
    Map<String, Object> r = call(s, "set", "{\"name\": \"web\", \"options\": {\"numprocesses\": \"2\"}}");
    assertThat(r).containsEntry("errno", 3L).containsEntry("reason", "'numprocesses' isn't an integer");
    r = call(s, "set", "{\"name\": \"web\", \"options\": {\"graceful_timeout\": 7, \"bogus\": 1}}");
    assertThat(r).containsEntry("errno", 3L).containsEntry("reason", "unknown key 'bogus'");
    assertThat(((Map<?, ?>) call(s, "get", "{\"name\": \"web\", \"keys\": [\"graceful_timeout\"]}").get("options")).get("graceful_timeout"))
        .as("a rejected set changes nothing").isEqualTo(3.0);
    r = call(s, "set", "{\"name\": \"web\", \"options\": {\"numprocesses\": 3, \"graceful_timeout\": 2}, \"waiting\": true}");
    assertThat(r).containsEntry("status", "ok");
    assertThat(d.children("pidserver.py")).hasSize(3);
    assertThat(((Map<?, ?>) call(s, "get", "{\"name\": \"web\", \"keys\": [\"graceful_timeout\", \"numprocesses\"]}").get("options")))
        .isEqualTo(Map.of("graceful_timeout", 2.0, "numprocesses", 3L));
    List<Long> before = d.children("sleep 1000");
    r = call(s, "set", "{\"name\": \"sleeper\", \"options\": {\"cmd\": \"sleep 1001\"}, \"waiting\": true}");
    assertThat(r).containsEntry("status", "ok");
    await(Duration.ofSeconds(5), "reloaded with the new cmd", () -> d.children("sleep 1001").size() == 1
        && before.stream().noneMatch(Proc::alive));
  }

  @Test
  void reloadconfigAppliesTheDiffAndABadFileChangesNothing() throws Exception {
    Daemon d = daemon();
    await(Duration.ofSeconds(10), "4 children", () -> d.children().size() == 4);
    Client s = dealer(d);
    String original = java.nio.file.Files.readString(d.config);
    List<Long> sleeper = d.children("sleep 1000");

    java.nio.file.Files.writeString(d.config, original + "[watcher:broken]\ncmd = x\nnumprocesses = many\n");
    Map<String, Object> r = call(s, "reloadconfig", "{\"waiting\": true}");
    assertThat(r).containsEntry("status", "error").containsEntry("errno", 3L);
    assertThat((String) r.get("reason")).contains(d.config + ":").contains("numprocesses: expected an integer")
        .contains("the running configuration is unchanged");
    assertThat(d.children()).hasSize(4);

    String next = original.replace("numprocesses = 2", "numprocesses = 3")
        .replace("[watcher:stubborn]", "[watcher:extra]\ncmd = sleep 1002\n[watcher:stubborn]")
        .replaceAll("(?s)\\[watcher:stubborn\\].*", "");
    java.nio.file.Files.writeString(d.config, next);
    r = call(s, "reloadconfig", "{\"waiting\": true}");
    assertThat(r).containsEntry("status", "ok");
    assertThat(new ArrayList<Object>((List<?>) call(s, "list", "{}").get("watchers")))
        .containsExactly((Object) "extra", "sleeper", "web");
    assertThat(d.children("pidserver.py")).hasSize(3);
    assertThat(d.children("sleep 1002")).hasSize(1);
    assertThat(d.children("sleep 1000")).as("an unchanged watcher keeps its processes").isEqualTo(sleeper);
    await(Duration.ofSeconds(5), "stubborn gone", () -> d.children().stream().noneMatch(c -> Proc.cmdline(c).contains("trap")));
  }

  @Test
  void restartWithoutANameRestartsEverythingWithTheFileReadAgain() throws Exception {
    Daemon d = current = start("[watcher:a]\ncmd = sleep 1000\n[watcher:gone]\ncmd = sleep 1003\n");
    await(Duration.ofSeconds(10), "2 children", () -> d.children().size() == 2);
    Client s = dealer(d);
    String original = java.nio.file.Files.readString(d.config);
    List<Long> before = d.children("sleep 1000");

    java.nio.file.Files.writeString(d.config, original + "[watcher:bad]\ncmd = x\nnumprocesses = many\n");
    Map<String, Object> r = call(s, "restart", "{\"waiting\": true}");
    assertThat(r).containsEntry("status", "error").containsEntry("errno", 3L);
    assertThat((String) r.get("reason")).contains("numprocesses").contains("nothing was restarted");
    assertThat(d.children("sleep 1000")).isEqualTo(before);

    java.nio.file.Files.writeString(d.config, original.replace("[watcher:gone]\ncmd = sleep 1003\n", "")
        + "[watcher:b]\ncmd = sleep 1001\nnumprocesses = 2\n");
    r = call(s, "restart", "{\"waiting\": true}");
    assertThat(r).containsEntry("status", "ok");
    assertThat(new ArrayList<Object>((List<?>) call(s, "list", "{}").get("watchers"))).containsExactly((Object) "a", "b");
    await(Duration.ofSeconds(5), "the new set", () -> d.children("sleep 1001").size() == 2
        && d.children("sleep 1000").size() == 1 && d.children("sleep 1003").isEmpty());
    assertThat(d.children("sleep 1000")).as("restarted, not kept").doesNotContainAnyElementsOf(before);
  }

  @Test
  void statsOverManyProcessesDoesNotHoldUpOtherCommands() throws Exception {
    Daemon d = current = start("[watcher:many]\ncmd = sleep 1000\nnumprocesses = 200\n");
    await(Duration.ofSeconds(30), "200 children", () -> d.children().size() == 200);
    Client s = dealer(d);
    call(s, "list", "{}"); // connected
    for (int round = 0; round < 3; round++) {
      s.send("{\"id\": \"stats\", \"command\": \"stats\", \"properties\": {\"name\": \"many\"}}");
      s.send("{\"id\": \"list\", \"command\": \"list\", \"properties\": {}}");
      Map<String, Object> first = map(io.jcircus.protocol.Json.parse(ZMsg.recvMsg(s.sock).popString()));
      Map<String, Object> second = map(io.jcircus.protocol.Json.parse(ZMsg.recvMsg(s.sock).popString()));
      assertThat(first.get("id")).as("list answered while /proc is read for 200 processes").isEqualTo("list");
      assertThat(map(second.get("info"))).hasSize(200);
    }
  }

  @Test
  void sequentialReloadRollsOneProcessAtATime() throws Exception {
    Daemon d = current = start("[watcher:roll]\ncmd = sleep 1000\nnumprocesses = 3\nwarmup_delay = 0.3\n");
    await(Duration.ofSeconds(10), "3 children", () -> d.children().size() == 3);
    List<Long> before = d.children();
    Client s = dealer(d);
    int[] max = {0};
    java.util.concurrent.atomic.AtomicBoolean sampling = new java.util.concurrent.atomic.AtomicBoolean(true);
    Thread sampler = new Thread(() -> {
      while (sampling.get()) {
        int live = 0;
        for (long c : d.children()) {
          if (Proc.alive(c)) {
            live++;
          }
        }
        max[0] = Math.max(max[0], live);
      }
    });
    sampler.start();
    call(s, "list", "{}"); // connected (see Client): the reload itself is sent once, however long it takes
    long t0 = System.nanoTime();
    ZMsg reply = s.exchangeOnce("{\"id\": \"roll\", \"command\": \"reload\", \"properties\": "
        + "{\"name\": \"roll\", \"sequential\": true, \"waiting\": true}}", Duration.ofSeconds(60));
    double took = (System.nanoTime() - t0) / 1e9;
    assertThat(reply).as("a reply to the reload within 60 s").isNotNull();
    Map<String, Object> r = map(io.jcircus.protocol.Json.parse(reply.popString()));
    System.out.printf("sequential reload of 3 took %.2f s%n", took);
    sampling.set(false);
    sampler.join();
    assertThat(r).containsEntry("status", "ok");
    Map<?, ?> info = (Map<?, ?>) r.get("info");
    assertThat((List<?>) info.get("started")).hasSize(3);
    assertThat(((List<?>) info.get("stopped")).stream().map(o -> ((Number) o).longValue()).toList())
        .containsExactlyInAnyOrderElementsOf(before);
    assertThat(max[0]).as("never more than one extra process during the roll").isLessThanOrEqualTo(4);
    assertThat(took).as("three warmups of 0.3 s, one after another").isGreaterThan(0.85);
  }
}
