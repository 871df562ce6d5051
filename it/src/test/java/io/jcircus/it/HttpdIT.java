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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** circus-httpd as a real process against a real circusd: commands over HTTP, events as a server-sent stream. */
class HttpdIT extends ItBase {
  private Httpd httpd;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @AfterEach
  void stopHttpd() throws Exception {
    if (httpd != null) {
      httpd.close();
    }
  }

  private String startHttpd(String endpoint) throws Exception {
    httpd = Httpd.start(endpoint);
    return httpd.base;
  }

  private HttpResponse<String> post(String base, String command, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(base + "/api/" + command))
        .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void commandsAndEventsOverHttp() throws Exception {
    Daemon d = start("[watcher:web]\ncmd = sleep 3600\nnumprocesses = 2\n");
    await(Duration.ofSeconds(30), "2 processes", () -> d.children().size() == 2);
    String base = startHttpd(d.endpoint());

    HttpResponse<String> status = post(base, "status", "");
    assertThat(status.statusCode()).isEqualTo(200);
    assertThat(status.headers().firstValue("content-type")).hasValue("application/json");
    assertThat(status.body()).startsWith("{\"status\": \"ok\", \"time\": ").contains("\"statuses\": {\"web\": \"active\"}");

    // the event stream, open before the change it reports
    HttpResponse<Stream<String>> events = http.send(HttpRequest.newBuilder(URI.create(base
        + "/api/events?topic=watcher.web.")).GET().build(), HttpResponse.BodyHandlers.ofLines());
    assertThat(events.statusCode()).isEqualTo(200);
    assertThat(events.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith(
        "text/event-stream"));
    BlockingQueue<String> seen = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> events.body().forEach(seen::add), "sse-reader");
    reader.setDaemon(true);
    reader.start();
    assertThat(seen.poll(10, TimeUnit.SECONDS)).isEqualTo(": connected");
    Thread.sleep(300); // the subscription reaches the daemon's PUB

    HttpResponse<String> incr = post(base, "incr", "{\"name\": \"web\", \"nb\": 1, \"waiting\": true}");
    assertThat(incr.body()).contains("\"numprocesses\": 3");
    assertThat(d.children()).hasSize(3);
    String spawn = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (spawn == null && System.nanoTime() < deadline) {
      String l = seen.poll(100, TimeUnit.MILLISECONDS);
      if (l != null && l.equals("event: watcher.web.spawn")) {
        spawn = seen.poll(5, TimeUnit.SECONDS);
      }
    }
    assertThat(spawn).as("the spawn event's data line").startsWith("data: {\"process_pid\": ");

    // the daemon's error replies come as they are; the HTTP layer's own refusals say why
    HttpResponse<String> unknown = post(base, "list", "{\"name\": \"nosuch\"}");
    assertThat(unknown.statusCode()).isEqualTo(200);
    assertThat(unknown.body()).contains("\"status\": \"error\", \"reason\": \"program nosuch not found\"")
        .contains("\"errno\": 3");
    assertThat(post(base, "status", "{not json").statusCode()).isEqualTo(400);
    assertThat(post(base, "status", "[1]").statusCode()).isEqualTo(400);
    assertThat(post(base, "status", "x".repeat(70_000)).statusCode()).isEqualTo(413);
    assertThat(post(base, "Not-A-Command", "").statusCode()).isEqualTo(404);
    assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/api/status")).GET().build(),
        HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(405);
    assertThat(post(base, "status", "").statusCode()).as("still serving").isEqualTo(200);
    // the names of the streams are commands too when POSTed (the page's download reads the ring this way)
    assertThat(post(base, "stats", "{\"name\": \"web\"}").body()).startsWith("{\"status\": \"ok\"")
        .contains("\"name\": \"web\"").contains("\"info\": {");
    assertThat(post(base, "output", "{\"name\": \"web\", \"lines\": 1}").body()).startsWith("{\"status\": \"ok\"")
        .contains("\"lines\": [");
    assertThat(post(base, "events", "").body()).contains("\"status\": \"error\"");

