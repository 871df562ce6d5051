package io.jcircus.protocol;

/** The {@code errno} of a Circus error reply (circus/commands/errors.py). */
public final class Errno {
  private Errno() {}

  public static final int INVALID_JSON = 1;
  public static final int UNKNOWN_COMMAND = 2;
  public static final int MESSAGE_ERROR = 3;
  public static final int OS_ERROR = 4;
  public static final int COMMAND_ERROR = 5;
  public static final int BAD_MSG_DATA_ERROR = 6;
}
