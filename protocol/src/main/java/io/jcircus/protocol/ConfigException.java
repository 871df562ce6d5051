package io.jcircus.protocol;

import java.nio.file.Path;

/** A configuration error that names where it is: file, line, section and key. */
public final class ConfigException extends Exception {
  private final Path file;
  private final int line;
  private final String key;

  public ConfigException(Path file, int line, String section, String key, String message) {
    super(format(file, line, section, key, message));
    this.file = file;
    this.line = line;
    this.key = key;
  }

  public ConfigException(Path file, String message) {
    this(file, 0, null, null, message);
  }

  public static ConfigException at(IniFile.Entry e, String section, String message) {
    return new ConfigException(e.file(), e.line(), section, e.key(), message);
  }

  private static String format(Path file, int line, String section, String key, String message) {
    StringBuilder sb = new StringBuilder();
    sb.append(file == null ? "<config>" : file.toString());
    if (line > 0) {
      sb.append(':').append(line);
    }
    sb.append(": ");
    if (section != null) {
      sb.append('[').append(section).append("] ");
    }
    if (key != null) {
      sb.append(key).append(": ");
    }
    return sb.append(message).toString();
  }

  public Path file() {
    return file;
  }

  public int line() {
    return line;
  }

  public String key() {
    return key;
  }
}
