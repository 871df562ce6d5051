package io.jcircus.protocol;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads ini files the way Circus's {@code StrictConfigParser} does: {@code #}/{@code ;}/{@code rem} comment
 * lines, inline {@code ;} comments after whitespace, {@code =} or {@code :} as delimiter (whichever comes
 * first), indented continuation lines joined with a newline, {@code ""} meaning empty, case-sensitive keys,
 * the first of duplicate keys winning and repeated sections merging. Unlike Python's parser, every value
 * remembers its file and line so errors can point at it.
 */
public final class IniFile {

  /** One {@code key = value} with where it came from. */
  public record Entry(String key, String value, Path file, int line) {}

  /** A section, merged over every file and header that named it. */
  public static final class Section {
    private final String name;
    private final Path file;
    private final int line;
    private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>();

    Section(String name, Path file, int line) {
      this.name = name;
      this.file = file;
      this.line = line;
    }

    /** A section made of {@code values} rather than read from a file ({@code add}); every entry is at line 0. */
    public static Section of(String name, Path source, Map<String, String> values) {
      Section s = new Section(name, source, 0);
      for (Map.Entry<String, String> e : values.entrySet()) {
        s.entries.put(e.getKey(), new Entry(e.getKey(), e.getValue(), source, 0));
      }
      return s;
    }

    public String name() {
      return name;
    }

    public Path file() {
      return file;
    }

    public int line() {
      return line;
    }

    public Entry get(String key) {
      return entries.get(key);
    }

    public Collection<Entry> entries() {
      return entries.values();
    }

    public Map<String, Entry> asMap() {
      return entries;
    }
  }

  private final LinkedHashMap<String, Section> sections = new LinkedHashMap<>();
  private final List<Path> files = new ArrayList<>();

  public Collection<Section> sections() {
    return sections.values();
  }

  public Section section(String name) {
    return sections.get(name);
  }

  public List<Path> files() {
    return files;
  }

  /** Parses {@code file} and merges it in. */
  public void read(Path file) throws ConfigException {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (java.nio.charset.MalformedInputException e) {
      throw new ConfigException(file, "not valid UTF-8");
    } catch (IOException e) {
      throw new ConfigException(file, "cannot read: " + e);
    }
    files.add(file);
    parse(file, lines);
  }

  /** Parses text (for tests and for configs that do not live in a file). */
  public void read(Path name, String text) throws ConfigException {
    files.add(name);
    parse(name, List.of(text.split("\n", -1)));
  }

  private void parse(Path file, List<String> lines) throws ConfigException {
    Section current = null;
    String curKey = null; // key that continuation lines extend
    int curLine = 0;
    StringBuilder curValue = null;
    boolean curIgnored = false; // a duplicate key: parse its continuation lines but drop them

    for (int i = 0; i < lines.size(); i++) {
      int lineNo = i + 1;
      String raw = lines.get(i);
      if (raw.endsWith("\r")) {
        raw = raw.substring(0, raw.length() - 1);
      }
      String stripped = raw.strip();
      if (stripped.isEmpty()) {
        continue;
      }
      if (isCommentLine(stripped)) {
        continue;
      }
      boolean indented = Character.isWhitespace(raw.charAt(0));
      String content = stripInlineComment(stripped);
      if (indented && curKey != null) {
        if (!curIgnored && !content.isEmpty()) {
          if (curValue.length() > 0) {
            curValue.append('\n');
          }
          curValue.append(content);
        }
        continue;
      }
      // A new logical line ends any value being continued.
      if (curKey != null) {
        store(current, curKey, curValue, file, curLine, curIgnored);
        curKey = null;
      }
      if (content.startsWith("[")) {
        int close = content.indexOf(']');
        if (close < 0 || close != content.length() - 1) {
          throw new ConfigException(file, lineNo, null, null, "malformed section header: " + raw.strip());
        }
        String name = content.substring(1, close).strip();
        if (name.isEmpty()) {
          throw new ConfigException(file, lineNo, null, null, "empty section name");
        }
        current = sections.computeIfAbsent(name, n -> new Section(n, file, lineNo));
        continue;
      }
      if (current == null) {
        throw new ConfigException(
            file, lineNo, null, null, "key outside any section (expected a [section] header first): " + content);
      }
      int eq = content.indexOf('=');
      int colon = content.indexOf(':');
      int d = eq < 0 ? colon : colon < 0 ? eq : Math.min(eq, colon);
      if (d <= 0) {
        throw new ConfigException(
            file, lineNo, current.name, null, "expected 'key = value', got: " + content);
      }
      curKey = content.substring(0, d).strip();
      curLine = lineNo;
      curValue = new StringBuilder(content.substring(d + 1).strip());
      curIgnored = current.entries.containsKey(curKey);
    }
    if (curKey != null) {
      store(current, curKey, curValue, file, curLine, curIgnored);
    }
  }

  private static void store(Section s, String key, StringBuilder value, Path file, int line, boolean ignored) {
    if (ignored) {
      return; // duplicate key: the first one wins, as in Circus
    }
    String v = value.toString();
    if (v.equals("\"\"")) {
      v = "";
    }
    s.entries.put(key, new Entry(key, v, file, line));
  }

  private static boolean isCommentLine(String s) {
    if (s.startsWith("#") || s.startsWith(";")) {
      return true;
    }
    String lower = s.toLowerCase(Locale.ROOT);
    return lower.equals("rem") || lower.startsWith("rem ") || lower.startsWith("rem\t");
  }

  /** Inline comments start with ';' preceded by whitespace, as in Python's inline_comment_prefixes. */
  private static String stripInlineComment(String s) {
    for (int i = 1; i < s.length(); i++) {
      if (s.charAt(i) == ';' && Character.isWhitespace(s.charAt(i - 1))) {
        return s.substring(0, i).strip();
      }
    }
    return s;
  }
}
