package io.jcircus.chaussette;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AppClassPathTest {
  @TempDir Path dir;

  @Test
  void javasSyntaxWithEveryJarOfADirectory() throws Exception {
    Path lib = Files.createDirectories(dir.resolve("lib"));
    for (String n : new String[] {"b.jar", "a.jar", "notes.txt"}) {
      if (n.endsWith(".jar")) {
        new JarOutputStream(Files.newOutputStream(lib.resolve(n))).close();
      } else {
        Files.writeString(lib.resolve(n), "not a jar");
      }
    }
    Path classes = Files.createDirectories(dir.resolve("classes"));
    AppClassPath cp = AppClassPath.parse(classes + "::" + lib + "/*");
    assertThat(cp.toString()).isEqualTo(classes + ":" + lib.resolve("a.jar") + ":" + lib.resolve("b.jar"));
    assertThat(cp.joined()).isEqualTo(classes + "," + lib.resolve("a.jar") + "," + lib.resolve("b.jar"));
    assertThat(cp.loader().getName()).isEqualTo("chaussette-app");
    assertThat(cp.loader().getParent()).isSameAs(AppClassPath.class.getClassLoader());
    assertThat(AppClassPath.NONE.loader()).isSameAs(AppClassPath.class.getClassLoader());
  }

  @Test
  void anEntryThatIsNotThereIsNamed() {
    assertThatThrownBy(() -> AppClassPath.parse(dir + ":" + dir.resolve("gone.jar")))
        .hasMessage("--classpath: " + dir.resolve("gone.jar") + ": no such jar or directory");
    assertThatThrownBy(() -> AppClassPath.parse(dir.resolve("nowhere") + "/*"))
        .hasMessage("--classpath: " + dir.resolve("nowhere") + "/*: " + dir.resolve("nowhere") + " is not a directory");
  }

  /** An app class whose constructor fails, for the error below. */
  public static final class Failing implements HttpApp {
    public Failing() {
      throw new IllegalStateException("no config");
    }

    @Override
    public io.netty.handler.codec.http.FullHttpResponse handle(io.netty.handler.codec.http.FullHttpRequest r) {
      return null;
    }
  }

  @Test
  void whatIsWrongWithTheAppClassIsSaid() {
    ClassLoader l = AppClassPath.NONE.loader();
    assertThat(AppClassPath.instantiate(DemoApp.class.getName(), HttpApp.class, l, AppClassPath.NONE))
        .isInstanceOf(DemoApp.class);
    assertThatThrownBy(() -> AppClassPath.instantiate("java.lang.String", HttpApp.class, l, AppClassPath.NONE))
        .hasMessage("--app java.lang.String: not a io.jcircus.chaussette.HttpApp");
    assertThatThrownBy(() -> AppClassPath.instantiate(Failing.class.getName(), HttpApp.class, l, AppClassPath.NONE))
        .hasMessage("--app " + Failing.class.getName() + ": its constructor failed: java.lang.IllegalStateException: no config");
    assertThatThrownBy(() -> AppClassPath.instantiate(Responses.class.getName(), HttpApp.class, l, AppClassPath.NONE))
        .hasMessageStartingWith("--app io.jcircus.chaussette.Responses: not a");
  }
}
