package io.jcircus.server.stream;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAdjusters;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Circus's TimedRotatingFileStream (Python's TimedRotatingFileHandler): {@code rotate_when} S, M, H, D,
 * MIDNIGHT or W0–W6 (any case, unlike Circus), {@code rotate_interval}, {@code backup_count}, {@code utc}.
 * The rotated file is named after the start of the period it covers.
 */
public final class TimedRotatingFileStream extends FileStream {
  private final String when;
  private final long intervalSeconds;
  private final int keep;
  private final ZoneId zone;
  private final DateTimeFormatter suffix;
  private final String suffixRegex;
  private long rolloverAt;

  public TimedRotatingFileStream(
      Path path, String when, int interval, int backupCount, boolean utc, LinePrefixer prefixer) throws IOException {
    super(path, 0, 0, prefixer, false);
    this.when = when.toUpperCase(Locale.ROOT);
    this.keep = backupCount;
    this.zone = utc ? ZoneOffset.UTC : ZoneId.systemDefault();
    int iv = Math.max(1, interval);
    String fmt;
    switch (this.when) {
      case "S": intervalSeconds = iv; fmt = "uuuu-MM-dd_HH-mm-ss"; suffixRegex = "\\d{4}-\\d{2}-\\d{2}_\\d{2}-\\d{2}-\\d{2}"; break;
      case "M": intervalSeconds = 60L * iv; fmt = "uuuu-MM-dd_HH-mm"; suffixRegex = "\\d{4}-\\d{2}-\\d{2}_\\d{2}-\\d{2}"; break;
      case "H": intervalSeconds = 3600L * iv; fmt = "uuuu-MM-dd_HH"; suffixRegex = "\\d{4}-\\d{2}-\\d{2}_\\d{2}"; break;
      case "D": case "MIDNIGHT": intervalSeconds = 86400L * iv; fmt = "uuuu-MM-dd"; suffixRegex = "\\d{4}-\\d{2}-\\d{2}"; break;
      default:
        if (!this.when.matches("W[0-6]")) {
          throw new IllegalArgumentException("rotate_when: expected S, M, H, D, MIDNIGHT or W0-W6; got " + when);
        }
        intervalSeconds = 7L * 86400;
        fmt = "uuuu-MM-dd";
        suffixRegex = "\\d{4}-\\d{2}-\\d{2}";
    }
    this.suffix = DateTimeFormatter.ofPattern(fmt, Locale.ROOT).withZone(zone);
    long mtime = Files.getLastModifiedTime(path).toMillis() / 1000;
    rolloverAt = computeRollover(Math.min(mtime, Instant.now().getEpochSecond()));
  }

  private long computeRollover(long t) {
    if (when.equals("MIDNIGHT") || when.startsWith("W")) {
      ZonedDateTime now = Instant.ofEpochSecond(t).atZone(zone);
      LocalDate next = now.toLocalDate().plusDays(1);
      if (when.startsWith("W")) {
        DayOfWeek day = DayOfWeek.of(when.charAt(1) - '0' + 1); // W0 = Monday, as in Python
        next = now.toLocalDate().with(TemporalAdjusters.next(day));
      }
      return next.atStartOfDay(zone).toEpochSecond();
    }
    return t + intervalSeconds;
  }

  @Override
  protected void beforeWrite() throws IOException {
    long now = Instant.now().getEpochSecond();
    if (now < rolloverAt) {
      return;
    }
    ch.close();
    long periodStart = when.equals("MIDNIGHT") || when.startsWith("W")
        ? Instant.ofEpochSecond(rolloverAt).atZone(zone).minus(when.startsWith("W") ? 7 : 1, ChronoUnit.DAYS).toEpochSecond()
        : rolloverAt - intervalSeconds;
    Path dest = Path.of(path + "." + suffix.format(Instant.ofEpochSecond(periodStart)));
    if (Files.exists(path)) {
      Files.move(path, dest, StandardCopyOption.REPLACE_EXISTING);
    }
    if (keep > 0) {
      List<Path> old = new ArrayList<>();
      String prefix = path.getFileName() + ".";
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(path.toAbsolutePath().getParent())) {
        for (Path p : ds) {
          String n = p.getFileName().toString();
          if (n.startsWith(prefix) && n.substring(prefix.length()).matches(suffixRegex)) {
            old.add(p);
          }
        }
      }
      old.sort(null);
      for (int i = 0; i < old.size() - keep; i++) {
        Files.deleteIfExists(old.get(i));
      }
    }
    open();
    long next = computeRollover(now);
    while (next <= now) {
      next += intervalSeconds;
    }
    rolloverAt = next;
  }
}
