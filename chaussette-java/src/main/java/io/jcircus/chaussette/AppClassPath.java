package io.jcircus.chaussette;

import java.io.File;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code --classpath}: where the application's classes are, for {@code --app} (both backends) and as extra
 * classes for a {@code --war}. The launcher runs {@code java -jar}, which ignores {@code -cp} and
 * {@code $CLASSPATH}, so the application gets a class loader of its own over the launcher's (Netty, Jetty and
 * the servlet API come from the launcher's, once).
 *
 * <p>The syntax is java's: entries separated by {@code :}, each a jar or a directory of classes, or
 * {@code DIR/*} for every jar in DIR. An entry that does not exist is an error naming it, not a class that
 * silently cannot be found later.
 */
final class AppClassPath {
  private final List<Path> entries;

  private AppClassPath(List<Path> entries) {
    this.entries = List.copyOf(entries);
  }

  static final AppClassPath NONE = new AppClassPath(List.of());

  /**
   * @throws IllegalArgumentException naming the first entry that is neither a jar, a directory nor a DIR/* of a
   *     directory
   */
  static AppClassPath parse(String spec) {
    List<Path> entries = new ArrayList<>();
    for (String entry : spec.split(File.pathSeparator, -1)) {
      if (entry.isEmpty()) {
        continue;
      }
      if (entry.equals("*") || entry.endsWith(File.separator + "*")) {
        Path dir = Path.of(entry.substring(0, entry.length() - 1)).toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) {
          throw new IllegalArgumentException("--classpath: " + entry + ": " + dir + " is not a directory");
        }
        List<Path> jars = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "*.{jar,JAR}")) {
          s.forEach(jars::add);
        } catch (IOException e) {
          throw new IllegalArgumentException("--classpath: " + entry + ": cannot list " + dir + ": " + e, e);
        }
        jars.sort(null); // java's own order is the directory's; a stable one is kinder to whoever reads a conflict
        entries.addAll(jars);
        continue;
      }
      Path p = Path.of(entry).toAbsolutePath().normalize();
      if (!Files.isDirectory(p) && !Files.isRegularFile(p)) {
        throw new IllegalArgumentException("--classpath: " + entry + ": no such jar or directory");
      }
      entries.add(p);
    }
    return new AppClassPath(entries);
  }

  boolean isEmpty() {
    return entries.isEmpty();
  }

  /** The entries, comma-separated, as Jetty's {@code WebAppContext.setExtraClasspath} takes them. */
  String joined() {
    List<String> s = new ArrayList<>();
    entries.forEach(p -> s.add(p.toString()));
    return String.join(",", s);
  }

  /** A loader over the entries, whose parent is the launcher's; the launcher's own when there are none. */
  ClassLoader loader() {
    ClassLoader parent = AppClassPath.class.getClassLoader();
    if (entries.isEmpty()) {
      return parent;
    }
    URL[] urls = new URL[entries.size()];
    for (int i = 0; i < urls.length; i++) {
      try {
        urls[i] = entries.get(i).toUri().toURL();
      } catch (MalformedURLException e) {
        throw new IllegalArgumentException("--classpath: " + entries.get(i) + ": " + e.getMessage(), e);
      }
    }
    return new URLClassLoader("chaussette-app", urls, parent);
  }

  /**
   * The application class {@code name}, loaded by {@code loader} and of type {@code type}, made with its public
   * no-argument constructor.
   *
   * @throws IllegalArgumentException saying what is wrong in words a user can act on
   */
  static <T> T instantiate(String name, Class<T> type, ClassLoader loader, AppClassPath where) {
    Class<?> c;
    try {
      c = Class.forName(name, true, loader);
    } catch (ClassNotFoundException e) {
      throw new IllegalArgumentException("--app " + name + ": no such class"
          + (where.isEmpty() ? " (no --classpath given: only chaussette-java's own classes are seen)"
              : " on --classpath " + where));
    } catch (LinkageError e) {
      throw new IllegalArgumentException("--app " + name + ": cannot load it: " + e, e);
    }
    if (!type.isAssignableFrom(c)) {
      throw new IllegalArgumentException("--app " + name + ": not a " + type.getName());
    }
    try {
      return type.cast(c.getDeclaredConstructor().newInstance());
    } catch (NoSuchMethodException e) {
      throw new IllegalArgumentException("--app " + name + ": has no public constructor without arguments");
    } catch (java.lang.reflect.InvocationTargetException e) {
      throw new IllegalArgumentException("--app " + name + ": its constructor failed: " + e.getCause(), e.getCause());
    } catch (ReflectiveOperationException e) {
      throw new IllegalArgumentException("--app " + name + ": cannot make one: " + e, e);
    }
  }

  @Override
  public String toString() {
    List<String> s = new ArrayList<>();
    entries.forEach(p -> s.add(p.toString()));
    return String.join(File.pathSeparator, s);
  }
}
