package io.jcircus.fdpass;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run in another JVM by {@link FdPassTest}: fetches one descriptor and prints the {@code flags:} line of its
 * {@code /proc/self/fdinfo}, so the received descriptor's O_CLOEXEC is checked on the JDK that can set it.
 */
public final class FetchProbe {
  private FetchProbe() {}

  public static void main(String[] args) throws Exception {
    FdPassClient.Received r = FdPassClient.fetch(Path.of(args[0]), args[1]);
    String flags = Files.readAllLines(Path.of("/proc/self/fdinfo/" + r.fd())).stream()
        .filter(l -> l.startsWith("flags:")).findFirst().orElseThrow();
    System.out.println(flags);
  }
}
