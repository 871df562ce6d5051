package io.jcircus.server.internal.posix;

import java.util.Locale;

/** Linux signal names and numbers, parsed the way Circus's {@code to_signum} does. */
public final class Signals {
  private static final String[] NAMES = {
    null, "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE",
    "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ",
    "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"
  };
  /** glibc's SIGRTMIN (the kernel's 32 and 33 are reserved by NPTL). */
  public static final int RTMIN = 34;
  public static final int RTMAX = 64;

  public static final int SIGHUP = 1;
  public static final int SIGINT = 2;
  public static final int SIGQUIT = 3;
  public static final int SIGKILL = 9;
  public static final int SIGTERM = 15;

  private Signals() {}

  /**
   * Accepts 15, "15", "TERM", "SIGTERM" (any case), "SIGRTMIN+2", "RTMAX-1".
   *
   * @throws IllegalArgumentException naming the bad value
   */
  public static int parse(String value) {
    String v = value.trim().toUpperCase(Locale.ROOT);
    if (v.isEmpty()) {
      throw new IllegalArgumentException("empty signal");
    }
    if (v.chars().allMatch(Character::isDigit)) {
      int n = Integer.parseInt(v);
      if (n < 1 || n > RTMAX) {
        throw new IllegalArgumentException("signal number out of range: " + value);
      }
      return n;
    }
    if (v.startsWith("SIG")) {
      v = v.substring(3);
    }
    int offset = 0;
    int plus = Math.max(v.indexOf('+'), v.indexOf('-'));
    if (plus > 0) {
      try {
        offset = Integer.parseInt(v.substring(plus));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("invalid signal: " + value);
      }
      v = v.substring(0, plus);
    }
    int base = -1;
    if (v.equals("RTMIN")) {
      base = RTMIN;
    } else if (v.equals("RTMAX")) {
      base = RTMAX;
    } else if (v.equals("IOT")) {
      base = 6;
    } else if (v.equals("POLL")) {
      base = 29;
    } else if (v.equals("CLD")) {
      base = 17;
    } else {
      for (int i = 1; i < NAMES.length; i++) {
        if (NAMES[i].equals(v)) {
          base = i;
          break;
        }
      }
    }
    int n = base + offset;
    if (base < 0 || n < 1 || n > RTMAX) {
      throw new IllegalArgumentException("invalid signal: " + value);
    }
    return n;
  }

  /** "SIGTERM" for 15, "SIGRTMIN+2" for 36. */
  public static String name(int signum) {
    if (signum > 0 && signum < NAMES.length) {
      return "SIG" + NAMES[signum];
    }
    if (signum >= RTMIN && signum <= RTMAX) {
      return signum == RTMIN ? "SIGRTMIN" : "SIGRTMIN+" + (signum - RTMIN);
    }
    return "signal " + signum;
  }
}
