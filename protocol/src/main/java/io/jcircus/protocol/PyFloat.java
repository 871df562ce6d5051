package io.jcircus.protocol;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * A double as Python's {@code repr} (and so {@code json.dumps}) writes it, which is what Circus's clients have
 * always received: the shortest digits that read back as the same double, in positional notation from 1e-4 up to
 * (not including) 1e16 ({@code 0.0001}, {@code 123.5}, {@code 100.0}) and in Python's exponent notation outside it
 * ({@code 1e-05}, {@code 1.5e+20}); {@code -0.0}, {@code NaN}, {@code Infinity}, {@code -Infinity} as Python's json
 * writes them.
 *
 * <p>Not {@code Double.toString}: on JDK 17 its digits are not always the shortest (JDK-4511638, fixed in 19),
 * and its notation differs (1.0E-5, 1.5E20).
 */
public final class PyFloat {
  private PyFloat() {}

  /** {@code d} as Python's repr. */
  public static String repr(double d) {
    StringBuilder sb = new StringBuilder(24);
    append(sb, d);
    return sb.toString();
  }

  /** Appends {@code d} as Python's repr. */
  public static void append(StringBuilder sb, double d) {
    if (Double.isNaN(d)) {
      sb.append("NaN");
      return;
    }
    if (Double.isInfinite(d)) {
      sb.append(d > 0 ? "Infinity" : "-Infinity");
      return;
    }
    if (d == 0) {
      sb.append(Double.doubleToRawLongBits(d) < 0 ? "-0.0" : "0.0");
      return;
    }
    if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      sb.append((long) d).append(".0"); // integral values: the common case, no search
      return;
    }
    if (Math.abs(d) >= 1e-3 && Math.abs(d) < 1e12) {
      // at most 3 decimals (rounded figures, times to the ms): digits by hand when they read back exactly
      long r = Math.round(d * 1000);
      if (r / 1000.0 == d) {
        if (r < 0) {
          sb.append('-');
          r = -r;
        }
        sb.append(r / 1000).append('.');
        int frac = (int) (r % 1000);
        int digits = frac % 100 == 0 ? 1 : frac % 10 == 0 ? 2 : 3;
        for (int k = 0, div = 100; k < digits; k++, div /= 10) {
          sb.append((char) ('0' + frac / div % 10));
        }
        return;
      }
    }
    general(sb, d);
  }

  /** The shortest round-tripping digits (nearest to {@code d} among them), then Python's layout. */
  /** The significant digits of a Double.toString result ("1.2345E-7" → 5, "100.0" → 1). */
  static int significantDigits(String t) {
    int end = t.indexOf('E');
    String m = end < 0 ? t : t.substring(0, end);
    int first = -1;
    int last = -1;
    for (int i = 0; i < m.length(); i++) {
      char c = m.charAt(i);
      if (c >= '1' && c <= '9') {
        if (first < 0) {
          first = i;
        }
        last = i;
      }
    }
    if (first < 0) {
      return 1;
    }
    int n = 0;
    for (int i = first; i <= last; i++) {
      if (Character.isDigit(m.charAt(i))) {
        n++;
      }
    }
    return Math.max(1, n);
  }

  private static void general(StringBuilder sb, double d) {
    BigDecimal exact = new BigDecimal(d);
    // Reading back is monotone in the number of digits (more digits are never farther from d), so the shortest
    // count is found by bisection, between 1 and the digits Double.toString used (which always read back; on
    // JDK 17 they are not always the fewest, JDK-4511638).
    int lo = 1;
    int hi = Math.min(17, significantDigits(Double.toString(d)));
    BigDecimal shortest = exact.round(new MathContext(hi, RoundingMode.HALF_EVEN));
    if (hi > 1) { // usually one digit fewer does not read back, and then the search is over
      BigDecimal fewer = exact.round(new MathContext(hi - 1, RoundingMode.HALF_EVEN));
      if (fewer.doubleValue() == d) {
        shortest = fewer;
        hi--;
      } else {
        lo = hi;
      }
    }
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      BigDecimal r = exact.round(new MathContext(mid, RoundingMode.HALF_EVEN));
      if (r.doubleValue() == d) {
        hi = mid;
        shortest = r;
      } else {
        lo = mid + 1;
      }
    }
    if (shortest.doubleValue() != d) { // not reached: hi digits always read back
      shortest = exact.round(new MathContext(17, RoundingMode.HALF_EVEN));
    }
    shortest = shortest.stripTrailingZeros();
    String digits = shortest.unscaledValue().abs().toString();
    int decpt = digits.length() - shortest.scale(); // d = 0.DIGITS × 10^decpt
    if (d < 0) {
      sb.append('-');
    }
    if (decpt > -4 && decpt <= 16) {
      if (decpt <= 0) {
        sb.append("0.");
        for (int i = 0; i < -decpt; i++) {
          sb.append('0');
        }
        sb.append(digits);
      } else if (decpt >= digits.length()) {
        sb.append(digits);
        for (int i = digits.length(); i < decpt; i++) {
          sb.append('0');
        }
        sb.append(".0");
      } else {
        sb.append(digits, 0, decpt).append('.').append(digits, decpt, digits.length());
      }
      return;
    }
    sb.append(digits.charAt(0));
    if (digits.length() > 1) {
      sb.append('.').append(digits, 1, digits.length());
    }
    int exp = decpt - 1;
    sb.append('e').append(exp < 0 ? '-' : '+');
    int a = Math.abs(exp);
    if (a < 10) {
      sb.append('0');
    }
    sb.append(a);
  }
}
