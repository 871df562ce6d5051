package io.jcircus.protocol;

/**
 * The layout of circusd's output ring file, shared by its writer (circusd) and its readers ({@code circusctl tail
 * --follow}). Little-endian: a 64-byte header {@code [magic u64][capacity u64][head u64][token u64]…}, then
 * {@code capacity} bytes of records. {@code head} counts every byte ever written (records and wrap padding); a
 * record starts at {@code position % capacity} and never straddles the end: where one would, a wrap marker
 * ({@code len = -1}) fills the rest. A record is {@code [len i32][pid i32][seq i64][pseq i64][time f64]
 * [lines i32][bytes i32][stream u8][7 pad]} and its bytes, padded to 8 ({@code len} counts it all).
 */
public final class RingLayout {
  private RingLayout() {}

  /** "jcircus1". */
  public static final long MAGIC = 0x31737563726963_6AL;
  public static final int HEADER = 64;
  public static final int HEAD_OFFSET = 16;
  public static final int TOKEN_OFFSET = 24;
  public static final int RECORD_HEADER = 48;
  /** The {@code len} of a wrap marker. */
  public static final int WRAP = -1;
}
