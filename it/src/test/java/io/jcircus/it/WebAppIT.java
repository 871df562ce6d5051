package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.jcircus.it.webapp.Declared;
import io.jcircus.it.webapp.Embedded;
import io.jcircus.it.webapp.GreetingApp;
import io.jcircus.it.webapp.Hello;
import io.jcircus.it.webapp.StartCheck;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;

/**
 * Users' own applications in chaussette-java: an existing web application (.war: web.xml, annotations, static
 * files) on the servlet backend, upgraded by a rolling reload under load, and a broken build refused by the
 * same reload; an HttpApp from {@code --classpath} on the netty backend; and the launcher's errors.
 */
class WebAppIT extends ItBase {
  private static final String CHAUSSETTE = Daemon.HOME.resolve("bin/chaussette-java").toString();

  /** A .war as a build makes one: the classes under WEB-INF/classes, a web.xml, a static page. */
  private static void war(Path war, String version, boolean fail) throws Exception {
    String webXml = String.join("\n",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<web-app xmlns=\"https://jakarta.ee/xml/ns/jakartaee\" version=\"6.0\">",
        "  <context-param><param-name>version</param-name><param-value>" + version + "</param-value></context-param>",
        "  <context-param><param-name>fail</param-name><param-value>" + fail + "</param-value></context-param>",
        "  <servlet><servlet-name>declared</servlet-name><servlet-class>" + Declared.class.getName() + "</servlet-class>",
        "    <init-param><param-name>greeting</param-name><param-value>hi</param-value></init-param></servlet>",
        "  <servlet-mapping><servlet-name>declared</servlet-name><url-pattern>/declared</url-pattern></servlet-mapping>",
        "</web-app>", "");
    Path tmp = war.resolveSibling(war.getFileName() + ".part");
    try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(tmp))) {
      entry(zip, "WEB-INF/web.xml", webXml.getBytes(StandardCharsets.UTF_8));
      entry(zip, "index.html", ("<h1>static page of " + version + "</h1>\n").getBytes(StandardCharsets.UTF_8));
      for (Class<?> c : List.of(Hello.class, Declared.class, StartCheck.class)) {
        entry(zip, "WEB-INF/classes/" + c.getName().replace('.', '/') + ".class", classBytes(c));
      }
    }
    // replaced as a deployment does it, in one rename: a worker starting meanwhile reads one build or the other
    Files.move(tmp, war, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void entry(ZipOutputStream zip, String name, byte[] bytes) throws IOException {
    zip.putNextEntry(new ZipEntry(name));
    zip.write(bytes);
    zip.closeEntry();
  }

  private static byte[] classBytes(Class<?> c) throws IOException {
    try (var in = c.getResourceAsStream("/" + c.getName().replace('.', '/') + ".class")) {
      return in.readAllBytes();
    }
  }

  /** GET path over a new connection: the status line's code and the body. */
  private static String[] get(int port, String path) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      String resp = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      int body = resp.indexOf("\r\n\r\n");
      return new String[] {resp.substring(9, 12), body < 0 ? "" : resp.substring(body + 4).strip()};
    }
  }

  /** The unpacked copies of the .war in {@code tmp}, by the pid in their name. */
  private static Set<Long> unpacked(Path tmp) throws IOException {
    Set<Long> pids = new HashSet<>();
    try (Stream<Path> s = Files.list(tmp)) {
      s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("chaussette-war-"))
          .forEach(n -> pids.add(Long.parseLong(n.split("-")[2])));
    }
    return pids;
  }

  private static Set<String> answers(int port, int n) throws IOException {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < n; i++) {
      seen.add(httpGet(port));
    }
    return seen;
  }

  @Test
  void anExistingWarServesUnchangedIsUpgradedByARollingReloadAndABrokenBuildIsRefused() throws Exception {
    Path war = dir.resolve("shop.war");
    war(war, "v1", false);
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[watcher:web]",
        "cmd = " + CHAUSSETTE + " --backend servlet --threads 1 --war " + war + " fd://$(circus.sockets.web)",
        "numprocesses = 2", "use_sockets = true", "copy_env = true", "graceful_timeout = 10",
        "readiness = notify", "ready_timeout = 30",
        "[env:web]", "CHAUSSETTE_OPTS = -Djava.io.tmpdir=" + tmp, ""));
    int port = d.port("web");
    await(Duration.ofSeconds(60), "2 workers ready", () -> d.logText().split("is ready after").length - 1 >= 2);
    List<Long> v1 = d.children();
    assertThat(v1).hasSize(2);

    // the application as its web.xml, its annotations and its static files make it
    String[] root = get(port, "/");
    assertThat(root[0]).isEqualTo("200");
    assertThat(root[1]).matches("hello from pid \\d+ v1");
    assertThat(get(port, "/declared")).containsExactly("200", "declared in web.xml, greeting hi, context");
    assertThat(get(port, "/index.html")).containsExactly("200", "<h1>static page of v1</h1>");
    assertThat(get(port, "/nothing-here")[0]).isEqualTo("404");
    assertThat(d.logText()).containsPattern("serving " + war + " on fd://\\d+ ");
    // each worker unpacked its own copy (into the java.io.tmpdir it was given)
    assertThat(unpacked(tmp)).containsExactlyInAnyOrderElementsOf(v1);

    // a new build, rolled out one worker at a time under load: nothing fails, and then only v2 answers
    war(war, "v2", false);
    List<Long> v2;
    try (Load load = new Load(port, 4)) {
      load.awaitMore(100, Duration.ofSeconds(30));
      circusctlAt(d.endpoint(), "reload", "web", "--sequential", "--waiting");
      load.awaitMore(100, Duration.ofSeconds(30));
      load.close();
      assertThat(load.failed.get()).as("rolling upgrade under load: " + load).isZero();
      System.out.println("war upgrade under load: " + load);
    }
    v2 = d.children();
    assertThat(v2).hasSize(2).doesNotContainAnyElementsOf(v1);
    // what the application wrote as it shut down, after its worker closed the socket, reached the log
    for (long p : v1) {
      assertThat(d.logText()).contains("web application v1 stopped in pid " + p);
    }
    Set<String> expected = new HashSet<>();
    v2.forEach(p -> expected.add("hello from pid " + p + " v2"));
    assertThat(answers(port, 20)).isSubsetOf(expected).isNotEmpty();
    await(Duration.ofSeconds(15), "the old workers' copies removed", () -> {
      try {
        return unpacked(tmp).equals(new HashSet<>(v2));
      } catch (IOException e) {
        return false;
      }
    });

    // a build whose start-up fails: the first new worker exits before READY=1, the reload is refused at once
    // (not retried with backoff until someone notices), and the v2 workers never stop serving
    war(war, "v3", true);
    try (Load load = new Load(port, 4)) {
      load.awaitMore(50, Duration.ofSeconds(30));
      List<String> cmd = List.of(Daemon.HOME.resolve("bin/circusctl").toString(), "--endpoint", d.endpoint(),
          "--timeout", "90", "reload", "web", "--sequential", "--waiting");
      long t0 = System.nanoTime();
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
      long ms = (System.nanoTime() - t0) / 1_000_000;
      assertThat(p.exitValue()).as(out).isNotZero();
      assertThat(out).contains("reload of 'web' abandoned").containsPattern("exited with code 1 before it reported READY=1");
      assertThat(ms).as("refused as soon as the new worker exited, not after ready_timeout (30 s)").isLessThan(20_000);
      load.awaitMore(50, Duration.ofSeconds(30));
      load.close();
      assertThat(load.failed.get()).as("a refused upgrade under load: " + load).isZero();
    }
    assertThat(d.logText()).contains("shop.war failed to start: java.lang.IllegalStateException: start-up check failed");
    assertThat(d.children()).containsExactlyInAnyOrderElementsOf(v2);
    assertThat(answers(port, 20)).isSubsetOf(expected);
    assertThat(unpacked(tmp)).as("the failed worker removed its copy").containsExactlyInAnyOrderElementsOf(v2);

    circusctlAt(d.endpoint(), "stop", "web", "--waiting");
    assertThat(unpacked(tmp)).as("every copy removed").isEmpty();
  }

  @Test
  void theServletBackendServesASocketHandedOverTheSystemdWay() throws Exception {
    // LISTEN_FDS from fd 3, by name: no fd 0, no stdin_socket
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[watcher:web]",
        "cmd = " + CHAUSSETTE + " --backend servlet --threads 1 systemd://web",
        "numprocesses = 1", "handoff = systemd", "copy_env = true", "readiness = notify", ""));
    await(Duration.ofSeconds(60), "the worker ready", () -> d.logText().contains("is ready after"));
    long pid = d.children().get(0);
    assertThat(httpGet(d.port("web"))).isEqualTo("hello from pid " + pid);
    assertThat(Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/3")).toString()).startsWith("socket:");
    assertThat(Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/0")).toString()).doesNotStartWith("socket:");
  }

  @Test
  void anHttpAppFromTheClasspathServesOnTheNettyBackend() throws Exception {
    // the user's jar in a lib/ directory, named with java's DIR/* syntax
    Path lib = Files.createDirectories(dir.resolve("lib"));
    try (ZipOutputStream jar = new ZipOutputStream(Files.newOutputStream(lib.resolve("greeting.jar")))) {
      entry(jar, GreetingApp.class.getName().replace('.', '/') + ".class", classBytes(GreetingApp.class));
    }
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[watcher:web]",
        "cmd = " + CHAUSSETTE + " --threads 1 --classpath " + lib + "/* --app " + GreetingApp.class.getName()
            + " fd://$(circus.sockets.web)",
        "numprocesses = 2", "use_sockets = true", "copy_env = true", "readiness = notify", ""));
    int port = d.port("web");
    await(Duration.ofSeconds(60), "2 workers ready", () -> d.logText().split("is ready after").length - 1 >= 2);
    Set<String> seen = answers(port, 20);
    Set<String> expected = new HashSet<>();
    d.children().forEach(p -> expected.add("greeting from pid " + p
        + ", loaded by chaussette-app, context loader chaussette-app"));
    assertThat(seen).isSubsetOf(expected).isNotEmpty();
  }

  @Test
  void anApplicationEmbedsEitherBackendFromTheArtifact() throws Exception {
    // the application's classes next to the artifact's jar (whose manifest names its dependencies), run by java
    // itself with the one JVM option the artifact needs: no launcher
    Path classes = dir.resolve("app");
    Path pkg = Files.createDirectories(classes.resolve(Embedded.class.getPackageName().replace('.', '/')));
    for (Class<?> c : List.of(Embedded.class, Embedded.HelloServlet.class)) {
      Files.write(pkg.resolve(c.getName().substring(c.getPackageName().length() + 1) + ".class"), classBytes(c));
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java") + " --add-opens java.base/sun.nio.ch=ALL-UNNAMED"
        + " --add-opens java.base/java.io=ALL-UNNAMED -cp " + Daemon.HOME.resolve("chaussette-java/target/chaussette-java.jar")
        + ":" + classes + " " + Embedded.class.getName();
    Daemon d = start(String.join("\n",
        "[socket:n]", "host = 127.0.0.1", "port = 0",
        "[socket:s]", "host = 127.0.0.1", "port = 0",
        "[watcher:netty]", "cmd = " + java + " netty fd://$(circus.sockets.n)",
        "numprocesses = 2", "use_sockets = true", "readiness = notify",
        "[watcher:servlet]", "cmd = " + java + " servlet fd://$(circus.sockets.s)",
        "numprocesses = 2", "use_sockets = true", "readiness = notify", ""));
    await(Duration.ofSeconds(60), "4 workers ready", () -> d.logText().split("is ready after").length - 1 >= 4);
    for (String backend : new String[] {"netty", "servlet"}) {
      int port = d.port(backend.substring(0, 1));
      Set<String> seen = answers(port, 20);
      assertThat(seen).as(backend).isNotEmpty().allSatisfy(a -> assertThat(a).matches("hello from pid \\d+ \\(embedded "
          + backend + "\\)"));
      // and it drains as the launcher's workers do: a rolling reload under load fails nothing
      try (Load load = new Load(port, 4)) {
        load.awaitMore(100, Duration.ofSeconds(30));
        circusctlAt(d.endpoint(), "reload", backend, "--sequential", "--waiting");
        load.awaitMore(100, Duration.ofSeconds(30));
        load.close();
        assertThat(load.failed.get()).as(backend + " reload under load: " + load).isZero();
      }
    }
  }

  @Test
  void theLauncherNamesWhatIsWrongWithTheApplication() throws Exception {
    Path classes = dir.resolve("classes");
    Files.createDirectories(classes);
    String[][] cases = {
        {"--classpath", dir.resolve("missing.jar").toString(), "--app", "x.Y"},
        {"--classpath", classes.toString(), "--app", "x.Y"},
        {"--app", "x.Y"},
        {"--backend", "servlet", "--war", dir.resolve("missing.war").toString()},
        {"--war", dir.resolve("missing.war").toString()},
        {"--backend", "servlet", "--war", dir.toString(), "--app", "x.Y"},
        {"--backend", "servlet", "--war", classes.toString()},
        {"--threads", "many"},
    };
    String[] expected = {
        "chaussette-java: --classpath: " + dir.resolve("missing.jar") + ": no such jar or directory",
        "chaussette-java: --app x.Y: no such class on --classpath " + classes,
        "chaussette-java: --app x.Y: no such class (no --classpath given: only chaussette-java's own classes are seen)",
        "chaussette-java: --war " + dir.resolve("missing.war") + ": no such file or directory",
        "chaussette-java: --war needs --backend servlet",
        "chaussette-java: --war and --app are two ways to name the application: give one",
        "chaussette-java: --war " + classes + ": a directory with neither WEB-INF/ nor index.html is not a web application",
        "chaussette-java: --threads takes a number of event loops, 1 or more",
    };
    for (int i = 0; i < cases.length; i++) {
      List<String> cmd = new ArrayList<>(List.of(CHAUSSETTE));
      cmd.addAll(List.of(cases[i]));
      cmd.add("tcp://127.0.0.1:" + freePort());
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(out.lines().findFirst().orElse("")).as(String.join(" ", cases[i])).isEqualTo(expected[i]);
      assertThat(p.exitValue()).as(out).isEqualTo(2);
    }
  }
}