    // the daemon goes away: a command answers 502 within the timeout, and circus-httpd stays up
    d.close();
    long t0 = System.nanoTime();
    HttpResponse<String> away = post(base, "status", "");
    assertThat(away.statusCode()).isEqualTo(502);
    assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(15_000);
    assertThat(httpd.isAlive()).isTrue();
  }

  /** A circusd on fixed ports (so that it can come back where it was), with a stats stream; reaped after the test. */
  private Daemon fixed(Path ini, int[] ports, String extra) throws Exception {
    Files.writeString(ini, "[circus]\nendpoint = tcp://127.0.0.1:" + ports[0] + "\npubsub_endpoint = tcp://127.0.0.1:"
        + ports[1] + "\nstats_endpoint = tcp://127.0.0.1:" + ports[2] + "\n" + extra);
    Daemon d = Daemon.start(ini, "circusd running", new String[0]);
    daemons().add(d);
    return d;
  }

  private String daemonsNow(String base) {
    try {
      return http.send(HttpRequest.newBuilder(URI.create(base + "/api/daemons")).timeout(Duration.ofSeconds(5)).GET()
          .build(), HttpResponse.BodyHandlers.ofString()).body();
    } catch (Exception e) {
      return "";
    }
  }

  @Test
  void oneConsoleWatchesSeveralDaemonsEachWithItsOwnHealthAndCurveKeys() throws Exception {
    // a: plaintext, from the command line; b: CURVE, from the console's config file with its own key pair
    Daemon a = start("[watcher:alpha]\ncmd = sleep 3600\n");
    Path keys = dir.resolve("keys");
    Path authorized = Files.createDirectories(dir.resolve("authorized"));
    for (String who : new String[] {"server", "console"}) {
      Process k = new ProcessBuilder(Daemon.HOME.resolve("bin/circusctl").toString(), "keygen", "--dir",
          keys.toString(), who).redirectErrorStream(true).start();
      k.getInputStream().readAllBytes();
      assertThat(k.waitFor(30, TimeUnit.SECONDS) && k.exitValue() == 0).as("keygen " + who).isTrue();
    }
    Files.copy(keys.resolve("console.key"), authorized.resolve("console.key"));
    int[] ports = {freePort(), freePort(), freePort()};
    Path bIni = dir.resolve("b.ini");
    String bConfig = "curve_secret_key = " + keys.resolve("server.key_secret") + "\ncurve_authorized_keys = "
        + authorized + "\n[watcher:beta]\ncmd = sleep 3601\nnumprocesses = 2\n";
    Daemon b = fixed(bIni, ports, bConfig);
    Path console = dir.resolve("console.ini");
    Files.writeString(console, "; the fleet\n[daemon:b]\nendpoint = tcp://127.0.0.1:" + ports[0]
        + "\ncurve_server_key = " + keys.resolve("server.key") + "\ncurve_key = " + keys.resolve("console.key_secret")
        + "\n");
    httpd = Httpd.launch("--endpoint", "a=" + a.endpoint(), "--config", console.toString());
    String base = httpd.base;
    await(Duration.ofSeconds(20), "both daemons up", () -> daemonsNow(base).matches(
        ".*\"name\": \"a\".*?\"state\": \"up\".*\"name\": \"b\".*?\"curve\": true.*?\"state\": \"up\", .*"
        + "\"watchers\": 1, \"active\": 1, \"processes\": 2.*"));

    // every request names its daemon; the first is the default
    assertThat(post(base, "status", "").body()).contains("\"statuses\": {\"alpha\": \"active\"}");
    assertThat(post(base, "status?daemon=a", "").body()).contains("\"statuses\": {\"alpha\": \"active\"}");
    assertThat(post(base, "status?daemon=b", "").body()).contains("\"statuses\": {\"beta\": \"active\"}");
    HttpResponse<String> none = post(base, "status?daemon=zz", "");
    assertThat(none.statusCode()).isEqualTo(404);
    assertThat(none.body()).contains("no daemon named 'zz'");

    // b's stats, over CURVE, as the page reads them: one digest a second with every topic of the burst
    HttpResponse<Stream<String>> digest = http.send(HttpRequest.newBuilder(URI.create(base
        + "/api/stats?daemon=b&digest=1")).GET().build(), HttpResponse.BodyHandlers.ofLines());
    BlockingQueue<String> seen = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> digest.body().forEach(seen::add), "digest-reader");
    reader.setDaemon(true);
    reader.start();
    String data = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (System.nanoTime() < deadline && (data == null || !data.contains("\"stat.beta\":"))) {
      String l = seen.poll(100, TimeUnit.MILLISECONDS);
      data = l != null && l.startsWith("data: ") ? l : data;
    }
    assertThat(data).as("a digest of b's stats").contains("\"stat.beta\":").contains("\"stat.circus\":")
        .doesNotContain("\"stat.alpha");

    // b goes away: shown unreachable within two probes, a's side untouched; b comes back where it was
    b.close();
    await(Duration.ofSeconds(8), "b unreachable", () -> daemonsNow(base).matches(
        ".*\"name\": \"b\".*?\"state\": \"down\".*"));
    assertThat(post(base, "status?daemon=b", "").statusCode()).isEqualTo(502);
    assertThat(post(base, "status", "").statusCode()).isEqualTo(200);
    fixed(bIni, ports, bConfig);
    await(Duration.ofSeconds(15), "b back", () -> daemonsNow(base).matches(
        ".*\"name\": \"b\".*?\"state\": \"up\".*"));
    assertThat(post(base, "status?daemon=b", "").body()).contains("\"beta\": \"active\"");

    // added in the page: followed at once and saved to the config file; removed: gone from both
    HttpResponse<String> added = post(base, "daemons/add", "{\"name\": \"a2\", \"endpoint\": \"" + a.endpoint()
        + "\"}");
    assertThat(added.statusCode()).as(added.body()).isEqualTo(200);
    assertThat(Files.readString(console)).startsWith("; the fleet\n").contains("[daemon:a2]\nendpoint = "
        + a.endpoint());
    await(Duration.ofSeconds(10), "a2 up", () -> daemonsNow(base).matches(".*\"name\": \"a2\".*?\"state\": \"up\".*"));
    assertThat(post(base, "list?daemon=a2", "").body()).contains("\"watchers\": [\"alpha\"]");
    for (String bad : new String[] {"{\"name\": \"a2\", \"endpoint\": \"tcp://127.0.0.1:1\"}",
        "{\"name\": \"x y\", \"endpoint\": \"tcp://127.0.0.1:1\"}", "{\"name\": \"x\", \"endpoint\": \"http://h\"}",
        "{\"name\": \"x\", \"endpoint\": \"tcp://127.0.0.1:1\", \"curve_server_key\": \"short\"}"}) {
      assertThat(post(base, "daemons/add", bad).statusCode()).as(bad).isEqualTo(400);
    }
    assertThat(post(base, "daemons/remove", "{\"name\": \"a\"}").body()).contains("from the command line");
    assertThat(post(base, "daemons/remove", "{\"name\": \"a2\"}").statusCode()).isEqualTo(200);
    assertThat(Files.readString(console)).doesNotContain("a2").contains("[daemon:b]");
    assertThat(daemonsNow(base)).doesNotContain("\"a2\"");
    assertThat(post(base, "status?daemon=a2", "").statusCode()).isEqualTo(404);

    // a config file with a mistake: circus-httpd names the file, line and key, and does not start
    Path wrong = dir.resolve("wrong.ini");
    Files.writeString(wrong, "[daemon:c]\nendpoint = tcp://127.0.0.1:1\nendpont = x\n");
    Process p = new ProcessBuilder(Httpd.command("--config", wrong.toString(), "--port", "0")).redirectErrorStream(true)
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isEqualTo(2);
    assertThat(out).contains(wrong + ":3: [daemon:c] endpont: unknown key");
  }

  @Test
  void httpdTrueInCircusIniRunsTheConsoleAsAWatcherOnItsSocket() throws Exception {
    int port = freePort();
    Daemon d = start("[circus]\nhttpd = True\nhttpd_port = " + port + "\n[watcher:web]\ncmd = sleep 3600\n");
    String base = "http://127.0.0.1:" + port;
    await(Duration.ofSeconds(30), "the console answers", () -> page(base).contains("<title>jcircus</title>"));
    HttpResponse<String> list = post(base, "list", "");
    assertThat(list.body()).contains("\"watchers\": [\"circushttpd\", \"web\"]");
    HttpResponse<String> options = post(base, "options", "{\"name\": \"circushttpd\"}");
    assertThat(options.body()).contains("\"singleton\": true").contains("\"use_sockets\": true")
        .contains("--fd $(circus.sockets.circushttpd)");
    // killed, it comes back on the same socket, like any worker
    String pids = post(base, "list", "{\"name\": \"circushttpd\"}").body();
    Matcher m = Pattern.compile("\"pids\": \\[(\\d+)\\]").matcher(pids);
    assertThat(m.find()).as(pids).isTrue();
    new ProcessBuilder("kill", "-9", m.group(1)).start().waitFor();
    String old = m.group(1);
    await(Duration.ofSeconds(30), "the console answers again", () -> {
      String now = quietly(base, "list", "{\"name\": \"circushttpd\"}");
      return now.matches(".*\"pids\": \\[\\d+\\].*") && !now.contains(old);
    });
    assertThat(page(base)).contains("<title>jcircus</title>");
  }

  private String quietly(String base, String command, String body) {
    try {
      return post(base, command, body).body();
    } catch (Exception e) {
      return "";
    }
  }

  private String page(String base) {
    try {
      return http.send(HttpRequest.newBuilder(URI.create(base + "/")).timeout(Duration.ofSeconds(5)).GET().build(),
          HttpResponse.BodyHandlers.ofString()).body();
    } catch (Exception e) {
      return "";
    }
  }

  /** Runs circus-httpd's own helpers (--hash-password, --new-token); returns what they print. */
  private static String helper(String stdin, String... args) throws Exception {
    Process p = new ProcessBuilder(Httpd.command(args)).start();
    try (var in = p.getOutputStream()) {
      in.write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out.strip();
  }

  private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    return http.send(b.timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void withAccountsNothingIsServedWithoutLoggingInAndActionsNeedTheirCsrfTokenAndTheRole() throws Exception {
    Daemon d = start("[watcher:web]\ncmd = sleep 3600\n");
    String adminHash = helper("s3cret-admin\n", "--hash-password");
    String viewerHash = helper("s3cret-viewer\n", "--hash-password");
    assertThat(adminHash).startsWith("$2");
    String[] tok = helper("", "--new-token", "ci", "admin").split("\n");
    String token = tok[0].substring("token: ".length());
    java.nio.file.Path accounts = dir.resolve("accounts");
    java.nio.file.Files.writeString(accounts, "# name role secret\nalice admin " + adminHash + "\nbob viewer "
        + viewerHash + "\n" + tok[1].substring("accounts line: ".length()) + "\n");
    httpd = Httpd.start(d.endpoint(), "--users", accounts.toString());
    String base = httpd.base;

    // nothing without an account: the page redirects to the login, the API and the streams answer 401
    HttpResponse<String> page = send(HttpRequest.newBuilder(URI.create(base + "/")).GET());
    assertThat(page.statusCode()).isEqualTo(303);
    assertThat(page.headers().firstValue("location")).hasValue("/login");
    assertThat(send(HttpRequest.newBuilder(URI.create(base + "/login")).GET()).body()).contains("<form");
    assertThat(post(base, "status", "").statusCode()).isEqualTo(401);
    assertThat(send(HttpRequest.newBuilder(URI.create(base + "/api/events")).GET()).statusCode()).isEqualTo(401);
    assertThat(send(HttpRequest.newBuilder(URI.create(base + "/api/stats")).GET()).statusCode()).isEqualTo(401);
    assertThat(send(HttpRequest.newBuilder(URI.create(base + "/app.js")).GET()).statusCode()).isEqualTo(303);

    // a wrong password gets no session; the right one a cookie a script cannot read and other sites cannot send
    HttpResponse<String> wrong = login(base, "alice", "nope");
    assertThat(wrong.headers().firstValue("location")).hasValue("/login?failed");
    assertThat(wrong.headers().firstValue("set-cookie")).isEmpty();
    String admin = cookieOf(login(base, "alice", "s3cret-admin"));

    // with the cookie: the page, and actions only with the session's CSRF token
    assertThat(send(HttpRequest.newBuilder(URI.create(base + "/")).header("Cookie", admin).GET()).statusCode())
        .isEqualTo(200);
    String csrf = csrf(base, admin);
    assertThat(command(base, "incr", "{\"name\": \"web\", \"waiting\": true}", admin, null).statusCode())
        .isEqualTo(403);
    assertThat(command(base, "incr", "{\"name\": \"web\", \"waiting\": true}", admin, "x" + csrf).statusCode())
        .isEqualTo(403);
    HttpResponse<String> incr = command(base, "incr", "{\"name\": \"web\", \"waiting\": true}", admin, csrf);
    assertThat(incr.statusCode()).isEqualTo(200);
    assertThat(incr.body()).contains("\"numprocesses\": 2");

    // a viewer reads but cannot act: refused by the server, not only hidden
    String viewer = cookieOf(login(base, "bob", "s3cret-viewer"));
    String viewerCsrf = csrf(base, viewer);
    assertThat(command(base, "status", "", viewer, viewerCsrf).statusCode()).isEqualTo(200);
    HttpResponse<String> refused = command(base, "stop", "{\"name\": \"web\"}", viewer, viewerCsrf);
    assertThat(refused.statusCode()).isEqualTo(403);
    assertThat(refused.body()).contains("read-only");
    assertThat(d.children()).hasSize(2);

    // a script's bearer token needs no CSRF token; a wrong one is nobody
    assertThat(send(HttpRequest.newBuilder(URI.create(base + "/api/status")).header("Authorization", "Bearer " + token)
        .POST(HttpRequest.BodyPublishers.noBody())).statusCode()).isEqualTo(200);
    assertThat(send(HttpRequest.newBuilder(URI.create(base + "/api/status")).header("Authorization", "Bearer x" + token)
        .POST(HttpRequest.BodyPublishers.noBody())).statusCode()).isEqualTo(401);

    // logged out, the cookie is worth nothing
    assertThat(send(HttpRequest.newBuilder(URI.create(base + "/logout")).header("Cookie", admin)
        .header("X-CSRF-Token", csrf).POST(HttpRequest.BodyPublishers.noBody())).statusCode()).isEqualTo(204);
    assertThat(command(base, "status", "", admin, csrf).statusCode()).isEqualTo(401);
  }

  private HttpResponse<String> login(String base, String user, String password) throws Exception {
    return send(HttpRequest.newBuilder(URI.create(base + "/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("user=" + user + "&password=" + password)));
  }

  private static String cookieOf(HttpResponse<String> login) {
    assertThat(login.statusCode()).isEqualTo(303);
    assertThat(login.headers().firstValue("location")).hasValue("/");
    String c = login.headers().firstValue("set-cookie").orElseThrow();
    assertThat(c).contains("HttpOnly").contains("SameSite=Strict").startsWith("jcircus_session=");
    return c.substring(0, c.indexOf(';'));
  }

  private String csrf(String base, String cookie) throws Exception {
    String body = send(HttpRequest.newBuilder(URI.create(base + "/api/session")).header("Cookie", cookie).GET()).body();
    Matcher m = Pattern.compile("\"csrf\": \"([0-9a-f]+)\"").matcher(body);
    assertThat(m.find()).as(body).isTrue();
    return m.group(1);
  }

  private HttpResponse<String> command(String base, String command, String body, String cookie, String csrf)
      throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/api/" + command)).header("Cookie", cookie)
        .POST(HttpRequest.BodyPublishers.ofString(body));
    if (csrf != null) {
      b.header("X-CSRF-Token", csrf);
    }
    return send(b);
  }

  @Test
  void tlsWithACertificateAndSecureCookies() throws Exception {
    Daemon d = start("[watcher:web]\ncmd = sleep 3600\n");
    java.nio.file.Path cert = dir.resolve("cert.pem");
    java.nio.file.Path key = dir.resolve("key.pem");
    Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key.toString(), "-out",
        cert.toString()).redirectErrorStream(true).start();
    String made = new String(openssl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(openssl.waitFor()).as(made).isZero();
    String hash = helper("pw\n", "--hash-password");
    java.nio.file.Path accounts = dir.resolve("accounts");
    java.nio.file.Files.writeString(accounts, "alice admin " + hash + "\n");
    httpd = Httpd.start(d.endpoint(), "--users", accounts.toString(), "--tls-cert", cert.toString(), "--tls-key",
        key.toString());
    assertThat(httpd.base).startsWith("https://");

    java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    try (var in = java.nio.file.Files.newInputStream(cert)) {
      trust.setCertificateEntry("console", java.security.cert.CertificateFactory.getInstance("X.509")
          .generateCertificate(in));
    }
    javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
        javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), null);
    HttpClient https = HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> login = https.send(HttpRequest.newBuilder(URI.create(httpd.base + "/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .POST(HttpRequest.BodyPublishers.ofString("user=alice&password=pw")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(login.statusCode()).isEqualTo(303);
    assertThat(login.headers().firstValue("set-cookie")).hasValueSatisfying(c -> assertThat(c).contains("; Secure")
        .contains("HttpOnly"));
    // plain HTTP on the TLS port gets nothing it can use
    assertThat(quietly(httpd.base.replace("https://", "http://"), "status", "")).doesNotContain("\"status\"");
  }

  @Test
  void refusesToListenBeyondLoopbackWithoutAuthentication() throws Exception {
    Process p = new ProcessBuilder(Httpd.command("--host", "0.0.0.0", "--port", "0")).redirectErrorStream(true)
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isEqualTo(2);
    assertThat(out).contains("refusing to listen on 0.0.0.0").contains("loopback");
  }
}
