package io.jcircus.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The README's recipe for servers that are not chaussette-java: embedded Tomcat with {@code useInheritedChannel}
 * on the socket circusd puts on fd 0 ({@code stdin_socket}), run as a circusd watcher, serving, and restarted
 * under load losing at most the connection each stopping Tomcat was accepting (Tomcat's own race, see below).
 */
class RecipesIT extends ItBase {
  @Test
  void tomcatServesTheSocketOnFdZeroAndRestartsWithoutAFailedRequest() throws Exception {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Daemon d = start(String.join("\n",
        "[socket:web]", "host = 127.0.0.1", "port = 0",
        "[watcher:tomcat]",
        "cmd = " + javaBin + " -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp " + System.getProperty("java.class.path")
            + " io.jcircus.it.recipes.TomcatInherited",
        "numprocesses = 2", "stdin_socket = web", "graceful_timeout = 15", ""));
    String endpoint = d.endpoint();
    await(Duration.ofSeconds(60), "2 Tomcat workers answering", () -> {
      try {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 30 && seen.size() < 2; i++) {
          seen.add(httpGet(d.port("web")));
        }
        return seen.size() == 2;
      } catch (Exception e) {
        return false;
      }
    });
    assertThat(d.children("TomcatInherited")).hasSize(2).allSatisfy(pid -> assertThat(
        java.nio.file.Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/0")).toString()).startsWith("socket:"));
    Set<Long> before = new HashSet<>(d.children("TomcatInherited"));
    try (Load load = new Load(d.port("web"), 4)) {
      load.awaitMore(200, Duration.ofSeconds(30));
      circusctlAt(endpoint, "restart", "tomcat", "--waiting");
      long servedAfter = load.ok.get();
      load.awaitMore(200, Duration.ofSeconds(60));
      load.close();
      // Tomcat's acceptor closes a connection it accepts after stop was called (the unlock connection it makes
      // to wake itself is just one more in the shared queue, so a client's may come first): at most the one
      // connection per stopping worker is reset; anything else (a refused connection, a 503, a cut response)
      // would be the recipe's failure
      assertThat(load.failed.get()).as("restart under load: " + load).isLessThanOrEqualTo(2);
      // (closed before the request arrived: an empty reply; after: a reset)
      assertThat(load.errors.keySet()).as(load.toString()).allSatisfy(e ->
          assertThat(e.contains("Connection reset") || e.contains("IOException: bad response:  at ")).as(e).isTrue());
      assertThat(load.ok.get()).isGreaterThan(servedAfter);
      System.out.println("tomcat restart: " + load);
    }
    Set<Long> now = new HashSet<>(d.children("TomcatInherited"));
    now.retainAll(before);
    assertThat(now).as("both Tomcat workers replaced").isEmpty();
  }
}
