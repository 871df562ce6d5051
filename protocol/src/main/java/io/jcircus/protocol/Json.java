package io.jcircus.protocol;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.PrettyPrinter;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The JSON Circus speaks, through Jackson's streaming parser and generator: parsed into maps (insertion-ordered),
 * lists, strings, longs, doubles, booleans and null; written the way Python's {@code json.dumps} writes it
 * ({@code ", "} and {@code ": "} separators, every character outside space..~ as a lower-case {@code \\uxxxx},
 * floats as Python's repr: {@link PyFloat}), so replies are byte for byte Circus's. One codec for circusd, its
 * clients and the tests.
 */
public final class Json {
  private Json() {}

  /** Nesting deeper than this is refused (Python's own limit is about 1000; no Circus message nests past 5). */
  static final int MAX_DEPTH = 200;

  private static final JsonFactory FACTORY = new com.fasterxml.jackson.core.JsonFactoryBuilder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
      .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS) // Python writes NaN and Infinity
      .enable(JsonWriteFeature.ESCAPE_NON_ASCII) // json.dumps' ensure_ascii
      .disable(JsonWriteFeature.WRITE_HEX_UPPER_CASE)
      .characterEscapes(new PythonEscapes())
      .build();

  /** @throws IllegalArgumentException if {@code text} is not exactly one JSON value */
  public static Object parse(String text) {
    try (JsonParser p = FACTORY.createParser(text)) {
      if (p.nextToken() == null) {
        throw new IllegalArgumentException("unexpected end");
      }
      Object v = value(p);
      if (p.nextToken() != null) {
        throw new IllegalArgumentException("trailing characters at offset " + p.currentTokenLocation().getCharOffset());
      }
      return v;
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) { // malformed, too deep, too long
      throw new IllegalArgumentException(e.getOriginalMessage()
          + (e.getLocation() == null ? "" : " at offset " + e.getLocation().getCharOffset()), e);
    } catch (IOException e) {
      throw new IllegalArgumentException(e.toString(), e);
    }
  }

  private static Object value(JsonParser p) throws IOException {
    switch (p.currentToken()) {
      case START_OBJECT: {
        Map<String, Object> m = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String k = p.currentName();
          p.nextToken();
          m.put(k, value(p)); // a repeated key: the last wins, as in Python
        }
        return m;
      }
      case START_ARRAY: {
        List<Object> l = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          l.add(value(p));
        }
        return l;
      }
      case VALUE_STRING:
        return p.getText();
      case VALUE_NUMBER_INT:
        if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
          return p.getBigIntegerValue().doubleValue(); // past a long: as a double, as before
        }
        return p.getLongValue();
      case VALUE_NUMBER_FLOAT:
        return p.getDoubleValue();
      case VALUE_TRUE:
        return Boolean.TRUE;
      case VALUE_FALSE:
        return Boolean.FALSE;
      case VALUE_NULL:
        return null;
      default:
        throw new IllegalArgumentException("unexpected " + p.currentToken());
    }
  }

  // ------------------------------------------------------------------ writing

  /** As {@code json.dumps(v)}. */
  public static String write(Object v) {
    return generate(v, new PythonSeparators(false), false);
  }

  /** As {@code json.dumps(v, indent=2, sort_keys=True)}: what {@code circusctl --json --prettify} prints. */
  public static String pretty(Object v) {
    return generate(v, new PythonSeparators(true), true);
  }

  private static String generate(Object v, PrettyPrinter pp, boolean sortKeys) {
    StringWriter out = new StringWriter();
    try (JsonGenerator g = FACTORY.createGenerator(out)) {
      g.setPrettyPrinter(pp);
      write(g, v, sortKeys);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a StringWriter does not fail
    }
    return out.toString();
  }

  private static void write(JsonGenerator g, Object v, boolean sortKeys) throws IOException {
    if (v == null) {
      g.writeNull();
    } else if (v instanceof String s) {
      g.writeString(s);
    } else if (v instanceof Boolean b) {
      g.writeBoolean(b);
    } else if (v instanceof Double || v instanceof Float) {
      g.writeNumber(PyFloat.repr(((Number) v).doubleValue()));
    } else if (v instanceof BigInteger n) {
      g.writeNumber(n);
    } else if (v instanceof Number n) {
      g.writeNumber(n.longValue());
    } else if (v instanceof Map<?, ?> m) {
      g.writeStartObject();
      Map<?, ?> entries = m;
      if (sortKeys) {
        TreeMap<String, Object> sorted = new TreeMap<>();
        m.forEach((k, x) -> sorted.put(String.valueOf(k), x));
        entries = sorted;
      }
      for (Map.Entry<?, ?> e : entries.entrySet()) {
        g.writeFieldName(String.valueOf(e.getKey()));
        write(g, e.getValue(), sortKeys);
      }
      g.writeEndObject();
    } else if (v instanceof Collection<?> c) {
      g.writeStartArray();
      for (Object o : c) {
        write(g, o, sortKeys);
      }
      g.writeEndArray();
    } else {
      g.writeString(v.toString());
    }
  }

  /** Appends {@code d} as Python's json.dumps writes a float (for hand-assembled hot paths: the stats stream). */
  public static void number(StringBuilder sb, double d) {
    PyFloat.append(sb, d);
  }

  /** Appends {@code s} as Python's json.dumps writes a string (Jackson unless nothing needs escaping). */
  public static void quote(StringBuilder sb, String s) {
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
        sb.append(write(s));
        return;
      }
    }
    sb.append('"').append(s).append('"');
  }

  /** json.dumps' separators: {@code ", "} and {@code ": "}; with {@code indent}, newlines and two spaces a level. */
  private static final class PythonSeparators implements PrettyPrinter {
    private final boolean indent;
    private int depth;

    PythonSeparators(boolean indent) {
      this.indent = indent;
    }

    private void newline(JsonGenerator g) throws IOException {
      if (indent) {
        g.writeRaw('\n');
        for (int i = 0; i < depth; i++) {
          g.writeRaw("  ");
        }
      }
    }

    @Override
    public void writeRootValueSeparator(JsonGenerator g) {}

    @Override
    public void writeStartObject(JsonGenerator g) throws IOException {
      g.writeRaw('{');
      depth++;
    }

    @Override
    public void writeEndObject(JsonGenerator g, int entries) throws IOException {
      depth--;
      if (entries > 0) {
        newline(g);
      }
      g.writeRaw('}');
    }

    @Override
    public void writeObjectEntrySeparator(JsonGenerator g) throws IOException {
      g.writeRaw(indent ? "," : ", ");
      newline(g);
    }

    @Override
    public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
      g.writeRaw(": ");
    }

    @Override
    public void writeStartArray(JsonGenerator g) throws IOException {
      g.writeRaw('[');
      depth++;
    }

    @Override
    public void writeEndArray(JsonGenerator g, int values) throws IOException {
      depth--;
      if (values > 0) {
        newline(g);
      }
      g.writeRaw(']');
    }

    @Override
    public void writeArrayValueSeparator(JsonGenerator g) throws IOException {
      g.writeRaw(indent ? "," : ", ");
      newline(g);
    }

    @Override
    public void beforeArrayValues(JsonGenerator g) throws IOException {
      newline(g);
    }

    @Override
    public void beforeObjectEntries(JsonGenerator g) throws IOException {
      newline(g);
    }
  }

  /** json.dumps' ensure_ascii escapes DEL (0x7f) too; Jackson's non-ASCII escaping starts above it. */
  private static final class PythonEscapes extends CharacterEscapes {
    private final int[] ascii;

    PythonEscapes() {
      ascii = CharacterEscapes.standardAsciiEscapesForJSON();
      ascii[0x7f] = CharacterEscapes.ESCAPE_STANDARD;
    }

    @Override
    public int[] getEscapeCodesForAscii() {
      return ascii;
    }

    @Override
    public SerializableString getEscapeSequence(int ch) {
      return null; // the standard \\uxxxx
    }
  }
}
