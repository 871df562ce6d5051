package io.jcircus.server.stream;

import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.util.Locale;

/** Python strftime patterns (as used by Circus's {@code time_format}) as a {@link DateTimeFormatter}. */
final class TimeFormat {
  private TimeFormat() {}

  static DateTimeFormatter strftime(String fmt, ZoneId zone) {
    DateTimeFormatterBuilder b = new DateTimeFormatterBuilder();
    StringBuilder lit = new StringBuilder();
    for (int i = 0; i < fmt.length(); i++) {
      char c = fmt.charAt(i);
      if (c != '%' || i + 1 >= fmt.length()) {
        lit.append(c);
        continue;
      }
      char d = fmt.charAt(++i);
      String p;
      switch (d) {
        case 'Y': p = "uuuu"; break;
        case 'y': p = "uu"; break;
        case 'm': p = "MM"; break;
        case 'd': p = "dd"; break;
        case 'H': p = "HH"; break;
        case 'I': p = "hh"; break;
        case 'M': p = "mm"; break;
        case 'S': p = "ss"; break;
        case 'f': p = "SSSSSS"; break;
        case 'p': p = "a"; break;
        case 'b': p = "MMM"; break;
        case 'B': p = "MMMM"; break;
        case 'a': p = "EEE"; break;
        case 'A': p = "EEEE"; break;
        case 'j': p = "DDD"; break;
        case 'z': p = "xx"; break;
        case 'Z': p = "zzz"; break;
        case '%': p = null; lit.append('%'); break;
        default: p = null; lit.append('%').append(d);
      }
      if (p != null) {
        if (lit.length() > 0) {
          b.appendLiteral(lit.toString());
          lit.setLength(0);
        }
        b.appendPattern(p);
      }
    }
    if (lit.length() > 0) {
      b.appendLiteral(lit.toString());
    }
    return b.toFormatter(Locale.ROOT).withZone(zone);
  }
}
